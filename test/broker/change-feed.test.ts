/**
 * The durable change feed: every write path appends its changes; consumers get them at least once,
 * in commit order per entity, never passing a change that commits later; a failed batch comes
 * again; two runners never hold one consumer at once and one takes over when the other stops;
 * lag is in /metrics; retention keeps what a consumer has not read.
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeConsumer, FeedChange } from '../../src/core/change-feed.js';
import { cursorOf } from '../../src/core/change-feed.js';
import { createFeedRunner, type FeedRunner } from '../../src/broker/change-feed.js';
import { createTestHub, JSON_CT, type TestHub } from '../support/test-hub.js';

const E = '/ngsi-ld/v1/entities';
const B = '/ngsi-ld/v1/entityOperations';
const T = '/ngsi-ld/v1/temporal/entities';
const NGSI = 'https://uri.etsi.org/ngsi-ld/default-context/';

let hub: TestHub;
let pool: pg.Pool;
const runners: FeedRunner[] = [];

beforeAll(async () => {
  hub = await createTestHub();
  pool = new pg.Pool({ connectionString: hub.url, max: 3 });
});
afterEach(async () => {
  await Promise.all(runners.splice(0).map((r) => r.stop()));
});
afterAll(async () => {
  await pool?.end();
  await hub?.close();
});

const until = async (what: string, ok: () => boolean | Promise<boolean>, ms = 20_000) => {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** A runner of one consumer, started; stopped after the test. */
function run(consumer: ChangeConsumer, instance = 'test', jobs = []) {
  const r = createFeedRunner({
    feed: hub.store.feed,
    consumers: [consumer],
    jobs,
    instance,
    pollMs: 10,
    holdRetryMs: 20,
    retryMs: 20,
  });
  runners.push(r);
  r.start();
  return r;
}

const send = async (method: 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, body?: unknown) => {
  const res = await hub.request({
    method,
    url,
    ...(body === undefined ? {} : { headers: JSON_CT, payload: JSON.stringify(body) }),
  });
  expect(res.statusCode, `${method} ${url}: ${res.body}`).toBeLessThan(300);
};

