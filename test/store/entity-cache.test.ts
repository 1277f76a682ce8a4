/**
 * The read-through entity cache: served from memory when nothing changed, never stale for the
 * instance's own writes, dropped by another instance's announcement, bounded in time for changes
 * made outside the hub, not refilled by a read that raced a write, and off while it cannot hear
 * the other instances.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createHubServices } from '../../src/server/hub-services.js';
import { createPostgresStore } from '../../src/store/postgres-store.js';
import { createEntityCache } from '../../src/store/entity-cache.js';
import { CHANGES_CHANNEL } from '../../src/broker/change-stream.js';
import type { Store } from '../../src/core/store.js';
import type { StoredEntity } from '../../src/core/entity-model.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

const CORE = 'https://uri.etsi.org/ngsi-ld/default-context/';
const NO2 = 'https://smartdatamodels.org/dataModel.Environment/no2';
const room = (id: string, temperature: number) => ({
  id,
  type: 'Room',
  temperature: { type: 'Property', value: temperature },
});

/** An entity row as the store holds it. */
const stored = (id: string, temperature: number): StoredEntity => ({
  id,
  types: [`${CORE}Room`],
  attrs: { [`${CORE}temperature`]: [{ type: 'Property', value: temperature }] },
  createdAt: '2026-12-03T00:00:00.000Z',
  modifiedAt: '2026-12-03T00:00:00.000Z',
});

/** Reads through `store` that, once `hold()` was called, read the database and then wait for `release()`. */
function holdingReads(real: Store) {
  let gate: Promise<void> | undefined;
  let open: () => void = () => undefined;
  let haveRead: () => void = () => undefined;
  const store: Store = {
    ...real,
    async getEntity(tenant, id, o) {
      const e = await real.getEntity(tenant, id, o);
      const g = gate;
      if (g) {
        haveRead();
        await g;
      }
      return e;
    },
  };
  return {
    store,
    /** Holds the next read; resolves once it has read the database. */
    hold(): Promise<void> {
      gate = new Promise<void>((r) => (open = r));
      return new Promise<void>((r) => (haveRead = r));
    },
    release(): void {
      gate = undefined;
      open();
    },
  };
}

type Services = Awaited<ReturnType<typeof createHubServices>>;

