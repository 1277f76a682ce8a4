/**
 * The side tables written with each entity: geometry boxes follow a moved, added or removed
 * GeoProperty and are left alone (no row rewritten) when an update does not touch them;
 * discovery pairs of a rolled-back transaction are written again by the next one, even when the
 * rolled-back transaction wrote the same pair twice.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresStore } from '../../src/store/postgres-store.js';
import type { Store } from '../../src/core/store.js';
import type { StoredEntity } from '../../src/core/entity-model.js';
import { createTestDatabase } from '../support/db.js';

const V = 'https://example.org/';
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: Store;

const entity = (id: string, type: string, attrs: StoredEntity['attrs']): StoredEntity => {
  const now = new Date().toISOString();
  return { id, types: [`${V}${type}`], createdAt: now, modifiedAt: now, attrs };
};
const point = (x: number, y: number) => [
  { type: 'GeoProperty' as const, value: { type: 'Point', coordinates: [x, y] } },
];
const geoRows = async (id: string) =>
  (
    await db.pool.query<{ attr: string; bbox: string; ctid: string }>(
      'SELECT attr, bbox::text, ctid::text FROM entity_geo WHERE entity_id = $1 ORDER BY attr',
      [id],
    )
  ).rows;

beforeAll(async () => {
  db = await createTestDatabase();
  store = await createPostgresStore({ url: db.url, max: 2 });
  await store.transaction((tx) => tx.ensureTenant(''));
});
afterAll(async () => {
  await store?.close();
  await db?.drop();
});

describe('geometry boxes', () => {
  it('follow moves, additions and removals, and are not rewritten by other changes', async () => {
    const id = 'urn:ngsi-ld:Bus:1';
    await store.transaction((tx) =>
      tx.insertEntity(
        '',
        entity(id, 'Bus', {
          [`${V}location`]: point(113.6, 34.7),
          [`${V}speed`]: [{ type: 'Property', value: 1 }],
        }),
      ),
    );
    const first = await geoRows(id);
    expect(first.map((r) => r.bbox)).toEqual(['(113.6,34.7),(113.6,34.7)']);
    // A change elsewhere leaves the box row as it was (same physical row).
    await store.transaction((tx) =>
      tx.updateEntity(
        '',
        entity(id, 'Bus', {
          [`${V}location`]: point(113.6, 34.7),
          [`${V}speed`]: [{ type: 'Property', value: 2 }],
        }),
      ),
    );
    expect(await geoRows(id)).toEqual(first);
    // Moved, and a second GeoProperty added.
    await store.transaction((tx) =>
      tx.updateEntity(
        '',
        entity(id, 'Bus', { [`${V}location`]: point(113.7, 34.8), [`${V}destination`]: point(113.9, 34.9) }),
      ),
    );
    expect((await geoRows(id)).map((r) => [r.attr, r.bbox])).toEqual([
      [`${V}destination`, '(113.9,34.9),(113.9,34.9)'],
      [`${V}location`, '(113.7,34.8),(113.7,34.8)'],
    ]);
    // The location removed: its box goes, the other stays.
    await store.transaction((tx) =>
      tx.updateEntity('', entity(id, 'Bus', { [`${V}destination`]: point(113.9, 34.9) })),
    );
    expect((await geoRows(id)).map((r) => r.attr)).toEqual([`${V}destination`]);
    // Several entities in one batch update.
    const ids = ['urn:ngsi-ld:Bus:2', 'urn:ngsi-ld:Bus:3'];
    await store.transaction((tx) =>
      tx.writeEntities(
        '',
        ids.map((i) => entity(i, 'Bus', { [`${V}location`]: point(113, 34) })),
        [],
      ),
    );
    await store.transaction((tx) =>
      tx.writeEntities(
        '',
        [],
        [
          entity(ids[0] as string, 'Bus', {}),
          entity(ids[1] as string, 'Bus', { [`${V}location`]: point(114, 35) }),
        ],
      ),
    );
    expect(await geoRows(ids[0] as string)).toEqual([]);
    expect((await geoRows(ids[1] as string)).map((r) => r.bbox)).toEqual(['(114,35),(114,35)']);
  });
});

describe('discovery pairs', () => {
  const attrsOf = async (type: string) =>
    (await store.listTypes('')).find((t) => t.type === `${V}${type}`)?.attributes.map((a) => a.name) ?? [];

  it('are written again after a rolled-back transaction wrote them (twice)', async () => {
    await expect(
      store.transaction(async (tx) => {
        await tx.insertEntity(
          '',
          entity('urn:ngsi-ld:Kiosk:1', 'Kiosk', { [`${V}stock`]: [{ type: 'Property', value: 1 }] }),
        );
        await tx.insertEntity(
          '',
          entity('urn:ngsi-ld:Kiosk:2', 'Kiosk', { [`${V}stock`]: [{ type: 'Property', value: 2 }] }),
        );
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    await store.transaction((tx) =>
      tx.insertEntity(
        '',
        entity('urn:ngsi-ld:Kiosk:3', 'Kiosk', { [`${V}stock`]: [{ type: 'Property', value: 3 }] }),
      ),
    );
    expect(await attrsOf('Kiosk')).toEqual([`${V}stock`]);
    const pairs = await db.pool.query('SELECT count(*)::int AS n FROM type_attributes WHERE type = $1', [
      `${V}Kiosk`,
    ]);
    expect(pairs.rows[0].n).toBe(1);
  });
});
