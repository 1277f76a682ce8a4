/**
 * Where the PostgreSQL server comes from, decided once from one setting (`--db`, `CITYPIVOT_DB`):
 * a directory for the embedded server (default `./data`), `memory://` for an embedded server in a
 * temporary directory, or a `postgres://` URL of an external PostgreSQL 15 or newer. Everything
 * after start-up sees only a connection URL (STYLE.md §2).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres } from './embedded-server.js';
import type { DatabaseHandle } from './embedded-server.js';

/** Oldest supported external server, as `server_version_num` (PostgreSQL 15.0). */
export const MIN_SERVER_VERSION_NUM = 150000;

/** The default setting: an embedded server in `./data`. */
export const DEFAULT_DATABASE_SETTING = './data';

type Setting =
  | { kind: 'external'; url: string }
  | { kind: 'memory' }
  | { kind: 'directory'; path: string }
  | { kind: 'unsupported'; scheme: string };

function parseSetting(setting: string): Setting {
  const s = setting.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(s)?.[1]?.toLowerCase();
  if (scheme === 'postgres' || scheme === 'postgresql') return { kind: 'external', url: s };
  if (scheme === 'memory') return { kind: 'memory' };
  if (scheme !== undefined) return { kind: 'unsupported', scheme };
  return { kind: 'directory', path: resolve(s === '' ? DEFAULT_DATABASE_SETTING : s) };
}

/** Drops the password from a connection URL (user info and `password`-like query parameters). */
function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    for (const key of [...u.searchParams.keys()]) if (/pass/i.test(key)) u.searchParams.set(key, '***');
    return u.toString();
  } catch {
    // Not a WHATWG URL (pg accepts a few of those): keep the scheme, the user and what follows '@'.
    return url
      .replace(
        /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)@/i,
        (_m, scheme: string, info: string) => `${scheme}${info.split(':')[0]}@`,
      )
      .replace(/(pass[a-z]*=)[^&]*/gi, '$1***');
  }
}

/**
 * A one-line description of a database setting for logs; never contains a password.
 * E.g. `embedded PostgreSQL in /srv/citypivot/data`, `postgres://citypivot@db.city.local:5432/citypivot`.
 */
export function describeDatabase(setting: string): string {
  const parsed = parseSetting(setting);
  switch (parsed.kind) {
    case 'external':
      return redactUrl(parsed.url);
    case 'memory':
      return 'memory:// (embedded PostgreSQL in a temporary directory)';
    case 'directory':
      return `embedded PostgreSQL in ${parsed.path}`;
    case 'unsupported':
      return `unsupported setting ${redactUrl(setting.trim())}`;
  }
}

/**
 * Refuses servers older than PostgreSQL 15, the oldest CityPivot supports and is tested on
 * (docs/architecture.md). `versionNum` is `server_version_num`, `version` its display form.
 */
export function assertSupportedServerVersion(versionNum: number, version: string, where: string): void {
  if (!Number.isInteger(versionNum) || versionNum < MIN_SERVER_VERSION_NUM) {
    throw new Error(`${where} runs PostgreSQL ${version}; CityPivot needs PostgreSQL 15 or newer.`);
  }
}

/** Connects once to an external server to check it is reachable and new enough. */
async function checkExternalServer(url: string, signal: AbortSignal): Promise<void> {
  const where = redactUrl(url);
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  const abandon = () => void client.end().catch(() => undefined);
  signal.addEventListener('abort', abandon, { once: true });
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    signal.throwIfAborted();
    throw new Error(`Cannot connect to ${where}: ${(err as Error).message || String(err)}`, { cause: err });
  } finally {
    signal.removeEventListener('abort', abandon);
  }
  try {
    const { rows } = await client.query<{ num: string; version: string }>(
      "SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS version",
    );
    const row = rows[0];
    assertSupportedServerVersion(Number(row?.num), row?.version ?? 'unknown', where);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The database starts under way in this process, for {@link interruptDatabaseStarts}. */
const starting = new Set<AbortController>();

/**
 * Abandons every {@link openDatabase} under way in this process (the CLI calls it on SIGTERM or
 * SIGINT while the hub starts): each stops what it started (initdb, the server), removes the
 * temporary directory of memory://, and rejects with `reason`. A start that completed is not
 * touched: its owner stops it.
 */
export function interruptDatabaseStarts(reason: Error): void {
  for (const c of starting) c.abort(reason);
}

/**
 * Opens the database a setting names (docs/architecture.md, store/):
 * - `postgres://…` or `postgresql://…`: an external server, checked to be reachable and
 *   PostgreSQL 15 or newer; `embedded` is false and `stop()` does nothing.
 * - `memory://`: an embedded server in a fresh temporary directory, removed on stop and, through
 *   the server's watchdog, when the process dies without stopping.
 * - anything else: a directory for the embedded server (default `./data`, created if missing).
 * Other `scheme://` settings are refused rather than taken for a directory.
 *
 * Aborting `signal`, or {@link interruptDatabaseStarts}, abandons the start: it stops what it
 * started, and rejects with the abort's reason.
 */
export async function openDatabase(
  setting: string,
  log: (line: string) => void = () => undefined,
  signal?: AbortSignal,
): Promise<DatabaseHandle> {
  const parsed = parseSetting(setting);
  if (parsed.kind === 'unsupported') {
    throw new Error(
      `Unsupported database setting ${describeDatabase(setting)}: use a directory, memory:// or postgres://user:password@host:port/database`,
    );
  }
  const abort = new AbortController();
  const follow = () => abort.abort(signal?.reason);
  signal?.addEventListener('abort', follow, { once: true });
  if (signal?.aborted) follow();
  starting.add(abort);
  try {
    const handle = await open(parsed, log, abort.signal).catch((err: unknown) => {
      abort.signal.throwIfAborted(); // whatever failed on the way out, the reason is the abort
      throw err;
    });
    if (abort.signal.aborted) {
      // Interrupted just as the start completed: undone here, as the caller gets no handle.
      await handle.stop().catch(() => undefined);
      abort.signal.throwIfAborted();
    }
    return handle;
  } finally {
    starting.delete(abort);
    signal?.removeEventListener('abort', follow);
  }
}

async function open(
  parsed: Exclude<Setting, { kind: 'unsupported' }>,
  log: (line: string) => void,
  signal: AbortSignal,
): Promise<DatabaseHandle> {
  switch (parsed.kind) {
    case 'external':
      await checkExternalServer(parsed.url, signal);
      return { url: parsed.url, embedded: false, stop: () => Promise.resolve() };
    case 'memory': {
      const dir = await mkdtemp(join(tmpdir(), 'citypivot-memory-'));
      try {
        return await startEmbeddedPostgres({ dataDir: dir, temporary: true, log, signal });
      } catch (err) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
    }
    case 'directory':
      return startEmbeddedPostgres({ dataDir: parsed.path, log, signal });
  }
}
