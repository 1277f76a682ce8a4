/**
 * The discovery counts (store/postgres-discovery.ts) stay exact through every write path: after
 * each step, what the store lists (every type and attribute, and each one looked up alone) equals
 * what a scan of the entity rows gives, and no count row is left at 0. Covered: the store's own
 * writes (insert, update with and without a locked read, batch write, delete, purge, writes
 * outside a transaction, a rolled-back transaction, concurrent writers), the API's (create,
 * replace, merge, attribute append/update/replace/delete, batch create/upsert/update/merge/delete,
 * purge of entities and of attributes, temporal provision), and the migration that builds the
 * counts of a database written before them.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoredAttribute, StoredEntity } from '../../src/core/entity-model.js';
import type { AttributeSummary, Store, TypeSummary } from '../../src/core/store.js';
import { MIGRATIONS, migrate } from '../../src/store/migrations.js';
import { Names } from '../../src/store/postgres-discovery.js';
import { createPostgresStore } from '../../src/store/postgres-store.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createTestHub, JSON_CT, json, type TestHub } from '../support/test-hub.js';

const V = 'https://example.org/';
const now = () => new Date().toISOString();
const entity = (id: string, types: string[], attrs: Record<string, StoredAttribute[]>): StoredEntity => ({
  id,
  types: types.map((t) => `${V}${t}`),
  createdAt: now(),
  modifiedAt: now(),
  attrs: Object.fromEntries(Object.entries(attrs).map(([k, v]) => [`${V}${k}`, v])),
});
const prop = (value: unknown, datasetId?: string): StoredAttribute => ({
  type: 'Property',
  value,
  ...(datasetId ? { datasetId } : {}),
});
const rel = (object: string, datasetId?: string): StoredAttribute => ({
  type: 'Relationship',
  object,
  ...(datasetId ? { datasetId } : {}),
});
const geo = (x: number, y: number): StoredAttribute => ({
  type: 'GeoProperty',
  value: { type: 'Point', coordinates: [x, y] },
});

/** What discovery must answer, from a scan of the entity rows (independent of the counts). */
async function scanned(pool: pg.Pool, tenant: string) {
  const rows = await pool.query<{ types: string[]; attrs: StoredEntity['attrs'] }>(
    'SELECT types, attrs FROM entities WHERE tenant = $1',
    [tenant],
  );
  const types = new Map<string, { n: number; attrs: Map<string, Set<string>> }>();
  const attrs = new Map<string, { n: number; kinds: Set<string>; types: Set<string> }>();
  for (const row of rows.rows) {
    const ts = [...new Set(row.types)];
    for (const t of ts) {
      const x = types.get(t) ?? { n: 0, attrs: new Map() };
      x.n++;
      types.set(t, x);
    }
    for (const [name, list] of Object.entries(row.attrs)) {
      const kinds = new Set(list.map((i) => i.type));
      if (kinds.size === 0) continue;
      const a = attrs.get(name) ?? { n: 0, kinds: new Set(), types: new Set() };
      a.n++;
      attrs.set(name, a);
      for (const k of kinds) a.kinds.add(k);
      for (const t of ts) {
        a.types.add(t);
        const ta = types.get(t)!.attrs;
        ta.set(name, new Set([...(ta.get(name) ?? []), ...kinds]));
      }
    }
  }
  return {
    types: [...types].map(([type, x]): TypeSummary => ({
      type,
      entityCount: x.n,
      attributes: [...x.attrs].map(([name, k]) => ({ name, kinds: [...k] })),
    })),
    attrs: [...attrs].map(([name, x]): AttributeSummary => ({
      name,
      entityCount: x.n,
      kinds: [...x.kinds],
      types: [...x.types],
    })),
  };
}

const sorted = <T>(list: T[], key: (x: T) => string) => [...list].sort((a, b) => (key(a) < key(b) ? -1 : 1));
const normTypes = (list: TypeSummary[]) =>
  sorted(list, (t) => t.type).map((t) => ({
    ...t,
    attributes: sorted(t.attributes, (a) => a.name).map((a) => ({ ...a, kinds: [...a.kinds].sort() })),
  }));
