/**
 * The run's PostgreSQL server, opened with the hub's own `openDatabase` (src/store/database-setting.ts):
 * by default an embedded server in a fresh temporary directory (durable: fsync on, unlike memory://),
 * or whatever `--db` names. Each scenario gets a database of its own on it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { describeDatabase, openDatabase } from '../../src/store/database-setting.js';

export interface BenchDatabase {
  /** Connection URL of this database (holds a password: never print it). */
  url: string;
  /** A small pool on it for setup and verification queries. */
  pool: pg.Pool;
}

export interface BenchServer {
  description: string;
  /** Whether commits wait for the disk (fsync on); memory:// turns it off. */
  durable: boolean;
  createDatabase(name: string): Promise<BenchDatabase>;
  close(): Promise<void>;
}

async function asAdmin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Opens the server a `--db` setting names; undefined: an embedded server in a temporary directory. */
export async function openBenchServer(setting: string | undefined): Promise<BenchServer> {
  const dir = setting === undefined ? await mkdtemp(join(tmpdir(), 'citypivot-bench-')) : undefined;
  const effective = setting ?? dir ?? '';
  const handle = await openDatabase(effective);
  const created: { name: string; pool: pg.Pool }[] = [];
  const run = `${process.pid}_${Date.now().toString(36)}`;
  const fsync = await asAdmin(
    handle.url,
    async (c) => (await c.query<{ f: string }>("SELECT current_setting('fsync') AS f")).rows[0]?.f,
  );
  return {
    description: describeDatabase(effective),
    durable: fsync === 'on',
    async createDatabase(name) {
      const db = `citypivot_bench_${name.replace(/[^a-z0-9_]/g, '_')}_${run}`;
      await asAdmin(handle.url, (c) => c.query(`CREATE DATABASE "${db}"`));
      const url = new URL(handle.url);
      url.pathname = `/${db}`;
      const pool = new pg.Pool({ connectionString: url.toString(), max: 4 });
      pool.on('error', () => undefined);
      created.push({ name: db, pool });
      return { url: url.toString(), pool };
    },
    async close() {
      for (const { name, pool } of created.reverse()) {
        await pool.end().catch(() => undefined);
        await asAdmin(handle.url, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).catch(
          () => undefined,
        );
      }
      await handle.stop();
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    },
  };
}
