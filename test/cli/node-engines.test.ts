/**
 * Issue 16: `npm install` on the Node the README names prints no engine warning. Every installed
 * package that states a Node range must accept the lowest Node our own `engines` accepts, so a
 * dependency update that raises the floor fails here, not on a city's server.
 */
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');

interface Manifest {
  name?: string;
  version?: string;
  engines?: { node?: string };
}

const manifest = (dir: string): Manifest | undefined => {
  const file = join(dir, 'package.json');
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
};

/** Every package under node_modules (nested ones included), with its engines.node. */
function installed(dir: string, out: Manifest[] = []): Manifest[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.name.startsWith('@')) {
      installed(path, out);
      continue;
    }
    const m = manifest(path);
    if (m) out.push(m);
    if (existsSync(join(path, 'node_modules'))) installed(join(path, 'node_modules'), out);
  }
  return out;
}

describe('the supported Node range', () => {
  const ours = manifest(ROOT)?.engines?.node ?? '';
  const floor = semver.minVersion(ours)?.version ?? '';

  it('is stated in package.json and in the README', () => {
    expect(semver.validRange(ours), ours).not.toBeNull();
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const [major, minor] = floor.split('.');
    expect(readme).toContain(`Node.js ${major}.${minor}`);
  });

  it('is accepted by every installed package', () => {
    const refusing = installed(join(ROOT, 'node_modules'))
      .filter((m) => m.engines?.node && semver.validRange(m.engines.node))
      .filter((m) => !semver.satisfies(floor, m.engines!.node!, { includePrerelease: true }))
      .map((m) => `${m.name}@${m.version} needs Node ${m.engines!.node}`);
    expect(refusing, `the lowest Node we accept is ${floor}`).toEqual([]);
  });
});
