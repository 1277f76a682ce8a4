/**
 * What a temporal answer holds and how it is ordered: pick/omit on core members, datasetId
 * without a match, vocabulary values compacted, orderBy on the current state, the removed scope
 * on the deletedAt timeline, and PATCH on an URL that names no instance (405).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JSON_CT, createTestHub, json } from '../support/test-hub.js';
import type { TestHub } from '../support/test-hub.js';

const T = '/ngsi-ld/v1/temporal/entities';
const E = '/ngsi-ld/v1/entities';
let hub: TestHub;

beforeAll(async () => {
  hub = await createTestHub();
  // Created in this order, so that creation order differs from id order.
  for (const [id, name] of [
    ['urn:ngsi-ld:Building:sel-b', 'Beta'],
    ['urn:ngsi-ld:Building:sel-a', 'Gamma'],
    ['urn:ngsi-ld:Building:sel-c', 'Alpha'],
  ] as const) {
    const r = await hub.request({
      method: 'POST',
      url: E,
      headers: JSON_CT,
      payload: {
        id,
        type: 'Building',
        scope: '/City/North',
        name: { type: 'Property', value: name },
        category: { type: 'VocabProperty', vocab: 'office' },
        floors: { type: 'Property', value: 3, datasetId: 'urn:ngsi-ld:Dataset:plan' },
      },
    });
    expect(r.statusCode, r.body).toBe(201);
  }
});
afterAll(async () => {
  await hub.close();
});

const ids = (r: Parameters<typeof json>[0]) => json<{ id: string }[]>(r).map((e) => e.id);

describe('temporal selection and order', () => {
  it('pick=id keeps every entity, with its id only', async () => {
    const r = await hub.request({ method: 'GET', url: `${T}?type=Building&pick=id` });
    expect(r.statusCode).toBe(200);
    const body = json<Record<string, unknown>[]>(r);
    expect(body).toHaveLength(3);
    for (const e of body) expect(Object.keys(e)).toEqual(['id']);
  });

  it('omit of every member is 404, not an empty object', async () => {
    const r = await hub.request({
      method: 'GET',
      url: `${T}/urn:ngsi-ld:Building:sel-a?omit=id,type,scope,name,category,floors`,
    });
    expect(r.statusCode).toBe(404);
    expect(json<{ type: string }>(r).type).toBe('https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound');
  });

  it('a datasetId nothing has selects no entity', async () => {
    const none = await hub.request({
      method: 'GET',
      url: `${T}?type=Building&attrs=floors&datasetId=urn:ngsi-ld:Dataset:other`,
    });
    expect(json<unknown[]>(none)).toEqual([]);
    const some = await hub.request({
      method: 'GET',
      url: `${T}?type=Building&attrs=floors&datasetId=urn:ngsi-ld:Dataset:plan`,
    });
    expect(json<unknown[]>(some)).toHaveLength(3);
  });

  it('compacts vocabulary values in temporalValues as in normalized', async () => {
    const r = await hub.request({
      method: 'GET',
      url: `${T}/urn:ngsi-ld:Building:sel-a?attrs=category&options=temporalValues`,
    });
    const body = json<{ category: { type: string; vocabs: [unknown, string][] } }>(r);
    expect(body.category.type).toBe('VocabProperty');
    expect(body.category.vocabs[0]?.[0]).toEqual({ vocab: 'office' });
  });

  it('orders by the current state with orderBy (creation order, a value, descending)', async () => {
    const q = `${T}?type=Building&timerel=after&timeAt=1970-01-01T00:00:00Z&timeproperty=createdAt`;
    const byCreation = await hub.request({ method: 'GET', url: `${q}&orderBy=createdAt` });
    expect(byCreation.statusCode).toBe(200);
    expect(ids(byCreation)).toEqual(['b', 'a', 'c'].map((x) => `urn:ngsi-ld:Building:sel-${x}`));
    const byName = await hub.request({ method: 'GET', url: `${q}&orderBy=name;desc` });
    expect(ids(byName)).toEqual(['a', 'b', 'c'].map((x) => `urn:ngsi-ld:Building:sel-${x}`));
    const paged = await hub.request({ method: 'GET', url: `${q}&orderBy=name&limit=1&offset=1` });
    expect(ids(paged)).toEqual(['urn:ngsi-ld:Building:sel-b']);
  });

  it('records a removed scope on the deletedAt timeline', async () => {
    const id = 'urn:ngsi-ld:Building:sel-c';
    const del = await hub.request({ method: 'DELETE', url: `${E}/${id}/attrs/scope` });
    expect(del.statusCode, del.body).toBe(204);
    const r = await hub.request({ method: 'GET', url: `${T}/${id}?timeproperty=deletedAt` });
    const body = json<{ scope?: { type: string; value: unknown; deletedAt: string }[] }>(r);
    expect(body.scope).toHaveLength(1);
    expect(body.scope?.[0]).toMatchObject({ type: 'Property', value: [] });
    expect(Date.parse(body.scope?.[0]?.deletedAt ?? '')).not.toBeNaN();
    const values = await hub.request({
      method: 'GET',
      url: `${T}/${id}?timeproperty=deletedAt&options=temporalValues`,
    });
    expect(json<{ scope: { values: [unknown, string][] } }>(values).scope.values[0]?.[0]).toEqual([]);
    // On the default timeline the scope is not an attribute.
    const plain = json<Record<string, unknown>>(await hub.request({ method: 'GET', url: `${T}/${id}` }));
    expect(plain.scope).toBeUndefined();
  });

  it('answers 405 to PATCH without an instance id or an attribute name', async () => {
    const id = 'urn:ngsi-ld:Building:sel-a';
    for (const url of [
      `${T}/${id}/attrs/name/`,
      `${T}/${id}/attrs/name`,
      `${T}/${id}/attrs//urn:ngsi-ld:x`,
    ]) {
      const r = await hub.request({ method: 'PATCH', url, headers: JSON_CT, payload: { value: 1 } });
      expect(r.statusCode, url).toBe(405);
    }
  });
});