describe('entity cache', () => {
  let db: TestDatabase;
  const stores: Store[] = [];
  const hubs: Services[] = [];

  async function instance(): Promise<Services> {
    const store = await createPostgresStore({ url: db.url, max: 3 });
    stores.push(store);
    const s = await createHubServices(store, { fetchContexts: false, entityCache: {} });
    await s.start();
    hubs.push(s);
    return s;
  }
  const get = (s: Services, id: string) => s.app.inject({ method: 'GET', url: `/ngsi-ld/v1/entities/${id}` });
  const temperatureOf = async (s: Services, id: string) =>
    (JSON.parse((await get(s, id)).body) as { temperature?: { value: number } }).temperature?.value;
  const patch = (s: Services, id: string, value: number) =>
    s.app.inject({
      method: 'PATCH',
      url: `/ngsi-ld/v1/entities/${id}/attrs/temperature`,
      headers: { 'content-type': 'application/json' },
      payload: { value },
    });

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    for (const h of hubs) {
      await h.stop();
      await h.app.close();
    }
    for (const s of stores) await s.close();
    await db?.drop();
  });

  it('serves a repeated GET from memory and reads its own writes at once', async () => {
    const a = await instance();
    const id = 'urn:ngsi-ld:Room:own';
    const created = await a.app.inject({
      method: 'POST',
      url: '/ngsi-ld/v1/entities',
      headers: { 'content-type': 'application/json' },
      payload: { ...room(id, 20), [NO2]: { type: 'Property', value: 3 } },
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(await temperatureOf(a, id)).toBe(20);
    const before = a.cache?.stats();
    expect(await temperatureOf(a, id)).toBe(20);
    expect(a.cache?.stats().hits).toBe((before?.hits ?? 0) + 1);

    // Answers kept with a cached row differ by query string, media type and @context.
    const answer = async (query: string, headers: Record<string, string> = {}) =>
      (await a.app.inject({ method: 'GET', url: `/ngsi-ld/v1/entities/${id}${query}`, headers })).body;
    for (let round = 0; round < 2; round++) {
      expect(JSON.parse(await answer('?options=keyValues'))).toEqual({
        id,
        type: 'Room',
        temperature: 20,
        [NO2]: 3,
      });
      expect(JSON.parse(await answer(''))).toMatchObject({ temperature: { type: 'Property', value: 20 } });
      expect(JSON.parse(await answer('?pick=id,temperature&options=keyValues'))).toEqual({
        id,
        temperature: 20,
      });
      expect(JSON.parse(await answer('', { accept: 'application/ld+json' }))).toHaveProperty('@context');
      expect(JSON.parse(await answer('', { accept: 'application/json' }))).not.toHaveProperty('@context');
      expect(
        JSON.parse(
          await answer('?options=keyValues', {
            link: '<https://smart-data-models.github.io/dataModel.Environment/context.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"',
          }),
        ),
      ).toMatchObject({ no2: 3 });
      expect(JSON.parse(await answer('?options=keyValues'))).toMatchObject({ [NO2]: 3 });
    }
    for (let v = 21; v <= 25; v++) {
      expect((await patch(a, id, v)).statusCode).toBe(204);
      expect(await temperatureOf(a, id)).toBe(v);
    }
    expect((await a.app.inject({ method: 'DELETE', url: `/ngsi-ld/v1/entities/${id}` })).statusCode).toBe(
      204,
    );
    expect((await get(a, id)).statusCode).toBe(404);
  });

  it('drops a row when another instance announces its change', async () => {
    const a = await instance();
    const b = await instance();
    const id = 'urn:ngsi-ld:Room:shared';
    await a.app.inject({
      method: 'POST',
      url: '/ngsi-ld/v1/entities',
      headers: { 'content-type': 'application/json' },
      payload: room(id, 10),
    });
    expect(await temperatureOf(b, id)).toBe(10);
    expect(await temperatureOf(b, id)).toBe(10); // now from b's cache
    expect((await patch(a, id, 11)).statusCode).toBe(204);
    // The rows are kept 30 s: only the announcement can make b read again within the poll.
    await expect.poll(() => temperatureOf(b, id), { timeout: 5000 }).toBe(11);
    expect((await a.app.inject({ method: 'DELETE', url: `/ngsi-ld/v1/entities/${id}` })).statusCode).toBe(
      204,
    );
    await expect.poll(async () => (await get(b, id)).statusCode, { timeout: 5000 }).toBe(404);

    // A batch's announcement is split into several NOTIFYs (each under PostgreSQL's 8000 bytes): all arrive.
    const upsert = async (value: number) => {
      const r = await a.app.inject({
        method: 'POST',
        url: '/ngsi-ld/v1/entityOperations/upsert',
        headers: { 'content-type': 'application/json' },
        payload: Array.from({ length: 300 }, (_, n) => room(`urn:ngsi-ld:Room:batch-${n}`, value)),
      });
      expect(r.statusCode, r.body).toBeLessThan(300);
    };
    const all = async () =>
      new Set(
        await Promise.all(
          Array.from({ length: 300 }, (_, n) => temperatureOf(b, `urn:ngsi-ld:Room:batch-${n}`)),
        ),
      );
    await upsert(1);
    expect(await all()).toEqual(new Set([1]));
    await upsert(2);
    await expect.poll(all, { timeout: 5000 }).toEqual(new Set([2]));
  });

  it('keeps rows read after it starts even when nothing was written since', async () => {
    const real = await createPostgresStore({ url: db.url, max: 2 });
    stores.push(real);
    const id = 'urn:ngsi-ld:Room:quiet';
    await real.insertEntity('', stored(id, 7));
    const cache = createEntityCache(real, { channel: CHANGES_CHANNEL });
    await cache.start();
    try {
      expect((await cache.store.getEntity('', id))?.id).toBe(id);
      expect((await cache.store.getEntity('', id))?.id).toBe(id);
      expect(cache.stats()).toMatchObject({ hits: 1, misses: 1 });
    } finally {
      await cache.stop();
    }
  });

  it('sees a change made outside the hub after its time to live', async () => {
    const real = await createPostgresStore({ url: db.url, max: 2 });
    stores.push(real);
    let now = 1_000_000;
    const cache = createEntityCache(real, { channel: CHANGES_CHANNEL, ttlMs: 300, clock: () => now });
    await cache.start();
    const id = 'urn:ngsi-ld:Room:by-hand';
    const value = async () => (await cache.store.getEntity('', id))?.attrs[`${CORE}temperature`]?.[0]?.value;
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await cache.store.insertEntity('', stored(id, 5));
      expect(await value()).toBe(5);
      await client.query(
        `UPDATE entities SET attrs = jsonb_set(attrs, '{${CORE}temperature,0,value}', '6') WHERE id = $1`,
        [id],
      );
      now += 299;
      expect(await value()).toBe(5); // from memory: nobody announced the change
      now += 1;
      expect(await value()).toBe(6);
    } finally {
      await client.end();
      await cache.stop();
    }
  });

  it('does not keep a row read while a write dropped it', async () => {
    const real = await createPostgresStore({ url: db.url, max: 2 });
    stores.push(real);
    const slow = holdingReads(real);
    const cache = createEntityCache(slow.store, { channel: CHANGES_CHANNEL, rememberDrops: 2 });
    await cache.start();
    try {
      const id = 'urn:ngsi-ld:Room:race';
      const e = stored(id, 1);
      await cache.store.insertEntity('', e);
      const held = slow.hold();
      const racing = cache.store.getEntity('', id); // reads value 1, then waits
      await held;
      await cache.store.updateEntity('', stored(id, 2));
      slow.release();
      expect((await racing)?.attrs[`${CORE}temperature`]?.[0]?.value).toBe(1);
      // The racing read did not fill the cache: the next read goes to the database.
      const next = await cache.store.getEntity('', id);
      expect(next?.attrs[`${CORE}temperature`]?.[0]?.value).toBe(2);
      expect(cache.stats()).toMatchObject({ hits: 0, misses: 2 });
      // Now it is kept, and frozen.
      const kept = (await cache.store.getEntity('', id)) as StoredEntity;
      expect(cache.stats().hits).toBe(1);
      expect(() => {
        kept.attrs.x = [];
      }).toThrow(TypeError);
      // A read in flight when its key was dropped is not kept either once the drop record has
      // started afresh (three keys dropped, two remembered).
      const valueOf = (e: StoredEntity | undefined) => e?.attrs[`${CORE}temperature`]?.[0]?.value;
      await cache.store.updateEntity('', stored(id, 3));
      const heldAgain = slow.hold();
      const again = cache.store.getEntity('', id);
      await heldAgain;
      await cache.store.updateEntity('', stored(id, 4));
      for (let n = 0; n < 2; n++) await cache.store.insertEntity('', stored(`${id}-${n}`, 0));
      slow.release();
      expect(valueOf(await again)).toBe(3);
      expect(cache.stats().entries).toBe(0);
      expect(valueOf(await cache.store.getEntity('', id))).toBe(4);
    } finally {
      await cache.stop();
    }
  });

  it("drops a transaction's rows after its commit, not before", async () => {
    const real = await createPostgresStore({ url: db.url, max: 3 });
    stores.push(real);
    let commit: () => void = () => undefined;
    let committing: Promise<void> | undefined;
    let reachedCommit: () => void = () => undefined;
    const atCommit = new Promise<void>((r) => (reachedCommit = r));
    // A store whose transactions wait at COMMIT until told: a reader can come in between.
    const atCommitStore: Store = {
      ...real,
      transaction: (fn) =>
        real.transaction(async (tx) => {
          const r = await fn(tx);
          reachedCommit();
          await committing;
          return r;
        }),
    };
    const cache = createEntityCache(atCommitStore, { channel: CHANGES_CHANNEL });
    await cache.start();
    try {
      const id = 'urn:ngsi-ld:Room:commit';
      const value = async () =>
        (await cache.store.getEntity('', id))?.attrs[`${CORE}temperature`]?.[0]?.value;
      await cache.store.insertEntity('', stored(id, 1));
      committing = new Promise<void>((r) => (commit = r));
      const writing = cache.store.transaction((tx) => tx.updateEntity('', stored(id, 2)));
      await atCommit;
      expect(await value()).toBe(1); // not committed yet: read from the database, and kept
      commit();
      await writing;
      expect(await value()).toBe(2);
    } finally {
      await cache.stop();
    }
  });

  it('serves nothing while its LISTEN connection is lost, and listens again', async () => {
    const real = await createPostgresStore({ url: db.url, max: 2 });
    stores.push(real);
    const slow = holdingReads(real);
    const cache = createEntityCache(slow.store, { channel: CHANGES_CHANNEL, relistenMs: 500 });
    await cache.start();
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const id = 'urn:ngsi-ld:Room:deaf';
    await real.insertEntity('', stored(id, 1));
    try {
      expect(cache.stats().serving).toBe(true);
      // A read in flight across the loss is not kept: what changed meanwhile was not heard.
      const held = slow.hold();
      const reading = cache.store.getEntity('', id);
      await held;
      const killed = await client.query<{ n: number }>(
        `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND query ILIKE 'LISTEN%'`,
      );
      expect(killed.rows[0]?.n).toBeGreaterThan(0);
      await expect.poll(() => cache.stats().serving, { timeout: 5000 }).toBe(false);
      await expect.poll(() => cache.stats().serving, { timeout: 5000 }).toBe(true);
      slow.release();
      expect((await reading)?.id).toBe(id);
      expect(cache.stats().entries).toBe(0);
    } finally {
      await client.end();
      await cache.stop();
    }
  });
});
