/**
 * Issue 16: administration commands against a data directory a running hub holds say exactly
 * what to do (the API call that does the same while it runs, or to stop the hub), exit 1 and
 * leave the hub running; on an external PostgreSQL they work while the hub runs.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

const BIN = join(import.meta.dirname, '../../bin/citypivot.js');
const ADMIN = 'Chief-Passw0rd!';
let dir = '';
let db: TestDatabase;

interface Running {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
}

function start(args: string[], env: Record<string, string> = {}): Running {
  // In the test's directory: a hub on an external database keeps its data key in ./citypivot-data.key.
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: dir,
    env: { ...process.env, CITYPIVOT_ADMIN_PASSWORD: ADMIN, ...env },
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

function runToEnd(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; out: string }>((resolve) => {
    const r = start(args, env);
    const killer = setTimeout(() => r.child.kill('SIGKILL'), 60_000);
    r.child.on('exit', (code) => {
      clearTimeout(killer);
      resolve({ code, out: r.output() });
    });
  });
}

async function ready(r: Running): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const url = /NGSI-LD API at (http:\/\/[^/\s]+)/.exec(r.output())?.[1];
    if (url) return url;
    if (r.child.exitCode !== null || Date.now() > deadline) throw new Error(`no ready line: ${r.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function stop(r: Running): Promise<number | null> {
  if (r.child.exitCode !== null) return r.child.exitCode;
  const exited = new Promise<number | null>((resolve) => r.child.once('exit', resolve));
  r.child.kill('SIGTERM');
  return exited;
}

beforeAll(async () => {
  if (!existsSync(join(import.meta.dirname, '../../dist/cli/main.js')))
    throw new Error('dist/ is missing: run npm run build');
  dir = await mkdtemp(join(tmpdir(), 'citypivot-admin-commands-'));
  await chmod(dir, 0o755); // as root, PostgreSQL runs as "postgres", who must enter it
  db = await createTestDatabase();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await db?.drop();
});

describe('on the data directory of a running hub', () => {
  it('each command names the API call that does the same, exits 1, and the hub keeps running', async () => {
    const data = join(dir, 'data');
    const hub = start(['serve', '--host', '127.0.0.1', '--port', '0', '--no-mqtt', '--db', data]);
    try {
      const url = await ready(hub);
      const cases: [string[], string][] = [
        [
          ['users', 'unlock', 'admin'],
          'POST /api/v1/users/{id}/unlock (security-administrator) ({id}: the id GET /api/v1/users gives for admin)',
        ],
        [['users', 'passwd', 'li.wei'], 'POST /api/v1/users/{id}/password'],
        [['audit', 'verify'], 'GET /api/v1/audit/verify'],
        [['contexts', 'list'], 'GET /ngsi-ld/v1/jsonldContexts'],
        [['history', 'retention', 'list'], 'stop the hub, run the command, start the hub again'],
      ];
      for (const [args, says] of cases) {
        const r = await runToEnd([...args, '--db', data], { CITYPIVOT_USER_PASSWORD: 'Desk-Passw0rd-26' });
        expect(r.code, r.out).toBe(1);
        expect(r.out).toContain('is in use by another CityPivot');
        expect(r.out).toContain(says);
      }
      expect((await fetch(`${url}/health`)).status).toBe(200);
    } finally {
      expect(await stop(hub)).toBe(0);
    }
  });
});

describe('on an external PostgreSQL', () => {
  it('work while the hub runs on the same database', async () => {
    const hub = start(['serve', '--host', '127.0.0.1', '--port', '0', '--no-mqtt', '--db', db.url]);
    try {
      const url = await ready(hub);
      const verify = await runToEnd(['audit', 'verify', '--db', db.url]);
      expect(verify.code, verify.out).toBe(0);
      expect(verify.out).toContain('The audit log is intact');
      const list = await runToEnd(['history', 'retention', 'list', '--db', db.url]);
      expect(list.code, list.out).toBe(0);
      expect((await fetch(`${url}/health`)).status).toBe(200);
    } finally {
      expect(await stop(hub)).toBe(0);
    }
  });
});

describe('a password typed in a terminal', () => {
  it('is asked for twice with a prompt, never echoed, and set', async () => {
    // `script` (util-linux) gives the command a terminal; what it echoes is what a user would see.
    const typed = 'Desk-Terminal-2026';
    const cmd = `${process.execPath} ${BIN} users add li.wei --role department-user --db '${db.url}'`;
    const child = spawn('script', ['-qec', cmd, '/dev/null'], { env: { ...process.env } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const prompts = (out.match(/New password for li\.wei: |The same again: /g) ?? []).length;
      if (prompts > answered) {
        answered = prompts;
        child.stdin.write(`${typed}\r`);
      }
    });
    let answered = 0;
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(out).toContain('New password for li.wei: ');
    expect(out).toContain('The same again: ');
    expect(out).not.toContain(typed);
    expect(code, out).toBe(0);
    expect(out).toContain('Created li.wei');
  });
});

describe('departments, policies and API keys from the command line', () => {
  // About twenty CLI starts in turn: well over 30 s on a loaded machine.
  it(
    'are created, listed and removed with the checks and audit records of the API',
    { timeout: 120_000 },
    async () => {
      const cli = (...args: string[]) =>
        runToEnd([...args, '--db', db.url], { CITYPIVOT_USER_PASSWORD: 'Water-Desk-2026' });
      let r = await cli('departments', 'add', 'water', '--name', 'Water Bureau');
      expect(r.code, r.out).toBe(0);
      r = await cli('departments', 'add', 'bad id!', '--name', 'x');
      expect(r.code, r.out).toBe(1);
      expect(r.out).toContain('id: letters, digits');
      r = await cli('departments', 'add', 'nameless');
      expect(r.code, r.out).toBe(2);
      expect(r.out).toContain('--name');
      r = await cli('departments', 'list');
      expect(r.out).toMatch(/^water +Water Bureau/m);

      r = await cli(
        'policies',
        'add',
        '--department',
        'water',
        '--type',
        'WaterQualityObserved',
        '--action',
        'read',
        '--action',
        'write',
        '--context',
        'https://smart-data-models.github.io/dataModel.WaterQuality/context.jsonld',
      );
      expect(r.code, r.out).toBe(0);
      const policyId = /Created the policy ([0-9a-f-]{36})/.exec(r.out)?.[1];
      expect(policyId, r.out).toBeDefined();
      expect(r.out).toContain('https://smartdatamodels.org/dataModel.WaterQuality/WaterQualityObserved');
      r = await cli('policies', 'add', '--department', 'water', '--action', 'delete');
      expect(r.code, r.out).toBe(1);
      expect(r.out).toContain('actions: read, write');
      r = await cli('policies', 'list');
      expect(r.out).toContain(policyId!);

      r = await cli(
        'api-keys',
        'add',
        'meter-gateway',
        '--department',
        'water',
        '--expires',
        '2031-01-01T00:00:00Z',
      );
      expect(r.code, r.out).toBe(0);
      const keyId = /Created the API key (\S+);/.exec(r.out)?.[1];
      expect(keyId, r.out).toBeDefined();
      r = await cli('api-keys', 'add', 'root-key', '--role', 'system-administrator');
      expect(r.code, r.out).toBe(1);
      expect(r.out).toContain('An API key holds department roles only');
      r = await cli('api-keys', 'revoke', keyId!);
      expect(r.code, r.out).toBe(0);
      r = await cli('api-keys', 'list');
      expect(r.out).toMatch(new RegExp(`^${keyId!} +meter-gateway +water .* yes$`, 'm'));

      r = await cli('users', 'add', 'zhao.min', '--department', 'water');
      expect(r.code, r.out).toBe(0);
      r = await cli('users', 'add', 'bad name!', '--department', 'water');
      expect(r.code, r.out).toBe(1);
      expect(r.out).toContain('username: letters, digits');
      r = await cli('users', 'set', 'zhao.min', '--role', 'department-admin', '--disable');
      expect(r.code, r.out).toBe(0);
      r = await cli('users', 'set', 'zhao.min', '--role', 'overlord');
      expect(r.code, r.out).toBe(1);
      expect(r.out).toContain('roles must be a list of');
      r = await cli('users', 'list');
      expect(r.out).toMatch(/^zhao\.min +water +department-admin +no +disabled/m);
      r = await cli('users', 'remove', 'zhao.min');
      expect(r.code, r.out).toBe(0);
      r = await cli('users', 'unlock', 'zhao.min');
      expect(r.code, r.out).toBe(1);
      expect(r.out).toContain('No user zhao.min');
      r = await cli('policies', 'remove', policyId!);
      expect(r.code, r.out).toBe(0);
      r = await cli('policies', 'remove', policyId!);
      expect(r.code, r.out).toBe(1);
      expect(r.out).toContain('No policy');

      // Audited as the API would, with the CLI as the actor.
      const audit = await db.pool.query<{ action: string; actor: string }>(
        "SELECT action, actor FROM access_audit WHERE action IN ('department.create','policy.create','policy.delete','api-key.create','api-key.revoke') ORDER BY seq",
      );
      expect(audit.rows.map((x) => `${x.actor} ${x.action}`)).toEqual([
        'cli department.create',
        'cli policy.create',
        'cli api-key.create',
        'cli api-key.revoke',
        'cli policy.delete',
      ]);
    },
  );
});