const normAttrs = (list: AttributeSummary[]) =>
  sorted(list, (a) => a.name).map((a) => ({ ...a, kinds: [...a.kinds].sort(), types: [...a.types].sort() }));

/**
 * The store's listings, whole and one by one, equal the scan; no count row sits at 0 or below.
 * One by one first (after a change of names: from the rows), then whole (the names read again),
 * then one by one again (from the names kept).
 */
async function expectExact(store: Store, pool: pg.Pool, tenant = '') {
  const want = await scanned(pool, tenant);
  const oneByOne = async () => {
    for (const t of want.types)
      expect(normTypes(await store.listTypes(tenant, { type: t.type }))).toEqual(normTypes([t]));
    for (const a of want.attrs)
      expect(normAttrs(await store.listAttributes(tenant, { name: a.name }))).toEqual(normAttrs([a]));
    expect(await store.listTypes(tenant, { type: `${V}Nothing` })).toEqual([]);
    expect(await store.listAttributes(tenant, { name: `${V}nothing` })).toEqual([]);
  };
  await oneByOne();
  expect(normTypes(await store.listTypes(tenant))).toEqual(normTypes(want.types));
  expect(normAttrs(await store.listAttributes(tenant))).toEqual(normAttrs(want.attrs));
  await oneByOne();
  const empty = await pool.query('SELECT * FROM discovery_counts WHERE entities <= 0');
  expect(empty.rows).toEqual([]);
  return want;
}

/** The count and version rows as physical row versions: equal when no row was written. */
const countVersions = async (pool: pg.Pool) =>
  (
    await pool.query<{ v: string }>(
      `SELECT xmin::text || ctid::text AS v FROM discovery_counts
       UNION ALL SELECT xmin::text || ctid::text FROM discovery_shapes ORDER BY 1`,
    )
  ).rows;