describe('every write path appends its changes', () => {
  /** The feed's newest row per entity agrees with the entity table, and the write added rows. */
  async function expectFollowed(what: string, rowsBefore: number): Promise<number> {
    const total = Number((await pool.query('SELECT count(*) FROM change_feed')).rows[0].count);
    expect(total, `${what} appended nothing`).toBeGreaterThan(rowsBefore);
    const { rows } = await pool.query<{ id: string; kind: string; types: string[]; live: string[] | null }>(
      `SELECT DISTINCT ON (f.entity_id) f.entity_id AS id, f.kind, f.types, e.types AS live
       FROM change_feed_changes f LEFT JOIN entities e ON e.tenant = f.tenant AND e.id = f.entity_id
       ORDER BY f.entity_id, f.key DESC, f.seq DESC, f.n DESC`,
    );
    for (const r of rows) {
      if (r.live) {
        expect(r.kind, `${what}: ${r.id}`).not.toBe('deleted');
        expect(r.types, `${what}: ${r.id}`).toEqual(r.live);
      } else expect(r.kind, `${what}: ${r.id}`).toBe('deleted');
    }
    // And every entity stored has a change.
    const missing = await pool.query(
      `SELECT e.id FROM entities e WHERE NOT EXISTS
         (SELECT 1 FROM change_feed_changes f WHERE f.tenant = e.tenant AND f.entity_id = e.id)`,
    );
    expect(missing.rows, what).toEqual([]);
    return total;
  }

  it('entity and attribute operations, batches, purges, temporal provision, grouped writes', async () => {
    const s = (n: number) => `urn:ngsi-ld:Sensor:${n}`;
    const steps: [string, 'POST' | 'PATCH' | 'PUT' | 'DELETE', string, unknown?][] = [
      ['create', 'POST', E, { id: s(1), type: 'Sensor', temperature: { type: 'Property', value: 20 } }],
      ['create 2', 'POST', E, { id: s(2), type: 'Sensor', owner: { type: 'Property', value: 'city' } }],
      ['attribute patch', 'PATCH', `${E}/${s(1)}/attrs/temperature`, { value: 21 }],
      ['append', 'POST', `${E}/${s(2)}/attrs`, { humidity: { type: 'Property', value: 50 } }],
      ['update attrs', 'PATCH', `${E}/${s(2)}/attrs`, { humidity: { type: 'Property', value: 51 } }],
      ['merge', 'PATCH', `${E}/${s(2)}`, { status: { type: 'Property', value: 'ok' } }],
      ['replace attribute', 'PUT', `${E}/${s(1)}/attrs/temperature`, { type: 'Property', value: 3 }],
      ['delete attribute', 'DELETE', `${E}/${s(2)}/attrs/status`],
      [
        'replace',
        'PUT',
        `${E}/${s(2)}`,
        { id: s(2), type: ['Sensor', 'Device'], p: { type: 'Property', value: 1 } },
      ],
      ['delete', 'DELETE', `${E}/${s(2)}`],
      [
        'batch create',
        'POST',
        `${B}/create`,
        [1, 2, 3].map((n) => ({
          id: `urn:ngsi-ld:Lamp:${n}`,
          type: 'Lamp',
          lit: { type: 'Property', value: true },
        })),
      ],
      ['batch upsert', 'POST', `${B}/upsert`, [{ id: 'urn:ngsi-ld:Lamp:4', type: 'Lamp' }]],
      [
        'batch update',
        'POST',
        `${B}/update`,
        [{ id: 'urn:ngsi-ld:Lamp:1', type: 'Lamp', w: { type: 'Property', value: 5 } }],
      ],
      [
        'batch merge',
        'POST',
        `${B}/merge`,
        [{ id: 'urn:ngsi-ld:Lamp:2', type: 'Lamp', lit: { type: 'Property', value: false } }],
      ],
      ['batch delete', 'POST', `${B}/delete`, ['urn:ngsi-ld:Lamp:4']],
      ['purge attribute', 'DELETE', `${E}?type=Lamp&drop=lit`],
      ['purge', 'DELETE', `${E}?type=Lamp`],
      [
        'temporal provision',
        'POST',
        T,
        {
          id: 'urn:ngsi-ld:Bus:7',
          type: 'Bus',
          speed: [{ type: 'Property', value: 10, observedAt: '2024-01-01T00:00:00Z' }],
        },
      ],
      [
        'temporal append',
        'POST',
        `${T}/urn:ngsi-ld:Bus:7/attrs`,
        { fuel: [{ type: 'Property', value: 3, observedAt: '2024-01-01T00:02:00Z' }] },
      ],
      ['temporal delete', 'DELETE', `${T}/urn:ngsi-ld:Bus:7`],
    ];
    let rows = 0;
    for (const [what, method, url, body] of steps) {
      await send(method, url, body);
      rows = await expectFollowed(what, rows);
    }
    // Concurrent PATCHes share transactions (group commit): each is in the feed.
    for (let n = 10; n < 30; n++)
      await send('POST', E, { id: s(n), type: 'Sensor', v: { type: 'Property', value: 0 } });
    rows = await expectFollowed('creates', rows);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        send('PATCH', `${E}/${s(10 + i)}/attrs`, { v: { type: 'Property', value: 1 } }),
      ),
    );
    const grouped = await pool.query(
      `SELECT count(*) AS changes, count(DISTINCT (key, seq)) AS rows FROM change_feed_changes
       WHERE kind = 'updated' AND attrs = ARRAY[$1] AND entity_id LIKE 'urn:ngsi-ld:Sensor:%'`,
      [`${NGSI}v`],
    );
    expect(Number(grouped.rows[0].changes)).toBe(20);
    // A transaction appends one row for all its changes: the groups shared rows.
    expect(Number(grouped.rows[0].rows)).toBeLessThan(20);
    expect(hub.entities.writeGroups().groups).toBeGreaterThan(0);
  });

  it('names the attributes a change touched', async () => {
    const got: FeedChange[] = [];
    run({ name: 'test.attributes', handle: (c) => Promise.resolve(void got.push(...c)) });
    await until('the consumer held', async () =>
      (await hub.store.feed.consumers()).some((c) => c.name === 'test.attributes' && c.holder),
    );
    const id = 'urn:ngsi-ld:Room:1';
    await send('POST', E, {
      id,
      type: 'Room',
      a: { type: 'Property', value: 1 },
      b: { type: 'Property', value: 2 },
    });
    await send('PATCH', `${E}/${id}/attrs`, {
      a: { type: 'Property', value: 1 },
      b: { type: 'Property', value: 3 },
    });
    await send('DELETE', `${E}/${id}/attrs/a`);
    await send('DELETE', `${E}/${id}`);
    await until('4 changes', () => got.filter((c) => c.id === id).length >= 4);
    const mine = got.filter((c) => c.id === id);
    expect(mine.map((c) => [c.kind, c.attributes.sort()])).toEqual([
      ['created', [`${NGSI}a`, `${NGSI}b`]],
      // a was written with the same value: its instance changed only in modifiedAt, so it counts
      ['updated', expect.arrayContaining([`${NGSI}b`])],
      ['updated', [`${NGSI}a`]],
      ['deleted', [`${NGSI}b`]],
    ]);
    expect(mine.every((c) => c.tenant === '' || typeof c.tenant === 'string')).toBe(true);
    expect(mine.every((c) => c.types[0] === `${NGSI}Room`)).toBe(true);
  });
});

