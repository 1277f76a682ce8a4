/**
 * The embedded PostgreSQL server: first start, restart, memory://, one server per directory,
 * recovery after the hub is SIGKILLed (with and without its watchdog), stale postmaster.pid, and
 * the external-URL checks of openDatabase.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  assertSupportedServerVersion,
  describeDatabase,
  openDatabase,
} from '../../src/store/database-setting.js';
import { startEmbeddedPostgres } from '../../src/store/embedded-server.js';
import type { DatabaseHandle, EmbeddedServer } from '../../src/store/embedded-server.js';

const settingModuleUrl = new URL('../../src/store/database-setting.ts', import.meta.url).href;
const handles: DatabaseHandle[] = [];
const children: ChildProcess[] = [];
const dirs: string[] = [];
let helperDir = '';

/** Alive and not a zombie (an orphan's parent may never reap it). */
async function alive(pid: number): Promise<boolean> {
  const line = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const state = line.slice(line.lastIndexOf(')') + 2, line.lastIndexOf(')') + 3);
  return line !== '' && state !== 'Z' && state !== 'X';
}

async function until(done: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'citypivot-embedded-test-'));
  dirs.push(dir);
  return dir;
}

async function start(dataDir: string, lines: string[] = []): Promise<EmbeddedServer> {
  const server = await startEmbeddedPostgres({ dataDir, log: (l) => lines.push(l) });
  handles.push(server);
  return server;
}

