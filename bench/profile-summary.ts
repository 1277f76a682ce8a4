/**
 * `node bench/dist/bench/profile-summary.js FILE.cpuprofile…`: where a hub process spent its CPU
 * time (self time), by area (the hub's code by layer, fastify, pg, node internals, GC, idle) and the
 * top functions. Profiles come from `npm run bench -- --profile` (bench/results/profiles/).
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function area(url: string, fn: string): string {
  if (fn === '(idle)') return 'idle';
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)') return 'program (native, untracked)';
  const m = /\/(?:dist|src)\/(api|broker|core|server|store|cli)\//.exec(url);
  if (m && !url.includes('node_modules')) return `hub ${m[1]}/`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return pkg[1] as string;
  if (url.startsWith('node:') || url === '') return 'node internals';
  return url;
}

function summarize(path: string): void {
  const p = JSON.parse(readFileSync(path, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const areas = new Map<string, number>();
  const fns = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id);
    if (!n) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const a = area(url, functionName);
    areas.set(a, (areas.get(a) ?? 0) + us);
    const short = url.replace(/^.*\/(node_modules|dist|src)\//, '$1/');
    const key = `${functionName || '(anonymous)'} ${short}:${lineNumber + 1}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
  }
  const busy = total - (areas.get('idle') ?? 0);
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
  console.log(
    `\n${path}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (shares of busy time)`,
  );
  for (const [a, us] of [...areas]
    .filter(([a]) => a !== 'idle')
    .sort((x, y) => y[1] - x[1])
    .slice(0, 14))
    console.log(`  ${pct(us)}  ${a}`);
  console.log('  top functions:');
  for (const [f, us] of [...fns]
    .filter(([f]) => !f.startsWith('(idle)'))
    .sort((x, y) => y[1] - x[1])
    .slice(0, 15))
    console.log(`  ${pct(us)}  ${f}`);
}

for (const f of process.argv.slice(2)) summarize(f);