describe('reading the feed', () => {
  it('never passes a change that commits later, and keeps an entity’s changes in commit order', async () => {
    const session = await hub.store.feed.openSession();
    try {
      const start = await session.tryHold('test.order', 'test');
      expect(start).toBeDefined();
      let cursor = start!;
      const entry = (id: string) => ({
        tenant: 'order',
        id,
        kind: 'updated' as const,
        types: ['T'],
        attributes: ['a'],
      });
      // B takes a transaction id first and keeps its transaction open…
      let releaseB!: () => void;
      const bMayGoOn = new Promise<void>((r) => (releaseB = r));
      let bHasId!: () => void;
      const bStarted = new Promise<void>((r) => (bHasId = r));
      const b = hub.store.transaction(async (tx) => {
        await tx.changeFeed.append([entry('X')]);
        bHasId();
        await bMayGoOn;
        // …and writes Y after A did (as if it had waited for Y's row lock).
        await tx.changeFeed.append([entry('Y')]);
      });
      await bStarted;
      // A, younger, writes Y and commits first.
      await hub.store.transaction((tx) => tx.changeFeed.append([entry('Y')]));
      // While B runs, A's change is not readable: a reader that took it would pass B's X.
      expect((await session.read(cursor, 100)).filter((c) => c.tenant === 'order')).toEqual([]);
      releaseB();
      await b;
      let seen: FeedChange[] = [];
      await until('three changes', async () => {
        seen = (await session.read(cursor, 100)).filter((c) => c.tenant === 'order');
        return seen.length === 3;
      });
      const ids = seen.map((c) => c.id);
      expect(ids.filter((i) => i === 'Y')).toHaveLength(2);
      // Y: A's change before B's (commit order); B's X is not passed over.
      const ys = (
        await pool.query(
          `SELECT key::text, seq::text, n FROM change_feed_changes
           WHERE tenant = 'order' AND entity_id = 'Y' ORDER BY seq`,
        )
      ).rows;
      expect(seen.filter((c) => c.id === 'Y').map((c) => c.position)).toEqual(
        ys.map((r) => `${r.key}.${r.seq}.${r.n}`),
      );
      cursor = cursorOf(seen[2]!.position);
      await session.advance('test.order', cursor);
      expect((await session.read(cursor, 100)).filter((c) => c.tenant === 'order')).toEqual([]);
    } finally {
      await session.close();
    }
  });

  it('reads in the order of the numbers, not of their digits (9 before 10)', async () => {
    await pool.query(
      `INSERT INTO change_feed (key, tenant, entity_id, kind, types, attrs)
       VALUES (10, 'digits', 'b', 'created', '{}', '{}'), (9, 'digits', 'a', 'created', '{}', '{}')`,
    );
    const session = await hub.store.feed.openSession();
    try {
      const first = await session.read({ key: '0', seq: '0', n: 0 }, 1);
      expect(first.map((c) => c.id)).toEqual(['a']);
      expect((await session.read(cursorOf(first[0]!.position), 1)).map((c) => c.id)).toEqual(['b']);
    } finally {
      await session.close();
      await pool.query(`DELETE FROM change_feed WHERE tenant = 'digits'`);
    }
  });

  it('gives a failed batch again, and the cursor survives a new runner', async () => {
    const calls: string[][] = [];
    let fail = true;
    const consumer: ChangeConsumer = {
      name: 'test.retry',
      batchSize: 50,
      async handle(changes) {
        await Promise.resolve();
        const mine = changes.filter((c) => c.tenant === 'retry');
        if (mine.length > 0) calls.push(mine.map((c) => c.id));
        if (fail && mine.length > 0) {
          fail = false;
          throw new Error('first delivery fails');
        }
      },
    };
    const first = run(consumer, 'one');
    await until('held', () => first.holding().includes('test.retry'));
    await hub.store.transaction((tx) =>
      tx.changeFeed.append(
        ['a', 'b'].map((id) => ({
          tenant: 'retry',
          id,
          kind: 'created' as const,
          types: [],
          attributes: [],
        })),
      ),
    );
    await until('two deliveries', () => calls.length >= 2);
    expect(calls.slice(0, 2)).toEqual([
      ['a', 'b'],
      ['a', 'b'],
    ]);
    await first.stop();
    await hub.store.transaction((tx) =>
      tx.changeFeed.append([{ tenant: 'retry', id: 'c', kind: 'created', types: [], attributes: [] }]),
    );
    run(consumer, 'two');
    await until('the next change', () => calls.some((c) => c.includes('c')));
    expect(calls.flat()).toEqual(['a', 'b', 'a', 'b', 'c']);
  });

  it('gives a consumer only the types it asked for, and moves past the others', async () => {
    const got: FeedChange[] = [];
    const r = run({
      name: 'test.types',
      types: ['urn:t:Wanted'],
      handle: (c) => Promise.resolve(void got.push(...c)),
    });
    await until('held', () => r.holding().includes('test.types'));
    await hub.store.transaction((tx) =>
      tx.changeFeed.append([
        { tenant: 'types', id: '1', kind: 'created', types: ['urn:t:Other'], attributes: [] },
        { tenant: 'types', id: '2', kind: 'created', types: ['urn:t:Wanted', 'urn:t:Other'], attributes: [] },
      ]),
    );
    r.wake();
    await until('the wanted change', () => got.length > 0);
    expect(got.map((c) => c.id)).toEqual(['2']);
    await until(
      'the cursor past both',
      async () => (await hub.store.feed.consumers()).find((c) => c.name === 'test.types')?.lagChanges === 0,
    );
  });
});