async function query(url: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

function freePort(): Promise<number> {
  return new Promise((done) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => done(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

/** Another hub process: node running openDatabase (through a TypeScript loader) on `setting`. */
async function startChildHub(
  setting: string,
): Promise<{ child: ChildProcess; pid: number; url: string; dataDir: string }> {
  const child = spawn(
    process.execPath,
    ['--import', join(helperDir, 'register.mjs'), join(helperDir, 'child.mjs'), settingModuleUrl, setting],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const line = await new Promise<string>((done, fail) => {
    createInterface({ input: child.stdout }).once('line', done);
    child.once('exit', (code) => fail(new Error(`child hub exited (${code}): ${stderr}`)));
  });
  const info = JSON.parse(line) as { pid: number; url: string; dataDir: string };
  return { child, ...info };
}

async function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

/** Children of `pid` whose command is `comm` (from /proc/<pid>/stat). */
async function childrenOf(pid: number, comm: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const line = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const name = line.slice(line.indexOf('(') + 1, line.lastIndexOf(')'));
    const ppid = Number(line.slice(line.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === pid && name === comm) found.push(Number(entry));
  }
  return found;
}

beforeAll(async () => {
  helperDir = await mkdtemp(join(tmpdir(), 'citypivot-embedded-helper-'));
  const typescript = pathToFileURL(createRequire(import.meta.url).resolve('typescript')).href;
  await writeFile(
    join(helperDir, 'register.mjs'),
    `import { register } from 'node:module';\nregister('./ts-hooks.mjs', import.meta.url);\n`,
  );
  await writeFile(
    join(helperDir, 'ts-hooks.mjs'),
    `import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import ts from ${JSON.stringify(typescript)};
export async function resolve(specifier, context, next) {
  try { return await next(specifier, context); } catch (err) {
    if (specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) return next(specifier.slice(0, -3) + '.ts', context);
    throw err;
  }
}
export async function load(url, context, next) {
  if (!url.endsWith('.ts')) return next(url, context);
  const source = await readFile(fileURLToPath(url), 'utf8');
  const options = { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true };
  return { format: 'module', source: ts.transpileModule(source, { compilerOptions: options }).outputText, shortCircuit: true };
}
`,
  );
  await writeFile(
    join(helperDir, 'child.mjs'),
    `const [, , moduleUrl, setting] = process.argv;
const { openDatabase } = await import(moduleUrl);
const server = await openDatabase(setting);
console.log(JSON.stringify({ pid: server.pid, url: server.url, dataDir: server.dataDir }));
setInterval(() => undefined, 60_000);
`,
  );
});

afterEach(async () => {
  for (const child of children.splice(0)) await kill9(child);
  for (const h of handles.splice(0)) await h.stop().catch(() => undefined);
  for (const dir of dirs.splice(0)) {
    // A test that failed halfway may leave a server behind: stop it before removing its files.
    const pid = Number(
      (await readFile(join(dir, 'postgres', 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0],
    );
    if (pid > 0 && (await alive(pid))) {
      process.kill(pid, 'SIGQUIT');
      await until(async () => !(await alive(pid)));
    }
    await rm(dir, { recursive: true, force: true });
  }
});

afterAll(async () => {
  await rm(helperDir, { recursive: true, force: true });
});

describe('embedded PostgreSQL server', () => {
  it('initialises a cluster on first start, listens on loopback only, and stops cleanly', async () => {
    const dir = await tempDir();
    const lines: string[] = [];
    const server = await start(dir, lines);
    expect(server.embedded).toBe(true);
    expect(server.tookOver).toBe(false);
    expect(lines.some((l) => l.includes('initialising a new cluster'))).toBe(true);
    expect(server.url).toMatch(/^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/citypivot$/);
    const { rows } = await query(
      server.url,
      "SELECT current_database() AS db, current_setting('server_version_num')::int AS v, current_setting('listen_addresses') AS listen, current_setting('unix_socket_directories') AS sockets",
    );
    expect(rows[0]).toMatchObject({ db: 'citypivot', listen: '127.0.0.1', sockets: '' });
    expect(rows[0].v).toBeGreaterThanOrEqual(170000);
    expect((await readFile(join(dir, 'postgres', 'PG_VERSION'), 'utf8')).trim()).toBe('17');
    expect((await stat(join(dir, 'postgres.password'))).mode & 0o777).toBe(0o600);
    await server.stop();
    expect(await alive(server.pid)).toBe(false);
    await expect(query(server.url, 'SELECT 1')).rejects.toThrow();
    await expect(stat(join(dir, 'hub.lock'))).rejects.toThrow();
    await server.stop(); // idempotent
  });

  it('restarts on the same cluster with the same password', async () => {
    const dir = await tempDir();
    const first = await start(dir);
    await query(first.url, 'CREATE TABLE kept (v text); INSERT INTO kept VALUES ($$still here$$)');
    await first.stop();
    const lines: string[] = [];
    const second = await start(dir, lines);
    expect(lines.some((l) => l.includes('initialising'))).toBe(false);
    expect(new URL(second.url).password).toBe(new URL(first.url).password);
    expect((await query(second.url, 'SELECT v FROM kept')).rows).toEqual([{ v: 'still here' }]);
  });

  it('sets a new password when the password file was lost', async () => {
    const dir = await tempDir();
    const first = await start(dir);
    await first.stop();
    await rm(join(dir, 'postgres.password'));
    const second = await start(dir);
    expect(new URL(second.url).password).not.toBe(new URL(first.url).password);
    expect((await query(second.url, 'SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('memory:// runs in a temporary directory removed on stop', async () => {
    const db = await openDatabase('memory://');
    handles.push(db);
    expect(db.embedded).toBe(true);
    const dataDir = 'dataDir' in db && typeof db.dataDir === 'string' ? db.dataDir : '';
    expect(dataDir).toContain('citypivot-memory-');
    expect((await query(db.url, 'SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await db.stop();
    await expect(stat(dataDir)).rejects.toThrow(/ENOENT/);
  });

  it('memory:// is stopped and removed by the watchdog when its hub is SIGKILLed', async () => {
    const hub = await startChildHub('memory://');
    dirs.push(hub.dataDir); // cleaned up after a failure
    expect(hub.dataDir).toContain('citypivot-memory-');
    await kill9(hub.child);
    await until(
      async () =>
        !(await alive(hub.pid)) &&
        !(await stat(hub.dataDir).then(
          () => true,
          () => false,
        )),
    );
  });

  it('refuses a second start on a directory this process already uses', async () => {
    const dir = await tempDir();
    const server = await start(dir);
    await expect(start(dir)).rejects.toThrow(/already in use by this process/);
    expect((await query(server.url, 'SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it(
    'refuses a directory another hub uses, and starts again after that hub is SIGKILLed',
    { timeout: 60_000 },
    async () => {
      const dir = await tempDir();
      const hub = await startChildHub(dir);
      await query(hub.url, 'CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)');
      await expect(start(dir)).rejects.toThrow(
        new RegExp(`in use by another CityPivot \\(process ${hub.child.pid}\\)`),
      );
      await kill9(hub.child);
      // Its watchdog stops the orphaned server; the next start waits for that and starts afresh.
      const server = await start(dir);
      expect(server.tookOver).toBe(false);
      expect(await alive(hub.pid)).toBe(false);
      expect((await query(server.url, 'SELECT v FROM kept')).rows).toEqual([{ v: 42 }]);
    },
  );

  it(
    'takes over a server left running when the hub and its watchdog were killed',
    { timeout: 60_000 },
    async () => {
      const dir = await tempDir();
      const hub = await startChildHub(dir);
      await query(hub.url, 'CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)');
      const watchdogs = await childrenOf(hub.child.pid ?? 0, 'sh');
      expect(watchdogs).toHaveLength(1);
      for (const pid of watchdogs) process.kill(pid, 'SIGKILL');
      await until(async () => !(await Promise.all(watchdogs.map(alive))).some(Boolean));
      await kill9(hub.child);
      expect(await alive(hub.pid)).toBe(true); // orphaned
      const lines: string[] = [];
      const server = await start(dir, lines);
      expect(server.tookOver).toBe(true);
      expect(server.pid).toBe(hub.pid);
      expect(lines.join('\n')).toMatch(/took over/);
      expect((await query(server.url, 'SELECT v FROM kept')).rows).toEqual([{ v: 7 }]);
      await server.stop();
      expect(await alive(hub.pid)).toBe(false);
    },
  );

  it('ignores a stale postmaster.pid naming a dead or an unrelated process', async () => {
    const dir = await tempDir();
    const first = await start(dir);
    await first.stop();
    const deadPid = await new Promise<number>((done) => {
      const c = spawn('true');
      c.once('exit', () => done(c.pid ?? 0));
    });
    for (const pid of [deadPid, process.pid]) {
      const clusterDir = join(dir, 'postgres');
      await writeFile(
        join(clusterDir, 'postmaster.pid'),
        `${pid}\n${clusterDir}\n1700000000\n5432\n\n127.0.0.1\n  1234  5678\nready   \n`,
      );
      const lines: string[] = [];
      const server = await start(dir, lines);
      expect(lines.join('\n')).toMatch(/stale postmaster\.pid/);
      expect((await query(server.url, 'SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      await server.stop();
    }
  });
});

describe('openDatabase with an external server', () => {
  it('uses a postgres:// URL as is after checking the server', async () => {
    const admin = inject('databaseAdminUrl');
    const db = await openDatabase(admin);
    expect(db).toMatchObject({ url: admin, embedded: false });
    await db.stop();
    expect((await query(admin, 'SELECT 1 AS one')).rows).toEqual([{ one: 1 }]); // stop() left it alone
    const version = Number((await query(admin, 'SHOW server_version_num')).rows[0].server_version_num);
    expect(() => assertSupportedServerVersion(version, 'x', 'test server')).not.toThrow();
  });

  it('refuses servers older than PostgreSQL 15', () => {
    expect(() => assertSupportedServerVersion(140011, '14.11', 'postgres://u@db/x')).toThrow(
      /postgres:\/\/u@db\/x runs PostgreSQL 14\.11; CityPivot needs PostgreSQL 15 or newer/,
    );
    expect(() => assertSupportedServerVersion(150000, '15.0', 'db')).not.toThrow();
    expect(() => assertSupportedServerVersion(Number.NaN, 'unknown', 'db')).toThrow(/needs PostgreSQL 15/);
  });

  it('reports an unreachable server without the password', async () => {
    const url = `postgresql://city:hunter2secret@127.0.0.1:${await freePort()}/citypivot`;
    const err = await openDatabase(url).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/^Cannot connect to postgresql:\/\/city@127\.0\.0\.1:\d+\/citypivot: /);
    expect(err?.message).not.toContain('hunter2secret');
  });

  it('describes settings without passwords', () => {
    expect(
      describeDatabase('postgres://city:s3cret@db.city.local:5432/citypivot?sslmode=require&password=x'),
    ).toBe('postgres://city@db.city.local:5432/citypivot?sslmode=require&password=***');
    expect(describeDatabase('memory://')).toMatch(/^memory:\/\//);
    expect(describeDatabase('./data')).toBe(`embedded PostgreSQL in ${join(process.cwd(), 'data')}`);
    expect(describeDatabase('')).toBe(`embedded PostgreSQL in ${join(process.cwd(), 'data')}`);
    expect(describeDatabase('mysql://root:pw@h/db')).not.toContain('pw@');
  });

  it('refuses unknown URL schemes instead of making a directory of them', async () => {
    await expect(openDatabase('mysql://root:pw@localhost/db')).rejects.toThrow(
      /Unsupported database setting/,
    );
  });
});