describe('the store keeps the discovery counts exact', () => {
  let db: TestDatabase;
  let store: Store;

  beforeAll(async () => {
    db = await createTestDatabase();
    store = await createPostgresStore({ url: db.url, max: 8 });
    await store.transaction(async (tx) => {
      await tx.ensureTenant('');
      await tx.ensureTenant('other');
    });
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it('counts inserted entities of several types and kinds, per tenant', async () => {
    await store.transaction(async (tx) => {
      await tx.insertEntity(
        '',
        entity('urn:ngsi-ld:Bus:1', ['Bus', 'Vehicle'], {
          speed: [prop(40)],
          location: [geo(113.6, 34.7)],
          route: [rel('urn:ngsi-ld:Route:1'), prop('R1', 'urn:ds:text')],
        }),
      );
      await tx.insertEntity('', entity('urn:ngsi-ld:Bus:2', ['Bus'], { speed: [prop(20)] }));
      await tx.insertEntity('other', entity('urn:ngsi-ld:Kiosk:1', ['Kiosk'], { stock: [prop(1)] }));
    });
    const want = await expectExact(store, db.pool);
    expect(want.types.find((t) => t.type === `${V}Bus`)?.entityCount).toBe(2);
    await expectExact(store, db.pool, 'other');
    expect(await store.listTypes('other', { type: `${V}Bus` })).toEqual([]);
  });

  it('answers empty lists for a tenant without entities, from a store that never read it', async () => {
    await store.transaction((tx) => tx.ensureTenant('empty'));
    // Each time from a store of its own: nothing kept, so every statement answers from no rows.
    for (const op of ['types', 'attributes', 'type', 'attribute'] as const) {
      const fresh = await createPostgresStore({ url: db.url, max: 1 });
      try {
        if (op === 'types') expect(await fresh.listTypes('empty')).toEqual([]);
        if (op === 'attributes') expect(await fresh.listAttributes('empty')).toEqual([]);
        if (op === 'type') expect(await fresh.listTypes('empty', { type: `${V}Bus` })).toEqual([]);
        if (op === 'attribute')
          expect(await fresh.listAttributes('empty', { name: `${V}speed` })).toEqual([]);
      } finally {
        await fresh.close();
      }
    }
    expect(await store.listTypes('empty')).toEqual([]);
    expect(await store.listAttributes('empty')).toEqual([]);
  });

  it('leaves no trace of a rolled-back transaction', async () => {
    const before = await countVersions(db.pool);
    await expect(
      store.transaction(async (tx) => {
        await tx.insertEntity('', entity('urn:ngsi-ld:Tram:1', ['Tram'], { speed: [prop(1)] }));
        const held = await tx.getEntity('', 'urn:ngsi-ld:Bus:2', { forUpdate: true });
        await tx.updateEntity('', { ...held!, attrs: { [`${V}door`]: [prop('open')] } });
        await tx.deleteEntity('', 'urn:ngsi-ld:Bus:1');
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await countVersions(db.pool)).toEqual(before);
    expect(await store.listTypes('', { type: `${V}Tram` })).toEqual([]);
    await expectExact(store, db.pool);
  });

  it('writes no count row when an update keeps the types, attributes and kinds', async () => {
    const before = await countVersions(db.pool);
    await store.transaction(async (tx) => {
      const held = await tx.getEntity('', 'urn:ngsi-ld:Bus:1', { forUpdate: true });
      await tx.updateEntity('', { ...held!, attrs: { ...held!.attrs, [`${V}speed`]: [prop(55)] } });
    });
    // Without a locked read first the store reads the row itself; still nothing to write.
    await store.transaction((tx) =>
      tx.updateEntity('', entity('urn:ngsi-ld:Bus:2', ['Bus'], { speed: [prop(21)] })),
    );
    expect(await countVersions(db.pool)).toEqual(before);
  });

  it('drops a kind when the last instance of that kind goes, and an attribute with its last entity', async () => {
    // Bus:1's route is a Relationship and a Property (another dataset); the Property goes.
    await store.transaction(async (tx) => {
      const held = await tx.getEntity('', 'urn:ngsi-ld:Bus:1', { forUpdate: true });
      await tx.updateEntity('', {
        ...held!,
        attrs: { ...held!.attrs, [`${V}route`]: [rel('urn:ngsi-ld:Route:2')] },
      });
    });
    const [route] = await store.listAttributes('', { name: `${V}route` });
    expect(route?.kinds).toEqual(['Relationship']);
    await expectExact(store, db.pool);
    // An update without a locked read first (the store reads the row itself) removes `route`.
    await store.transaction((tx) =>
      tx.updateEntity(
        '',
        entity('urn:ngsi-ld:Bus:1', ['Bus', 'Vehicle'], { speed: [prop(40)], location: [geo(113.6, 34.7)] }),
      ),
    );
    expect(await store.listAttributes('', { name: `${V}route` })).toEqual([]);
    await expectExact(store, db.pool);
    // An entity that loses a type.
    await store.transaction((tx) =>
      tx.updateEntity('', entity('urn:ngsi-ld:Bus:1', ['Bus'], { speed: [prop(40)] })),
    );
    expect(await store.listTypes('', { type: `${V}Vehicle` })).toEqual([]);
    await expectExact(store, db.pool);
  });

  it('follows batch writes, deletes, purges and writes outside a transaction', async () => {
    await store.transaction(async (tx) => {
      const held = await tx.getEntities('', ['urn:ngsi-ld:Bus:1', 'urn:ngsi-ld:Bus:2'], { forUpdate: true });
      const bus1 = held.get('urn:ngsi-ld:Bus:1')!;
      await tx.writeEntities(
        '',
        [1, 2, 3].map((i) => entity(`urn:ngsi-ld:Lamp:${i}`, ['Lamp'], { lit: [prop(i % 2 === 0)] })),
        [{ ...bus1, attrs: { ...bus1.attrs, [`${V}driver`]: [rel('urn:ngsi-ld:Person:1')] } }],
        held,
      );
    });
    await expectExact(store, db.pool);
    // Created and deleted in one transaction: no net change.
    const before = await countVersions(db.pool);
    await store.transaction(async (tx) => {
      await tx.insertEntity('', entity('urn:ngsi-ld:Lamp:9', ['Lamp'], { lit: [prop(true)] }));
      expect(await tx.deleteEntity('', 'urn:ngsi-ld:Lamp:9')).toBe(true);
    });
    expect(await countVersions(db.pool)).toEqual(before);
    await store.transaction((tx) => tx.deleteEntity('', 'urn:ngsi-ld:Lamp:1'));
    await expectExact(store, db.pool);
    const gone = await store.transaction((tx) =>
      tx.deleteMatching('', {
        type: { kind: 'type', name: `${V}Lamp` },
        limit: 1000,
        offset: 0,
        count: false,
      }),
    );
    expect(gone.map((e) => e.id).sort()).toEqual(['urn:ngsi-ld:Lamp:2', 'urn:ngsi-ld:Lamp:3']);
    expect(await store.listTypes('', { type: `${V}Lamp` })).toEqual([]);
    await expectExact(store, db.pool);
    // Outside a transaction each write is one of its own.
    await store.insertEntity('', entity('urn:ngsi-ld:Lamp:5', ['Lamp'], { lit: [prop(true)] }));
    await store.updateEntity('', entity('urn:ngsi-ld:Lamp:5', ['Lamp'], { lit: [rel('urn:x:1')] }));
    await expectExact(store, db.pool);
    await store.deleteEntity('', 'urn:ngsi-ld:Lamp:5');
    await expectExact(store, db.pool);
  });

  it('answers what another hub instance wrote (the names a store keeps follow the version)', async () => {
    const other = await createPostgresStore({ url: db.url, max: 2 });
    try {
      await expectExact(store, db.pool);
      await other.transaction((tx) =>
        tx.insertEntity('', entity('urn:ngsi-ld:Bus:8', ['Bus', 'Coach'], { wifi: [prop(true)] })),
      );
      const [coach] = await store.listTypes('', { type: `${V}Coach` });
      expect(coach?.attributes.map((a) => a.name)).toEqual([`${V}wifi`]);
      await expectExact(store, db.pool);
      await other.transaction((tx) => tx.deleteEntity('', 'urn:ngsi-ld:Bus:8'));
      expect((await store.listTypes('')).map((t) => t.type)).not.toContain(`${V}Coach`);
      await expectExact(store, db.pool);
      // A change no longer in the log (pruned): the names are read again.
      const before = await db.pool.query<{ v: string }>(`SELECT version::text AS v FROM discovery_shapes`);
      await other.insertEntity('', entity('urn:ngsi-ld:Bus:9', ['Coach'], { wifi: [prop(true)] }));
      await other.insertEntity('', entity('urn:ngsi-ld:Bus:10', ['Bus'], { toilet: [prop(true)] }));
      await db.pool.query('DELETE FROM discovery_name_log WHERE version = $1::bigint + 1', [
        before.rows[0]!.v,
      ]);
      await expectExact(store, db.pool);
      await other.deleteEntity('', 'urn:ngsi-ld:Bus:9');
      await other.deleteEntity('', 'urn:ngsi-ld:Bus:10');
      await expectExact(store, db.pool);
    } finally {
      await other.close();
    }
  });

  it('stays exact under concurrent writers of the same types and attributes', async () => {
    const attrsOf = (i: number) =>
      Object.fromEntries(
        [`a${i % 5}`, `a${(i + 2) % 5}`, 'shared'].map((a, j) => [a, [j === 0 ? rel('urn:x:1') : prop(i)]]),
      );
    // Each writer creates entities whose keys come in a different order, then deletes some;
    // listings run meanwhile.
    let writing = true;
    const reader = (async () => {
      let reads = 0;
      while (writing || reads === 0) {
        for (const t of await store.listTypes('')) expect(t.entityCount).toBeGreaterThan(0);
        for (const a of await store.listAttributes('')) expect(a.types.length).toBeGreaterThan(0);
        reads++;
      }
      return reads;
    })();
    await Promise.all(
      Array.from({ length: 12 }, (_, w) =>
        (async () => {
          for (let round = 0; round < 3; round++) {
            await store.transaction(async (tx) => {
              for (let k = 0; k < 4; k++) {
                const i = w * 100 + round * 10 + k;
                const types = (w + k) % 2 === 0 ? ['Cam', 'Pole'] : ['Pole', 'Cam', `T${k}`];
                await tx.insertEntity('', entity(`urn:ngsi-ld:Cam:${i}`, types, attrsOf(i)));
              }
            });
            await store.transaction(async (tx) => {
              const id = `urn:ngsi-ld:Cam:${w * 100 + round * 10}`;
              await tx.getEntity('', id, { forUpdate: true });
              await tx.deleteEntity('', id);
            });
          }
        })(),
      ),
    ).finally(() => (writing = false));
    expect(await reader).toBeGreaterThan(0);
    const want = await expectExact(store, db.pool);
    expect(want.types.find((t) => t.type === `${V}Cam`)?.entityCount).toBe(12 * 3 * 3);
  });
});

describe('the migration builds the counts of entities written before it', () => {
  let db: TestDatabase;
  let store: Store | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it('counts every stored row and keeps type_attributes as a view', async () => {
    await migrate(
      db.pool,
      MIGRATIONS.filter((m) => m.version < 8),
    );
    const insert = (tenant: string, e: StoredEntity) =>
      db.pool.query(
        `INSERT INTO entities (tenant, id, types, created_at, modified_at, attrs, attr_names)
         VALUES ($1, $2, $3, now(), now(), $4, $5)`,
        [tenant, e.id, e.types, JSON.stringify(e.attrs), Object.keys(e.attrs)],
      );
    await insert(
      '',
      entity('urn:ngsi-ld:Bus:1', ['Bus', 'Vehicle'], {
        speed: [prop(1)],
        route: [rel('urn:r:1'), prop('x', 'urn:ds:1')],
      }),
    );
    await insert('', entity('urn:ngsi-ld:Bus:2', ['Bus'], { speed: [prop(2)], location: [geo(1, 2)] }));
    // An attribute without instances counts for nothing.
    await insert('', entity('urn:ngsi-ld:Bus:3', ['Bus'], { speed: [prop(3)], empty: [] }));
    await insert('city2', entity('urn:ngsi-ld:Bus:1', ['Bus'], { seats: [prop(50)] }));
    store = await createPostgresStore({ url: db.url, max: 2 });
    const want = await expectExact(store, db.pool);
    expect(want.types.find((t) => t.type === `${V}Bus`)?.entityCount).toBe(3);
    await expectExact(store, db.pool, 'city2');
    const pairs = await db.pool.query<{ type: string; attr: string }>(
      `SELECT type, attr FROM type_attributes WHERE tenant = '' ORDER BY type, attr`,
    );
    expect(pairs.rows.map((r) => `${r.type.slice(V.length)} ${r.attr.slice(V.length)}`)).toEqual([
      'Bus location',
      'Bus route',
      'Bus speed',
      'Vehicle route',
      'Vehicle speed',
    ]);
    // Written after the migration, counted on from there.
    await store.transaction((tx) => tx.deleteEntity('', 'urn:ngsi-ld:Bus:1'));
    await expectExact(store, db.pool);
  });
});

describe('every API write path keeps discovery exact', () => {
  let hub: TestHub;
  let pool: pg.Pool;
  const E = '/ngsi-ld/v1/entities';
  const B = '/ngsi-ld/v1/entityOperations';
  const T = '/ngsi-ld/v1/temporal/entities';

  beforeAll(async () => {
    hub = await createTestHub();
    pool = new pg.Pool({ connectionString: hub.url, max: 2 });
  });
  afterAll(async () => {
    await pool?.end();
    await hub?.close();
  });

  /** Sends a write, expects a 2xx, then checks the counts. */
  const write = async (method: 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, body?: unknown) => {
    const res = await hub.request({
      method,
      url,
      ...(body === undefined ? {} : { headers: JSON_CT, payload: JSON.stringify(body) }),
    });
    expect(res.statusCode, `${method} ${url}: ${res.body}`).toBeLessThan(300);
    return expectExact(hub.store, pool);
  };
  const s = (n: number) => `urn:ngsi-ld:Sensor:${n}`;

  it('create, attribute writes, merge, replace and delete', async () => {
    await write('POST', E, {
      id: s(1),
      type: ['Sensor', 'Device'],
      temperature: { type: 'Property', value: 20 },
      location: { type: 'GeoProperty', value: { type: 'Point', coordinates: [113.6, 34.7] } },
      owner: { type: 'Relationship', object: 'urn:ngsi-ld:Org:1' },
      label: { type: 'LanguageProperty', languageMap: { en: 'hall', zh: '大厅' } },
      category: { type: 'VocabProperty', vocab: 'indoor' },
      config: { type: 'JsonProperty', json: { a: 1 } },
      readings: { type: 'ListProperty', valueList: [1, 2] },
    });
    await write('POST', E, { id: s(2), type: 'Sensor', owner: { type: 'Property', value: 'city' } });
    const one = json<{
      entityCount: number;
      attributeDetails: { attributeName: string; attributeTypes: string[] }[];
    }>(await hub.request({ method: 'GET', url: '/ngsi-ld/v1/types/Sensor' }));
    expect(one.entityCount).toBe(2);
    expect(Object.fromEntries(one.attributeDetails.map((a) => [a.attributeName, a.attributeTypes]))).toEqual({
      category: ['VocabProperty'],
      config: ['JsonProperty'],
      label: ['LanguageProperty'],
      location: ['GeoProperty'],
      owner: ['Property', 'Relationship'],
      readings: ['ListProperty'],
      temperature: ['Property'],
    });
    const before = await countVersions(pool);
    await write('PATCH', `${E}/${s(1)}/attrs/temperature`, { value: 21 });
    expect(await countVersions(pool)).toEqual(before);
    await write('POST', `${E}/${s(2)}/attrs`, { humidity: { type: 'Property', value: 50 } });
    await write('PATCH', `${E}/${s(2)}/attrs`, { humidity: { type: 'Property', value: 51 } });
    await write('PATCH', `${E}/${s(2)}`, { status: { type: 'Property', value: 'ok' } });
    // Sensor:1's owner, the last Relationship among Sensors' owners, becomes a Property.
    await write('PUT', `${E}/${s(1)}/attrs/owner`, { type: 'Property', value: 'city' });
    const owner = json<{ attributeTypes: string[]; attributeCount: number }>(
      await hub.request({ method: 'GET', url: '/ngsi-ld/v1/attributes/owner' }),
    );
    expect(owner).toMatchObject({ attributeTypes: ['Property'], attributeCount: 2 });
    await write('DELETE', `${E}/${s(1)}/attrs/category`);
    await write('PUT', `${E}/${s(2)}`, {
      id: s(2),
      type: 'Sensor',
      pressure: { type: 'Property', value: 1 },
    });
    await write('DELETE', `${E}/${s(2)}`);
    expect((await hub.request({ method: 'GET', url: '/ngsi-ld/v1/attributes/pressure' })).statusCode).toBe(
      404,
    );
  });

  it('batch create, upsert, update, merge and delete', async () => {
    const lamp = (n: number, extra: object = {}) => ({
      id: `urn:ngsi-ld:Lamp:${n}`,
      type: 'Lamp',
      lit: { type: 'Property', value: true },
      ...extra,
    });
    await write('POST', `${B}/create`, [lamp(1), lamp(2), lamp(3)]);
    await write('POST', `${B}/upsert`, [
      lamp(3, { pole: { type: 'Relationship', object: 'urn:p:1' } }),
      lamp(4),
    ]);
    await write('POST', `${B}/upsert?options=update`, [lamp(4, { watts: { type: 'Property', value: 9 } })]);
    await write('POST', `${B}/update`, [
      { id: 'urn:ngsi-ld:Lamp:1', type: 'Lamp', watts: { type: 'Property', value: 5 } },
    ]);
    await write('POST', `${B}/merge`, [
      { id: 'urn:ngsi-ld:Lamp:2', type: 'Lamp', lit: { type: 'Property', value: false } },
    ]);
    await write('POST', `${B}/delete`, ['urn:ngsi-ld:Lamp:1', 'urn:ngsi-ld:Lamp:4']);
  });

  it('purge of attributes and of entities', async () => {
    await write('DELETE', `${E}?type=Lamp&drop=lit`);
    await write('DELETE', `${E}?type=Lamp`);
    expect((await hub.request({ method: 'GET', url: '/ngsi-ld/v1/types/Lamp' })).statusCode).toBe(404);
  });

  it('temporal provision', async () => {
    const bus = 'urn:ngsi-ld:Bus:7';
    await write('POST', T, {
      id: bus,
      type: 'Bus',
      speed: [
        { type: 'Property', value: 10, observedAt: '2024-01-01T00:00:00Z' },
        { type: 'Property', value: 12, observedAt: '2024-01-01T00:01:00Z' },
      ],
    });
    await write('POST', `${T}/${bus}/attrs`, {
      driver: [{ type: 'Relationship', object: 'urn:ngsi-ld:Person:1', observedAt: '2024-01-01T00:02:00Z' }],
    });
    await write('DELETE', `${T}/${bus}/attrs/driver`);
    expect((await hub.request({ method: 'GET', url: '/ngsi-ld/v1/attributes/driver' })).statusCode).toBe(404);
    await write('DELETE', `${T}/${bus}`);
    const types = json<{ typeList: string[] }>(
      await hub.request({ method: 'GET', url: '/ngsi-ld/v1/types' }),
    );
    expect(types.typeList.sort()).toEqual(['Device', 'Sensor']);
  });
});

describe('names kept by a store, brought up to date from the log of changes', () => {
  /** A deterministic pseudo-random generator (mulberry32). */
  const random = (seed: number) => () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const columns = (keys: Set<string>): [string[], string[], string[]] => {
    const cols: [string[], string[], string[]] = [[], [], []];
    for (const k of keys) k.split('|').forEach((x, i) => cols[i]!.push(x));
    return cols;
  };
  const plain = (n: Names) => ({
    types: [...n.types].map(([t, list]) => [t, list.map((a) => [a.name, [...a.kinds]])]),
    attrNames: [...n.attrNames],
    attrs: n.attrNames.map((a) => [a, [...n.attrs.get(a)!.kinds], [...n.attrs.get(a)!.types]]),
    attrCount: n.attrs.size,
  });

  it('equal the names read again, after any sequence of rows created and deleted', () => {
    const next = random(7);
    const pick = <T>(list: T[]) => list[Math.floor(next() * list.length)]!;
    const types = ['T0', 'T1', 'T2', 'T3'];
    const attrs = ['a0', 'a1', 'a2', 'a3', 'a4', 'a5'];
    const kinds = ['Property', 'Relationship', 'GeoProperty'];
    for (let run = 0; run < 50; run++) {
      const keys = new Set<string>();
      let names = Names.of('0', columns(keys));
      // Changes of the versions not applied yet: a reader may be several versions behind.
      let pending: { type: string; attr: string; kind: string; added: boolean }[] = [];
      const log = (key: string, added: boolean) => {
        if (keys.has(key) === added) return;
        if (added) keys.add(key);
        else keys.delete(key);
        const [type, attr, kind] = key.split('|') as [string, string, string];
        pending.push({ type, attr, kind, added });
      };
      for (let version = 1; version <= 20; version++) {
        // One version: a few rows of names created or deleted, a type's own row kept while it
        // has attributes (as the counts do).
        for (let i = 0, n = 1 + Math.floor(next() * 4); i < n; i++) {
          const type = pick(types);
          if (next() < 0.2) {
            // The last entity of a type goes.
            for (const k of [...keys]) if (k.startsWith(`${type}|`)) log(k, false);
            continue;
          }
          const key = `${type}|${pick(attrs)}|${pick(kinds)}`;
          if (keys.has(key)) log(key, false);
          else {
            log(`${type}||`, true);
            log(key, true);
          }
        }
        if (next() < 0.5 && version < 20) continue;
        names = names.apply(String(version), pending);
        pending = [];
        expect(plain(names)).toEqual(plain(Names.of(String(version), columns(keys))));
      }
    }
  });
});