describe('two runners of one consumer', () => {
  it('never run it at once; the other takes over when the holder stops, without losing a change', async () => {
    let active = 0;
    let most = 0;
    const seen: { runner: string; id: string }[] = [];
    const consumer = (runner: string): ChangeConsumer => ({
      name: 'test.pair',
      batchSize: 5,
      async handle(changes) {
        active++;
        most = Math.max(most, active);
        for (const c of changes) if (c.tenant === 'pair') seen.push({ runner, id: c.id });
        await new Promise((r) => setTimeout(r, 15));
        active--;
      },
    });
    const a = run(consumer('a'), 'a');
    await until('a holds it', () => a.holding().includes('test.pair'));
    const b = run(consumer('b'), 'b');
    const write = (n: number) =>
      hub.store.transaction((tx) =>
        tx.changeFeed.append([{ tenant: 'pair', id: String(n), kind: 'created', types: [], attributes: [] }]),
      );
    for (let n = 0; n < 40; n++) await write(n);
    await until('a read some', () => seen.length >= 10);
    expect(b.holding()).toEqual([]);
    const status = (await hub.store.feed.consumers()).find((c) => c.name === 'test.pair');
    expect(status?.holder).toBe('a');
    await a.stop();
    for (let n = 40; n < 60; n++) await write(n);
    await until('every change', () => new Set(seen.map((s) => s.id)).size === 60);
    expect(b.holding()).toContain('test.pair');
    expect(most).toBe(1);
    // Each change once here (a stopped between batches), and in order.
    expect(seen.map((s) => Number(s.id))).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(seen.some((s) => s.runner === 'a') && seen.some((s) => s.runner === 'b')).toBe(true);
  });
});

describe('stopping', () => {
  it('stops a runner whatever it is doing: opening its session, taking a lock, running a job', async () => {
    let runs = 0;
    let aborted = 0;
    const job = {
      name: 'test.until-aborted',
      run: (signal: AbortSignal) =>
        new Promise<void>((resolve) => {
          runs++;
          signal.addEventListener('abort', () => {
            aborted++;
            resolve();
          });
        }),
    };
    for (let wait = 0; wait < 30; wait += 3) {
      const r = createFeedRunner({
        feed: hub.store.feed,
        consumers: [{ name: 'test.stopping', handle: () => Promise.resolve() }],
        jobs: [job],
        instance: 'stopping',
        pollMs: 10,
        holdRetryMs: 10,
      });
      r.start();
      await new Promise((resolve) => setTimeout(resolve, wait));
      await r.stop();
      expect(r.holding()).toEqual([]);
    }
    // Every run that started was aborted by its stop.
    expect(aborted).toBe(runs);
  });
});

