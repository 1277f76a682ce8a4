/**
 * Issue 16: a start that cannot succeed stops within seconds with one clear message and exit code
 * 1, leaves nothing running, and changes nothing the next start would see differently: a port
 * another program holds is found before the data directory is touched or an account created; a
 * failure after the database is up (here: the city's MQTT broker unreachable) stops everything
 * that had started, without flooding the log, and creates no administrator.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = join(import.meta.dirname, '../../bin/citypivot.js');
let dir = '';
let taken: Server;
let takenPort = 0;

/**
 * Runs the CLI to its end (killed after `ms`): exit code, output, seconds. `until`: once the
 * output matches, SIGTERM (a hub that started is stopped in order, its PostgreSQL with it).
 */
function runToEnd(args: string[], env: Record<string, string> = {}, ms = 60_000, until?: RegExp) {
  return new Promise<{ code: number | null; out: string; seconds: number }>((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, CITYPIVOT_ADMIN_PASSWORD: '', ...env },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (until?.test(out)) {
        until = undefined; // once: a second SIGTERM while stopping ends the process at once
        child.kill('SIGTERM');
      }
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, out, seconds: (Date.now() - t0) / 1000 });
    });
  });
}

/** A port that was free a moment ago and that nobody listens on. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen({ port: 0, host: '127.0.0.1' }, resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

beforeAll(async () => {
  if (!existsSync(join(import.meta.dirname, '../../dist/cli/main.js')))
    throw new Error('dist/ is missing: run npm run build');
  dir = await mkdtemp(join(tmpdir(), 'citypivot-start-failures-'));
  await chmod(dir, 0o755); // as root, PostgreSQL runs as "postgres", who must enter it
  taken = createServer();
  await new Promise<void>((resolve) => taken.listen({ port: 0, host: '127.0.0.1' }, resolve));
  takenPort = (taken.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise((resolve) => taken?.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

describe('a port another program holds', () => {
  it.each([
    ['the HTTP port', (p: number) => ['--port', String(p), '--no-mqtt'], '--port'],
    ['the MQTT port', (p: number) => ['--port', '0', '--mqtt-port', String(p)], '--mqtt-port'],
  ])(
    '%s: exit 1 at once, one message naming the port and the flag, the data folder untouched',
    async (_what, flags, flag) => {
      const data = join(dir, `data-${flag.slice(2)}`);
      const r = await runToEnd(['serve', '--host', '127.0.0.1', '--db', data, ...flags(takenPort)]);
      expect(r.code, r.out).toBe(1);
      expect(r.out).toContain(`port ${takenPort}`);
      expect(r.out).toContain('in use');
      expect(r.out).toContain(flag);
      expect(r.out).not.toMatch(/Created the account/);
      expect(r.out.trim().split('\n').length, r.out).toBeLessThan(6);
      expect(r.seconds, r.out).toBeLessThan(30);
      // Nothing created: no cluster, no key file, so the next start is a first start again.
      expect(existsSync(data) ? await readdir(data) : []).toEqual([]);
    },
  );

  it('the demo says the same', async () => {
    const data = join(dir, 'data-demo');
    const r = await runToEnd(['demo', '--host', '127.0.0.1', '--db', data, '--port', String(takenPort)]);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toContain(`port ${takenPort}`);
    expect(r.out).toContain('--port');
    expect(existsSync(data) ? await readdir(data) : []).toEqual([]);
  });
});

describe('a failure once the database is up', () => {
  it('stops everything, quickly and quietly, and creates no administrator', async () => {
    const data = join(dir, 'data-mqtt-broker');
    // The broker is unreachable.
    const closed = await closedPort();
    const r = await runToEnd([
      'serve',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--db',
      data,
      '--mqtt',
      `mqtt://127.0.0.1:${closed}`,
    ]);
    expect(r.code, r.out).toBe(1);
    expect(r.seconds, r.out).toBeLessThan(45);
    expect(r.out).toContain(`cannot reach the MQTT broker at mqtt://127.0.0.1:${closed}`);
    expect(r.out).not.toMatch(/Created the account/);
    expect(r.out).not.toMatch(/pool after calling end|background error/);
    expect(r.out.trim().split('\n').length, r.out).toBeLessThan(15);
    // The embedded PostgreSQL it started is stopped.
    expect(existsSync(join(data, 'postgres', 'postmaster.pid')), r.out).toBe(false);
  });
});

describe('a first administrator password the policy refuses', () => {
  it('names the variable, the account and the rule, and creates no account', async () => {
    const data = join(dir, 'data-weak-admin');
    const env = { CITYPIVOT_ADMIN_PASSWORD: 'a-long-admin-passphrase' };
    const args = ['serve', '--host', '127.0.0.1', '--port', '0', '--no-mqtt', '--db', data];
    const r = await runToEnd(args, env);
    expect(r.code, r.out).toBe(1);
    expect(r.out).toContain('CITYPIVOT_ADMIN_PASSWORD');
    expect(r.out).toContain('"admin"');
    expect(r.out).toMatch(/at least 3 of lower-case letters, upper-case letters, digits/);
    // The next start with an acceptable password creates the account then.
    const ok = await runToEnd(
      [...args],
      { CITYPIVOT_ADMIN_PASSWORD: 'City-Hub-Passphrase-2026' },
      60_000,
      /CityPivot is ready/,
    );
    expect(ok.out).toContain('Created the account "admin" with the password from CITYPIVOT_ADMIN_PASSWORD');
    expect(ok.code, ok.out).toBe(0);
  });
});

describe('a database out of reach', () => {
  it('an unreachable PostgreSQL: exit 1 within seconds, naming it without its password', async () => {
    const closed = await closedPort();
    const url = `postgres://citypivot:S3cret-Db-Pass@127.0.0.1:${closed}/citypivot`;
    const r = await runToEnd(['serve', '--host', '127.0.0.1', '--port', '0', '--no-mqtt', '--db', url]);
    expect(r.code, r.out).toBe(1);
    expect(r.seconds, r.out).toBeLessThan(30);
    expect(r.out).toContain(`Cannot connect to postgres://citypivot@127.0.0.1:${closed}/citypivot`);
    expect(r.out).not.toContain('S3cret-Db-Pass');
    expect(r.out.trim().split('\n').length, r.out).toBeLessThan(5);
  });

  it('a data directory the database server cannot enter: exit 1, saying why and what to do', async () => {
    // As root, PostgreSQL runs as "postgres", who cannot enter a directory only root may; as
    // another user, nobody may enter a directory of mode 000.
    const root = process.getuid?.() === 0;
    const closedDir = join(dir, 'closed');
    await mkdir(closedDir, { mode: root ? 0o700 : 0o000 });
    await chmod(closedDir, root ? 0o700 : 0o000);
    try {
      const r = await runToEnd([
        'serve',
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--no-mqtt',
        '--db',
        join(closedDir, 'data'),
      ]);
      expect(r.code, r.out).toBe(1);
      expect(r.seconds, r.out).toBeLessThan(30);
      expect(r.out).toContain(closedDir);
      expect(r.out).toMatch(root ? /cannot enter/ : /permission denied|EACCES/i);
    } finally {
      await chmod(closedDir, 0o755);
    }
  });
});
