/**
 * Each module's migrations apply once, in order, after the kernel's, recorded per module; a
 * migration that fails changes nothing and names its module; hubs starting together apply each
 * once.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { migrate, migrateModules } from '../../src/store/migrations.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 6 });
  await migrate(pool);
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const air = {
  module: 'air',
  migrations: [
    { version: 1, name: 'stations', sql: 'CREATE TABLE air_stations (id text PRIMARY KEY)' },
    { version: 2, name: 'index', sql: 'ALTER TABLE air_stations ADD COLUMN aqi integer' },
  ],
};
const cases = {
  module: 'cases',
  migrations: [{ version: 1, name: 'cases', sql: 'CREATE TABLE cases_x (id text PRIMARY KEY)' }],
};

it('applies each module’s migrations once, in order, from several starting hubs at once', async () => {
  const runs = await Promise.all([1, 2, 3].map(() => migrateModules(pool, [air, cases])));
  expect(runs.flat().sort()).toEqual(['air:1', 'air:2', 'cases:1']);
  const { rows } = await pool.query(
    'SELECT module, version, name FROM module_migrations ORDER BY module, version',
  );
  expect(rows).toEqual([
    { module: 'air', version: 1, name: 'stations' },
    { module: 'air', version: 2, name: 'index' },
    { module: 'cases', version: 1, name: 'cases' },
  ]);
  await pool.query('INSERT INTO air_stations (id, aqi) VALUES ($1, $2)', ['s1', 42]);
  expect(await migrateModules(pool, [air, cases])).toEqual([]);
});

it('a failing migration changes nothing and names its module; the next start applies the fix', async () => {
  const broken = {
    module: 'air',
    migrations: [
      ...air.migrations,
      { version: 3, name: 'district', sql: 'ALTER TABLE air_stations ADD COLUMN district text; SELECT 1/0' },
    ],
  };
  await expect(migrateModules(pool, [broken])).rejects.toThrow(
    /Migration 3 \(district\) of module air failed: division by zero/,
  );
  const cols = await pool.query(
    `SELECT column_name FROM information_schema.columns WHERE table_name = 'air_stations' ORDER BY column_name`,
  );
  expect(cols.rows.map((r) => r.column_name)).toEqual(['aqi', 'id']);
  const fixed = {
    module: 'air',
    migrations: [
      ...air.migrations,
      { version: 3, name: 'district', sql: 'ALTER TABLE air_stations ADD COLUMN district text' },
    ],
  };
  expect(await migrateModules(pool, [fixed])).toEqual(['air:3']);
  expect((await pool.query('SELECT id, aqi FROM air_stations')).rows).toEqual([{ id: 's1', aqi: 42 }]);
});

it('refuses a malformed list before touching the database', async () => {
  await expect(
    migrateModules(pool, [
      { module: 'air', migrations: [{ version: 2, name: 'x', sql: 'DROP TABLE air_stations' }] },
    ]),
  ).rejects.toThrow(/declared as version 2/);
  expect((await pool.query('SELECT count(*)::int AS n FROM air_stations')).rows[0].n).toBe(1);
});

it('gives the connection back to the pool with the pool’s statement timeout', async () => {
  const one = new pg.Pool({ connectionString: db.url, max: 1, options: '-c statement_timeout=1234' });
  try {
    await migrate(one);
    await migrateModules(one, [air]);
    expect((await one.query('SHOW statement_timeout')).rows[0].statement_timeout).toBe('1234ms');
  } finally {
    await one.end();
  }
});
