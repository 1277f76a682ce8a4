/**
 * Temporal pagination over HTTP (NGSI-LD §6.3.10) on a hub whose instance limit is 5 per
 * attribute: 206 with `Content-Range: date-time <start>-<end>/<size>`, one cut for every
 * attribute and entity of the answer, and the next page asked from the cut on.
 */
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHubServices } from '../../src/server/hub-services.js';
import { createPostgresStore } from '../../src/store/postgres-store.js';
import type { Store } from '../../src/core/store.js';
import { createTestDatabase } from '../support/db.js';
import type { TestDatabase } from '../support/db.js';
import { JSON_CT, json } from '../support/test-hub.js';

const T = '/ngsi-ld/v1/temporal/entities';
let db: TestDatabase;
let store: Store;
let services: Awaited<ReturnType<typeof createHubServices>>;

const inject = (opts: InjectOptions) => services.app.inject(opts);

beforeAll(async () => {
  db = await createTestDatabase();
  store = await createPostgresStore({ url: db.url, max: 4 });
  services = await createHubServices(store, { fetchContexts: false, temporalLimit: 5 });
});
afterAll(async () => {
  await services.app.close();
  await store.close();
  await db.drop();
});

const at = (m: number) => new Date(Date.UTC(2020, 0, 1, 1, m)).toISOString().replace('.000Z', 'Z');

/** `n` instances one minute apart from minute `first`. */
const instances = (first: number, n: number) =>
  Array.from({ length: n }, (_, i) => ({ type: 'Property', value: i, observedAt: at(first + i) }));

type Inst = { value: number; observedAt: string };

beforeAll(async () => {
  for (const [id, speed, fuel] of [
    ['urn:ngsi-ld:Vehicle:page1', instances(1, 8), instances(3, 8)],
    ['urn:ngsi-ld:Vehicle:page2', instances(40, 2), instances(41, 2)],
  ] as const) {
    const r = await inject({
      method: 'POST',
      url: T,
      headers: JSON_CT,
      payload: { id, type: 'Vehicle', speed, fuelLevel: fuel },
    });
    expect(r.statusCode, r.body).toBe(201);
  }
});

describe('temporal pagination', () => {
  it('answers 206 with the range, cutting every attribute where the first one is cut', async () => {
    const r = await inject({ method: 'GET', url: `${T}/urn:ngsi-ld:Vehicle:page1` });
    expect(r.statusCode).toBe(206);
    expect(r.headers['content-range']).toBe(`date-time ${at(1)}-${at(5)}/*`);
    const body = json<{ speed: Inst[]; fuelLevel: Inst[] }>(r);
    expect(body.speed.map((i) => i.observedAt)).toEqual([1, 2, 3, 4, 5].map(at));
    expect(body.fuelLevel.map((i) => i.observedAt)).toEqual([3, 4, 5].map(at));
  });

  it('gives the rest from the cut on (timerel=after the range end), 200 once it fits', async () => {
    const next = await inject({
      method: 'GET',
      url: `${T}/urn:ngsi-ld:Vehicle:page1?timerel=after&timeAt=${at(5)}`,
    });
    expect(next.statusCode).toBe(200);
    expect(next.headers['content-range']).toBeUndefined();
    const body = json<{ speed: Inst[]; fuelLevel: Inst[] }>(next);
    expect(body.speed.map((i) => i.observedAt)).toEqual([6, 7, 8].map(at));
    expect(body.fuelLevel.map((i) => i.observedAt)).toEqual([6, 7, 8, 9, 10].map(at));
  });

  it('runs backwards with lastN past the limit: from timeAt to the cut, size lastN', async () => {
    const r = await inject({
      method: 'GET',
      url: `${T}/urn:ngsi-ld:Vehicle:page1?lastN=8&timerel=before&timeAt=${at(59)}&options=temporalValues`,
    });
    expect(r.statusCode).toBe(206);
    // speed's newest 5 start at 01:04, fuel's at 01:06: the answer reaches back to 01:06 only.
    expect(r.headers['content-range']).toBe(`date-time ${at(59)}-${at(6)}/8`);
    const body = json<{ speed: { values: [number, string][] } }>(r);
    expect(body.speed.values.map((v) => v[1])).toEqual([6, 7, 8].map(at));
  });

  it('does not paginate a lastN within the limit', async () => {
    const r = await inject({ method: 'GET', url: `${T}/urn:ngsi-ld:Vehicle:page1?lastN=3` });
    expect(r.statusCode).toBe(200);
    expect(json<{ speed: Inst[] }>(r).speed).toHaveLength(3);
  });

  it('cuts a query across entities: an entity past the cut shows its attributes empty', async () => {
    const r = await inject({ method: 'GET', url: `${T}?type=Vehicle&timerel=after&timeAt=${at(0)}` });
    expect(r.statusCode).toBe(206);
    expect(r.headers['content-range']).toBe(`date-time ${at(0)}-${at(5)}/*`);
    const body = json<{ id: string; speed: Inst[]; fuelLevel: Inst[] }[]>(r);
    const second = body.find((e) => e.id === 'urn:ngsi-ld:Vehicle:page2');
    expect(second).toMatchObject({ speed: [], fuelLevel: [] });
  });

  it('answers 200 when nothing reaches the limit', async () => {
    const r = await inject({ method: 'GET', url: `${T}/urn:ngsi-ld:Vehicle:page2` });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-range']).toBeUndefined();
  });
});
