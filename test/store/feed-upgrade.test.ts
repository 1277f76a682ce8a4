/**
 * A database whose change feed holds rows of one change each (before migration 10) is upgraded
 * in place: a consumer part-way through them goes on from its cursor, reads the older rows and then
 * the new ones (several changes each) in order, and each entity's last key is seeded from the old
 * rows.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MIGRATIONS, migrate } from '../../src/store/migrations.js';
import { createPostgresStore } from '../../src/store/postgres-store.js';
import type { Store } from '../../src/core/store.js';
import { cursorOf, WHOLE_ROW } from '../../src/core/change-feed.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
let pool: pg.Pool;
let store: Store | undefined;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  await migrate(
    pool,
    MIGRATIONS.filter((m) => m.version <= 9),
  );
});
afterAll(async () => {
  await store?.close();
  await pool?.end();
  await db?.drop();
});

it('reads the rows written before the upgrade, then the new ones, from the same cursor', async () => {
  // Three changes as version 9 wrote them, below any transaction id to come.
  await pool.query(
    `INSERT INTO change_feed (key, tenant, entity_id, kind, types, attrs) VALUES
       (3, 'up', 'a', 'created', '{T}', '{p}'), (4, 'up', 'b', 'created', '{T}', '{p}'),
       (5, 'up', 'a', 'updated', '{T}', '{p}')`,
  );
  const first = (await pool.query(`SELECT seq FROM change_feed WHERE key = 3`)).rows[0].seq as string;
  await pool.query(
    `INSERT INTO change_feed_consumers (name, cursor_key, cursor_seq) VALUES ('up.reader', 3, $1)`,
    [first],
  );
  await migrate(pool);
  const heads = await pool.query(`SELECT entity_id, key::int FROM change_feed_heads ORDER BY entity_id`);
  expect(heads.rows).toEqual([
    { entity_id: 'a', key: 5 },
    { entity_id: 'b', key: 4 },
  ]);

  store = await createPostgresStore({ url: db.url, max: 2 });
  await store.transaction((tx) =>
    tx.changeFeed.append(
      ['a', 'c'].map((id) => ({
        tenant: 'up',
        id,
        kind: 'updated' as const,
        types: ['T'],
        attributes: ['q'],
      })),
    ),
  );
  const session = await store.feed.openSession();
  try {
    const cursor = await session.tryHold('up.reader', 'test');
    expect(cursor).toMatchObject({ key: '3', seq: first, n: WHOLE_ROW });
    const changes = await session.read(cursor!, 100);
    expect(changes.map((c) => `${c.id}:${c.kind}:${c.attributes.join()}`)).toEqual([
      'b:created:p',
      'a:updated:p',
      'a:updated:q',
      'c:updated:q',
    ]);
    // The new transaction's two changes are one row: the same key and seq, entries 0 and 1.
    const [x, y] = changes.slice(2).map((c) => cursorOf(c.position));
    expect([x!.key, x!.seq, x!.n]).toEqual([y!.key, y!.seq, 0]);
    expect(y!.n).toBe(1);
    // Read in part, the row gives the rest.
    expect((await session.read(x!, 100)).map((c) => c.id)).toEqual(['c']);
    // a's head moved to the new row's key.
    const a = await pool.query(
      `SELECT key::text FROM change_feed_heads WHERE tenant = 'up' AND entity_id = 'a'`,
    );
    expect(a.rows[0].key).toBe(x!.key);
  } finally {
    await session.close();
  }
});
