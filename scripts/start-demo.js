#!/usr/bin/env node
// `npm start`: the demo city, building first only when the build is missing or older than the
// sources (npm install already built it through `prepare`), so that the minute a city engineer
// waits for the dashboard is not spent compiling twice.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outputs = ['dist/cli/main.js', 'web/dist/index.html'].map((p) => join(root, p));
const sources = ['src', 'web/src', 'web/index.html', 'package.json', 'tsconfig.build.json'].map((p) =>
  join(root, p),
);

/** The newest modification time under a file or directory. */
function newest(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const entry of readdirSync(path)) max = Math.max(max, newest(join(path, entry)));
  return max;
}

const built = outputs.every((p) => existsSync(p)) ? Math.min(...outputs.map((p) => statSync(p).mtimeMs)) : 0;
if (built === 0 || Math.max(...sources.map(newest)) > built) {
  console.log('Building CityPivot (the sources changed since the last build)...');
  const r = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
process.argv = [process.argv[0], join(root, 'bin/citypivot.js'), 'demo', ...process.argv.slice(2)];
await import('../bin/citypivot.js');
