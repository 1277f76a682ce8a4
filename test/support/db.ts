/**
 * A database of its own for each test file (STYLE.md §3), on the server of the global setup.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

/** A fresh database: its URL, a small pool on it, and `drop()` to end the pool and drop it. */
export interface TestDatabase {
  url: string;
  pool: pg.Pool;
  /** Ends the pool and drops the database (WITH (FORCE)). Idempotent. */
  drop(): Promise<void>;
}

async function asAdmin(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Creates a uniquely named database (`citypivot_test_<pid>_<time>_<random>`) on the test server
 * and returns its URL and a pg Pool (at most 5 connections) on it.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('databaseAdminUrl');
  const name = `citypivot_test_${process.pid}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const quoted = `"${name}"`; // only [a-z0-9_]: no escaping needed
  await asAdmin(adminUrl, `CREATE DATABASE ${quoted}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 5 });
  pool.on('error', () => undefined); // idle clients cut off by the drop
  let dropping: Promise<void> | undefined;
  return {
    url: url.toString(),
    pool,
    drop() {
      dropping ??= (async () => {
        await pool.end();
        await asAdmin(adminUrl, `DROP DATABASE IF EXISTS ${quoted} WITH (FORCE)`);
      })();
      return dropping;
    },
  };
}
