/**
 * SIGTERM (or SIGINT) while `citypivot serve` is still starting: the start is abandoned in order.
 * With memory:// nothing is left behind, neither the temporary directory nor a PostgreSQL (or
 * initdb, or watchdog) process; with a data directory the directory stays, and no process is left.
 * The command exits with status 1 and one line. (It used to die by the signal's default action,
 * leaving the temporary directory, and initdb running on.)
 *
 * Runs the compiled CLI (npm test builds it first), with a TMPDIR of its own.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = join(import.meta.dirname, '../../bin/citypivot.js');
const ARGS = ['serve', '--port', '0', '--no-mqtt', '--auth', 'none'];
const INTERRUPTED = /^citypivot: start interrupted by (SIGTERM|SIGINT)\b/;
let root = '';

beforeAll(async () => {
  if (!existsSync(join(import.meta.dirname, '../../dist/cli/main.js')))
    throw new Error('dist/ is missing: run npm run build');
  root = await mkdtemp(join(tmpdir(), 'citypivot-sigterm-test-'));
  await chmod(root, 0o755); // as root, PostgreSQL runs as "postgres", who must get through
});
afterAll(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

interface Serve {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function serve(db: string, tmp: string): Serve {
  const child = spawn(process.execPath, [BIN, ...ARGS, '--db', db], {
    env: { ...process.env, TMPDIR: tmp, CITYPIVOT_LOG_LEVEL: 'silent' },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** Polls `f` every few ms (a start moves on quickly) until it is true; fails if the CLI exits. */
async function until(
  s: Serve,
  f: () => boolean | Promise<boolean>,
  what: string,
  ms = 60_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await f())) {
    if (s.child.exitCode !== null || s.child.signalCode !== null)
      throw new Error(`the CLI ended before ${what}:\n${s.stdout()}${s.stderr()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${s.stdout()}`);
    await new Promise((r) => setTimeout(r, 3));
  }
}

/** Live processes whose command line mentions `path` (postgres -D, initdb -D, the watchdog). */
async function processesUsing(path: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir('/proc')).filter((d) => /^\d+$/.test(d))) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (stat === '' || state === 'Z' || state === 'X') continue;
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ');
    if (cmdline.includes(path)) found.push(`${pid}: ${cmdline}`);
  }
  return found;
}

async function noProcessesUsing(path: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const left = await processesUsing(path);
    // PostgreSQL and initdb are stopped before the CLI exits; only the watchdog, told to go, may
    // take a moment longer.
    expect(left.filter((p) => !p.includes('citypivot-pg-watchdog'))).toEqual([]);
    if (left.length === 0) return;
    if (Date.now() > deadline) expect(left).toEqual([]);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function interrupted(s: Serve, signal: NodeJS.Signals): Promise<void> {
  s.child.kill(signal);
  const exit = await s.exit;
  expect(exit, `${s.stdout()}${s.stderr()}`).toEqual({ code: 1, signal: null });
  const lines = s.stderr().trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(INTERRUPTED);
  expect(s.stdout()).not.toContain('CityPivot is ready');
}

const entries = (dir: string) => readdir(dir).catch(() => [] as string[]);
const memoryDir = async (tmp: string) => (await entries(tmp)).find((n) => n.startsWith('citypivot-memory-'));

/** The moments of a start a signal can come at, each found from outside the process. */
const MOMENTS: Record<string, (s: Serve, tmp: string) => boolean | Promise<boolean>> = {
  'its first line (it listens for signals from then on)': (s) => s.stdout().includes('starting with'),
  'the temporary directory appears': async (_s, tmp) => (await memoryDir(tmp)) !== undefined,
  'initdb runs': async (_s, tmp) => {
    const dir = await memoryDir(tmp);
    return dir !== undefined && existsSync(join(tmp, dir, 'postgres.initdb'));
  },
  'the server is starting': (s) => /PostgreSQL \d+: starting on/.test(s.stdout()),
  'the database is up and the hub still starting': (s) => s.stdout().includes('PostgreSQL: ready'),
};

describe('a signal while `serve --db memory://` starts', () => {
  it.each(Object.keys(MOMENTS))(
    'SIGTERM when %s: exit 1, one line, no directory and no process left',
    async (moment) => {
      const tmp = await mkdtemp(join(root, 'tmp-'));
      await chmod(tmp, 0o755);
      const s = serve('memory://', tmp);
      try {
        await until(s, () => MOMENTS[moment]!(s, tmp), moment);
        await interrupted(s, 'SIGTERM');
        expect(await entries(tmp)).toEqual([]);
        await noProcessesUsing(tmp);
      } finally {
        s.child.kill('SIGKILL');
      }
    },
    90_000,
  );

  it('SIGINT (Ctrl+C) while initdb runs: the same', async () => {
    const tmp = await mkdtemp(join(root, 'tmp-'));
    await chmod(tmp, 0o755);
    const s = serve('memory://', tmp);
    try {
      await until(s, () => MOMENTS['initdb runs']!(s, tmp), 'initdb');
      await interrupted(s, 'SIGINT');
      expect(await entries(tmp)).toEqual([]);
      await noProcessesUsing(tmp);
    } finally {
      s.child.kill('SIGKILL');
    }
  }, 90_000);
});

describe('a signal while `serve --db <directory>` starts', () => {
  const DIRECTORY_MOMENTS: Record<string, (s: Serve, dir: string) => boolean> = {
    'initdb runs': (_s, dir) => existsSync(join(dir, 'postgres.initdb')),
    'the server is starting': (s) => /PostgreSQL \d+: starting on/.test(s.stdout()),
  };
  it.each(Object.keys(DIRECTORY_MOMENTS))(
    'SIGTERM when %s: exit 1, the directory kept, no process left, and the next start works',
    async (moment) => {
      const tmp = await mkdtemp(join(root, 'tmp-'));
      await chmod(tmp, 0o755);
      const dir = join(tmp, 'data');
      const s = serve(dir, tmp);
      try {
        await until(s, () => DIRECTORY_MOMENTS[moment]!(s, dir), moment);
        await interrupted(s, 'SIGTERM');
        await noProcessesUsing(tmp);
        const kept = await entries(dir);
        expect(kept).toContain('postgres.password');
        expect(kept).not.toContain('hub.lock'); // released
        expect(kept).not.toContain('postgres.initdb'); // a half-made cluster is not kept
      } finally {
        s.child.kill('SIGKILL');
      }
      const again = serve(dir, tmp);
      try {
        await until(again, () => again.stdout().includes('CityPivot is ready'), 'the next start');
        expect(again.stdout()).not.toMatch(/took over|stale/);
        again.child.kill('SIGTERM');
        expect((await again.exit).code).toBe(0);
      } finally {
        again.child.kill('SIGKILL');
      }
      await noProcessesUsing(tmp);
    },
    120_000,
  );
});