describe('lag and retention', () => {
  it('reports a consumer’s lag in /metrics until it catches up', async () => {
    const session = await hub.store.feed.openSession();
    await session.tryHold('test.lag', 'nobody');
    await session.release('test.lag');
    await session.close();
    await hub.store.transaction((tx) =>
      tx.changeFeed.append(
        [1, 2, 3].map((n) => ({
          tenant: 'lag',
          id: String(n),
          kind: 'created' as const,
          types: [],
          attributes: [],
        })),
      ),
    );
    await new Promise((r) => setTimeout(r, 1100));
    const metric = async (name: string) => {
      const text = (await hub.request({ url: '/metrics' })).body;
      const line = text.split('\n').find((l) => l.startsWith(`${name}{consumer="test.lag"}`));
      return line === undefined ? undefined : Number(line.split(' ').at(-1));
    };
    expect(await metric('citypivot_change_feed_lag_changes')).toBeGreaterThanOrEqual(3);
    expect(await metric('citypivot_change_feed_lag_seconds')).toBeGreaterThanOrEqual(1);
    expect(await metric('citypivot_change_feed_consumer_held')).toBe(0);
    run({ name: 'test.lag', handle: () => Promise.resolve() });
    await until('caught up', async () => (await metric('citypivot_change_feed_lag_changes')) === 0);
    expect(await metric('citypivot_change_feed_lag_seconds')).toBe(0);
    expect(await metric('citypivot_change_feed_consumer_held')).toBe(1);
  });

  it('prunes what every consumer read and is old enough, and keeps what one has not read', async () => {
    // Only this test's consumer holds the feed back.
    await pool.query('DELETE FROM change_feed_consumers');
    const session = await hub.store.feed.openSession();
    try {
      const start = (await session.tryHold('test.retention', 'test'))!;
      // r1..r4 in transactions of their own (a row each), then r5 and r6 in one (one row).
      const append = (ids: string[]) =>
        hub.store.transaction((tx) =>
          tx.changeFeed.append(
            ids.map((id) => ({
              tenant: 'retention',
              id,
              kind: 'created' as const,
              types: [],
              attributes: [],
            })),
          ),
        );
      for (const id of ['r1', 'r2', 'r3', 'r4']) await append([id]);
      await append(['r5', 'r6']);
      let rows: FeedChange[] = [];
      await until('six changes', async () => {
        rows = (await session.read(start, 1000)).filter((c) => c.tenant === 'retention');
        return rows.length === 6;
      });
      const left = async () =>
        (
          await pool.query(
            `SELECT entity_id FROM change_feed_changes WHERE tenant = 'retention' ORDER BY seq, n`,
          )
        ).rows.map((r) => r.entity_id);
      // The consumer read two of them.
      await session.advance('test.retention', cursorOf(rows[1]!.position));
      // Not old enough: nothing goes.
      expect(await hub.store.feed.prune(3_600_000)).toBe(0);
      await pool.query(`UPDATE change_feed SET at = at - interval '2 hours'`);
      expect(await hub.store.feed.prune(3_600_000)).toBeGreaterThanOrEqual(2);
      expect(await left()).toEqual(['r3', 'r4', 'r5', 'r6']);
      // A row read in part stays whole.
      await session.advance('test.retention', cursorOf(rows[4]!.position));
      await hub.store.feed.prune(3_600_000);
      expect(await left()).toEqual(['r5', 'r6']);
      // Read them all: they go too.
      await session.advance('test.retention', cursorOf(rows[5]!.position));
      await hub.store.feed.prune(3_600_000);
      expect(await left()).toEqual([]);
      // The entities' last keys go with the feed rows below them: every change to come is above.
      const heads = await pool.query(
        `SELECT count(*)::int AS n FROM change_feed_heads WHERE tenant = 'retention'`,
      );
      expect(heads.rows[0].n).toBe(0);
      // A consumer removed holds nothing back.
      expect(await hub.store.feed.removeConsumer('test.retention')).toBe(true);
      expect(await hub.store.feed.removeConsumer('test.retention')).toBe(false);
    } finally {
      await session.close();
    }
  });
});
