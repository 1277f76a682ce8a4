/**
 * Entity queries by id, type, attribute value and geometry have an index path: with sequential
 * scans priced out, the planner finds a plan that never scans the entities table whole.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { createPostgresStore } from '../../src/store/postgres-store.js';
import { buildEntityFilter } from '../../src/store/entity-filter.js';
import { parseQ } from '../../src/core/query/q-parser.js';
import { parseGeoQuery } from '../../src/core/geo/geo-query.js';
import type { EntityQuery, Store } from '../../src/core/store.js';
import { createTestDatabase } from '../support/db.js';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: Store;
const V = 'https://example.org/';

beforeAll(async () => {
  db = await createTestDatabase();
  store = await createPostgresStore({ url: db.url, max: 2 });
  const now = new Date().toISOString();
  await store.transaction(async (tx) => {
    await tx.ensureTenant('');
    for (let i = 0; i < 300; i++) {
      await tx.insertEntity('', {
        id: `urn:ngsi-ld:Sensor:${i}`,
        types: [`${V}${i % 3 === 0 ? 'Air' : 'Noise'}`],
        createdAt: now,
        modifiedAt: now,
        attrs: {
          [`${V}pm25`]: [{ type: 'Property', value: i }],
          [`${V}name`]: [{ type: 'Property', value: `s${i}` }],
          [`${V}location`]: [
            { type: 'GeoProperty', value: { type: 'Point', coordinates: [113 + i / 1000, 34 + i / 1000] } },
          ],
        },
      });
    }
  });
  await db.pool.query('ANALYZE');
});
afterAll(async () => {
  await store?.close();
  await db?.drop();
});

async function plan(query: Partial<EntityQuery>): Promise<string> {
  const params: unknown[] = [''];
  const { from, where } = buildEntityFilter({ limit: 20, offset: 0, count: false, ...query }, params);
  const client: pg.PoolClient = await db.pool.connect();
  try {
    await client.query('SET enable_seqscan = off');
    const r = await client.query<{ 'QUERY PLAN': string }>(
      `EXPLAIN SELECT e.id FROM ${from} WHERE ${where}`,
      params,
    );
    return r.rows.map((x) => x['QUERY PLAN']).join('\n');
  } finally {
    await client.query('RESET enable_seqscan');
    client.release();
  }
}

const expand = (t: string) => `${V}${t}`;

describe('query plans use indexes', () => {
  it.each<[string, Partial<EntityQuery>]>([
    ['id', { ids: ['urn:ngsi-ld:Sensor:5'] }],
    ['type', { type: { kind: 'type', name: `${V}Air` } }],
    [
      'type list',
      {
        type: {
          kind: 'or',
          items: [
            { kind: 'type', name: `${V}Air` },
            { kind: 'type', name: `${V}Noise` },
          ],
        },
      },
    ],
    ['q equality', { q: { expr: parseQ('pm25==42'), expandAttr: expand, expandValue: expand } }],
    ['q string equality', { q: { expr: parseQ('name=="s42"'), expandAttr: expand, expandValue: expand } }],
    ['attribute existence', { withAnyAttr: [`${V}pm25`] }],
    [
      'geometry',
      {
        geo: {
          query: parseGeoQuery({
            georel: 'near;maxDistance==1000',
            geometry: 'Point',
            coordinates: '[113.1,34.1]',
          })!,
          geoPropertyIri: `${V}location`,
        },
      },
    ],
  ])('%s', async (_name, query) => {
    const p = await plan(query);
    expect(p, p).not.toMatch(/Seq Scan on entities/);
    expect(p, p).toMatch(/Index|Bitmap/);
  });
});
