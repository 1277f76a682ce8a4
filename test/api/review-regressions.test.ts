/**
 * Regressions found by an independent review: each case once lost data, stored garbage or
 * answered 500.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHub, JSON_CT, json } from '../support/test-hub.js';
import type { TestHub } from '../support/test-hub.js';

let hub: TestHub;
const E = '/ngsi-ld/v1/entities';
type J = Record<string, Record<string, unknown> | string | undefined>;

beforeAll(async () => {
  hub = await createTestHub();
});
afterAll(async () => {
  await hub?.close();
});

const post = (body: unknown) =>
  hub.request({ method: 'POST', url: E, headers: JSON_CT, payload: JSON.stringify(body) });
const get = async (id: string, q = '') =>
  json<J>(await hub.request({ method: 'GET', url: `${E}/${id}${q}` }));

describe('review regressions', () => {
  it('purge with drop reaches every match, even past the first page', async () => {
    const items = Array.from({ length: 1200 }, (_, i) => ({ id: `urn:ngsi-ld:PG:${i}`, type: 'PG', t: i }));
    const res = await hub.request({
      method: 'POST',
      url: '/ngsi-ld/v1/entityOperations/create',
      headers: JSON_CT,
      payload: JSON.stringify(items),
    });
    expect(res.statusCode).toBe(201);
    expect((await hub.request({ method: 'DELETE', url: `${E}?type=PG&q=t&drop=t` })).statusCode).toBe(204);
    const left = await hub.request({ method: 'GET', url: `${E}?type=PG&q=t&count=true&limit=0` });
    expect(left.headers['ngsild-results-count']).toBe('0');
    const all = await hub.request({ method: 'GET', url: `${E}?type=PG&count=true&limit=0` });
    expect(all.headers['ngsild-results-count']).toBe('1200');
  });

  it('merges a concise fragment without a value into the held attribute, keeping its value', async () => {
    await post({
      id: 'urn:ngsi-ld:T:m',
      type: 'T',
      temperature: { type: 'Property', value: 20, accuracy: { type: 'Property', value: 1 } },
    });
    let res = await hub.request({
      method: 'PATCH',
      url: `${E}/urn:ngsi-ld:T:m`,
      headers: JSON_CT,
      payload: JSON.stringify({
        temperature: { observedAt: '2026-01-01T00:00:00Z', precision: { type: 'Property', value: 0.5 } },
      }),
    });
    expect(res.statusCode, res.body).toBe(204);
    let got = await get('urn:ngsi-ld:T:m');
    expect(got.temperature).toMatchObject({
      type: 'Property',
      value: 20,
      observedAt: '2026-01-01T00:00:00.000Z',
      precision: { value: 0.5 },
      accuracy: { value: 1 },
    });
    res = await hub.request({
      method: 'PATCH',
      url: `${E}/urn:ngsi-ld:T:m`,
      headers: JSON_CT,
      payload: JSON.stringify({ temperature: { accuracy: null } }),
    });
    expect(res.statusCode).toBe(204);
    got = await get('urn:ngsi-ld:T:m');
    expect(got.temperature).toMatchObject({ value: 20 });
    expect((got.temperature as Record<string, unknown>).accuracy).toBeUndefined();
  });

  it.each([
    ['a number too large for a double', '{"id":"urn:q:1","type":"T","x":1e400}'],
    [
      'an impossible date',
      JSON.stringify({
        id: 'urn:q:2',
        type: 'T',
        x: { type: 'Property', value: 1, observedAt: '2026-02-30T00:00:00Z' },
      }),
    ],
    ['a NUL character in a value', JSON.stringify({ id: 'urn:q:3', type: 'T', x: 'a\u0000b' })],
    ['a NUL character in the id', JSON.stringify({ id: 'urn:q:\u0000', type: 'T' })],
  ])('refuses %s with 400 and stores nothing', async (_name, payload) => {
    const res = await hub.request({ method: 'POST', url: E, headers: JSON_CT, payload });
    expect(res.statusCode, res.body).toBe(400);
    const any = await hub.request({
      method: 'GET',
      url: `${E}?type=T&idPattern=${encodeURIComponent('^urn:q:')}`,
    });
    expect(json(any)).toEqual([]);
  });

  it.each([
    ['a huge offset', `${E}?type=T&offset=99999999999999999999`],
    ['deeply nested q', `${E}?type=T&q=${'('.repeat(5000)}a==1${')'.repeat(5000)}`],
    ['deeply nested type', `${E}?type=${'('.repeat(5000)}T${')'.repeat(5000)}`],
    ['a NUL character in q', `${E}?type=T&q=${encodeURIComponent('a=="\u0000"')}`],
  ])('answers %s with a 4xx, not a 500', async (_name, url) => {
    const res = await hub.request({ method: 'GET', url });
    expect(res.statusCode, res.body).toBeGreaterThanOrEqual(400);
    expect(res.statusCode, res.body).toBeLessThan(500);
  });

  it('validates the observedAt parameter of merge', async () => {
    await post({ id: 'urn:ngsi-ld:T:o', type: 'T', x: 1 });
    const res = await hub.request({
      method: 'PATCH',
      url: `${E}/urn:ngsi-ld:T:o?observedAt=notadate`,
      headers: JSON_CT,
      payload: '{"x":2}',
    });
    expect(res.statusCode).toBe(400);
    expect((await get('urn:ngsi-ld:T:o')).x).toEqual({ type: 'Property', value: 1 });
  });

  it('reads a concise GeoProperty with metadata back as a GeoProperty, whatever its name', async () => {
    await post({
      id: 'urn:ngsi-ld:T:g',
      type: 'T',
      position: {
        type: 'GeoProperty',
        value: { type: 'Point', coordinates: [1, 2] },
        observedAt: '2026-01-01T00:00:00Z',
      },
    });
    const concise = await get('urn:ngsi-ld:T:g', '?format=concise');
    const again = await post({ ...concise, id: 'urn:ngsi-ld:T:g2' });
    expect(again.statusCode, again.body).toBe(201);
    expect((await get('urn:ngsi-ld:T:g2')).position).toMatchObject({ type: 'GeoProperty' });
  });
});
