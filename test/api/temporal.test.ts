/**
 * The NGSI-LD temporal API (NGSI-LD §5.6.11-5.6.16, §5.7.3-5.7.4) on a real database: history
 * written by ordinary entity writes, temporal provision, queries with timerel/lastN/attrs,
 * the simplified and aggregated representations, and bad input answered with ProblemDetails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JSON_CT, createTestHub, json } from '../support/test-hub.js';
import type { TestHub } from '../support/test-hub.js';

const T = '/ngsi-ld/v1/temporal/entities';
const E = '/ngsi-ld/v1/entities';
let hub: TestHub;

beforeAll(async () => {
  hub = await createTestHub();
});
afterAll(async () => {
  await hub.close();
});

const vehicle = (id: string) => ({
  id,
  type: 'Vehicle',
  speed: [
    { type: 'Property', value: 120, observedAt: '2020-08-01T12:03:00Z' },
    { type: 'Property', value: 80, observedAt: '2020-08-01T12:05:00Z' },
    { type: 'Property', value: 100, observedAt: '2020-08-01T12:07:00Z' },
  ],
  fuelLevel: [
    { type: 'Property', value: 67, observedAt: '2020-08-01T12:03:00Z' },
    { type: 'Property', value: 53, observedAt: '2020-08-01T13:05:00Z' },
    { type: 'Property', value: 40, observedAt: '2020-08-01T14:07:00Z' },
  ],
});

type Inst = { value: unknown; observedAt?: string; instanceId: string; deletedAt?: string };

async function provision(id: string): Promise<void> {
  const r = await hub.request({ method: 'POST', url: T, headers: JSON_CT, payload: vehicle(id) });
  expect(r.statusCode, r.body).toBe(201);
}

describe('temporal provision', () => {
  it('creates a temporal entity (201), then updates it (204) replacing same-observedAt instances', async () => {
    const id = 'urn:ngsi-ld:Vehicle:prov1';
    await provision(id);
    const again = await hub.request({
      method: 'POST',
      url: T,
      headers: JSON_CT,
      payload: {
        id,
        type: 'Vehicle',
        speed: [{ type: 'Property', value: 121, observedAt: '2020-08-01T12:03:00Z' }],
      },
    });
    expect(again.statusCode).toBe(204);
    const r = await hub.request({ method: 'GET', url: `${T}/${id}` });
    expect(r.statusCode).toBe(200);
    const body = json<Record<string, Inst[]>>(r);
    expect(body.speed?.map((i) => i.value)).toEqual([121, 80, 100]);
    expect(body.fuelLevel).toHaveLength(3);
    // The current state holds the newest instance of each attribute.
    const cur = json<Record<string, { value: unknown }>>(
      await hub.request({ method: 'GET', url: `${E}/${id}` }),
    );
    expect(cur.speed?.value).toBe(100);
    expect(cur.fuelLevel?.value).toBe(40);
  });

  it('adds attribute instances, modifies and deletes one instance, deletes an attribute and the entity', async () => {
    const id = 'urn:ngsi-ld:Vehicle:prov2';
    await provision(id);
    const add = await hub.request({
      method: 'POST',
      url: `${T}/${id}/attrs`,
      headers: JSON_CT,
      payload: { speed: [{ type: 'Property', value: 90, observedAt: '2020-08-01T12:09:00Z' }] },
    });
    expect(add.statusCode).toBe(204);
    let speed =
      json<Record<string, Inst[]>>(await hub.request({ method: 'GET', url: `${T}/${id}` })).speed ?? [];
    expect(speed.map((i) => i.value)).toEqual([120, 80, 100, 90]);
    const first = speed[0]?.instanceId ?? '';
    const patch = await hub.request({
      method: 'PATCH',
      url: `${T}/${id}/attrs/speed/${first}`,
      headers: JSON_CT,
      payload: { value: 125 },
    });
    expect(patch.statusCode, patch.body).toBe(204);
    const del = await hub.request({
      method: 'DELETE',
      url: `${T}/${id}/attrs/speed/${speed[1]?.instanceId}`,
    });
    expect(del.statusCode).toBe(204);
    speed = json<Record<string, Inst[]>>(await hub.request({ method: 'GET', url: `${T}/${id}` })).speed ?? [];
    expect(speed.map((i) => i.value)).toEqual([125, 100, 90]);
    expect(speed[0]?.instanceId).toBe(first);
    const missing = await hub.request({ method: 'DELETE', url: `${T}/${id}/attrs/speed/urn:ngsi-ld:nope` });
    expect(missing.statusCode).toBe(404);

    expect((await hub.request({ method: 'DELETE', url: `${T}/${id}/attrs/fuelLevel` })).statusCode).toBe(204);
    const after = json<Record<string, unknown>>(await hub.request({ method: 'GET', url: `${T}/${id}` }));
    expect(after.fuelLevel).toBeUndefined();
    expect((await hub.request({ method: 'DELETE', url: `${T}/${id}` })).statusCode).toBe(204);
    expect((await hub.request({ method: 'GET', url: `${T}/${id}` })).statusCode).toBe(404);
    expect((await hub.request({ method: 'GET', url: `${E}/${id}` })).statusCode).toBe(404);
    expect((await hub.request({ method: 'DELETE', url: `${T}/${id}` })).statusCode).toBe(404);
  });

  it('refuses bad temporal entities with 400', async () => {
    for (const payload of [{}, { type: 'Vehicle' }, { id: 'not a uri', type: 'Vehicle' }]) {
      const r = await hub.request({ method: 'POST', url: T, headers: JSON_CT, payload });
      expect(r.statusCode).toBe(400);
    }
  });
});

describe('history of ordinary writes', () => {
  it('records changed instances only, and deletions on the deletedAt timeline', async () => {
    const id = 'urn:ngsi-ld:Sensor:h1';
    const c = await hub.request({
      method: 'POST',
      url: E,
      headers: JSON_CT,
      payload: { id, type: 'Sensor', temp: { value: 1, observedAt: '2024-01-01T00:00:00Z' }, name: 'a' },
    });
    expect(c.statusCode).toBe(201);
    for (const [v, t] of [
      [2, '2024-01-01T00:01:00Z'],
      [3, '2024-01-01T00:02:00Z'],
    ] as const) {
      const r = await hub.request({
        method: 'PATCH',
        url: `${E}/${id}/attrs`,
        headers: JSON_CT,
        payload: { temp: { value: v, observedAt: t } },
      });
      expect(r.statusCode).toBe(204);
    }
    const h = json<Record<string, Inst[]>>(await hub.request({ method: 'GET', url: `${T}/${id}` }));
    expect(h.temp?.map((i) => i.value)).toEqual([1, 2, 3]);
    // name never changed: one instance.
    expect(h.name).toHaveLength(1);
    await hub.request({ method: 'DELETE', url: `${E}/${id}/attrs/temp` });
    const del = json<Record<string, Inst[]>>(
      await hub.request({ method: 'GET', url: `${T}/${id}?timeproperty=deletedAt` }),
    );
    expect(del.temp).toHaveLength(1);
    expect(del.temp?.[0]?.value).toBe('urn:ngsi-ld:null');
    expect(del.temp?.[0]?.deletedAt).toBeDefined();
    // The entity deleted: its history stays.
    expect((await hub.request({ method: 'DELETE', url: `${E}/${id}` })).statusCode).toBe(204);
    const kept = json<Record<string, Inst[]>>(await hub.request({ method: 'GET', url: `${T}/${id}` }));
    expect(kept.temp?.map((i) => i.value)).toEqual([1, 2, 3]);
  });
});

describe('temporal consumption', () => {
  const id = 'urn:ngsi-ld:Vehicle:q1';
  beforeAll(async () => {
    await provision(id);
    await provision('urn:ngsi-ld:Vehicle:q2');
  });

  const values = async (qs: string, attr = 'speed') => {
    const r = await hub.request({ method: 'GET', url: `${T}/${id}?${qs}` });
    expect(r.statusCode, r.body).toBe(200);
    return (json<Record<string, Inst[] | undefined>>(r)[attr] ?? []).map((i) => i.value);
  };

  it('applies timerel before/after/between with exact boundaries', async () => {
    expect(await values('timerel=before&timeAt=2020-08-01T12:05:00Z')).toEqual([120]);
    expect(await values('timerel=after&timeAt=2020-08-01T12:05:00Z')).toEqual([100]);
    expect(
      await values('timerel=between&timeAt=2020-08-01T12:03:00Z&endTimeAt=2020-08-01T12:07:00Z'),
    ).toEqual([120, 80]);
    // An empty range is an empty attribute, not an error.
    expect(await values('timerel=before&timeAt=2000-01-01T00:00:00Z')).toEqual([]);
  });

  it('applies lastN and attrs', async () => {
    expect(await values('lastN=2')).toEqual([80, 100]);
    const r = json<Record<string, unknown>>(
      await hub.request({ method: 'GET', url: `${T}/${id}?attrs=fuelLevel` }),
    );
    expect(r.speed).toBeUndefined();
    expect(r.fuelLevel).toBeDefined();
    expect((await hub.request({ method: 'GET', url: `${T}/${id}?attrs=nothing` })).statusCode).toBe(404);
  });

  it('renders temporalValues', async () => {
    const r = await hub.request({ method: 'GET', url: `${T}/${id}?options=temporalValues&attrs=speed` });
    expect(json(r)).toMatchObject({
      speed: {
        type: 'Property',
        values: [
          [120, '2020-08-01T12:03:00Z'],
          [80, '2020-08-01T12:05:00Z'],
          [100, '2020-08-01T12:07:00Z'],
        ],
      },
    });
  });

  it('aggregates per period (avg, max, totalCount, stddev)', async () => {
    const r = await hub.request({
      method: 'GET',
      url: `${T}/${id}?options=aggregatedValues&aggrMethods=avg,max,totalCount,stddev&aggrPeriodDuration=PT1H`,
    });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.body).toContain('[100.0,"2020-08-01T12:03:00Z","2020-08-01T13:03:00Z"]');
    const b = json<Record<string, Record<string, unknown[][]>>>(r);
    expect(b.fuelLevel?.avg).toEqual([
      [67, '2020-08-01T12:03:00Z', '2020-08-01T13:03:00Z'],
      [53, '2020-08-01T13:03:00Z', '2020-08-01T14:03:00Z'],
      [40, '2020-08-01T14:03:00Z', '2020-08-01T15:03:00Z'],
    ]);
    expect(b.speed?.totalCount).toEqual([[3, '2020-08-01T12:03:00Z', '2020-08-01T13:03:00Z']]);
    const sd = b.speed?.stddev?.[0]?.[0] as number;
    expect(sd).toBeCloseTo(Math.sqrt(((120 - 100) ** 2 + (80 - 100) ** 2 + 0) / 3), 9);
  });

  it('queries entities by type with a time window, and by POST', async () => {
    const r = await hub.request({
      method: 'GET',
      url: `${T}?type=Vehicle&timerel=after&timeAt=2020-08-01T14:00:00Z&count=true`,
    });
    expect(r.statusCode, r.body).toBe(200);
    const list = json<{ id: string; fuelLevel: Inst[] }[]>(r);
    expect(list.map((e) => e.id).sort()).toEqual(
      expect.arrayContaining(['urn:ngsi-ld:Vehicle:q1', 'urn:ngsi-ld:Vehicle:q2']),
    );
    expect(list.find((e) => e.id === id)?.fuelLevel.map((i) => i.value)).toEqual([40]);
    const post = await hub.request({
      method: 'POST',
      url: '/ngsi-ld/v1/temporal/entityOperations/query',
      headers: JSON_CT,
      payload: {
        type: 'Query',
        entities: [{ id, type: 'Vehicle' }],
        temporalQ: { timerel: 'before', timeAt: '2020-08-01T12:04:00Z' },
      },
    });
    expect(post.statusCode, post.body).toBe(200);
    const pl = json<{ id: string; speed: Inst[] }[]>(post);
    expect(pl).toHaveLength(1);
    expect(pl[0]?.speed.map((i) => i.value)).toEqual([120]);
  });

  it.each([
    ['timerel=between&timeAt=2020-08-01T12:00:00Z', 'between without endTimeAt'],
    ['timerel=after', 'timerel without timeAt'],
    ['timerel=during&timeAt=2020-08-01T12:00:00Z', 'unknown timerel'],
    ['timerel=before&timeAt=yesterday', 'bad timeAt'],
    ['options=aggregatedValues&aggrMethods=avg&aggrPeriodDuration=P1X', 'bad duration'],
    ['options=aggregatedValues&aggrMethods=avg&aggrPeriodDuration=PT', 'empty duration'],
    ['options=aggregatedValues&aggrMethods=median', 'unknown aggrMethod'],
    ['options=aggregatedValues', 'aggregation without methods'],
    ['options=temporalValues,aggregatedValues&aggrMethods=sum', 'two representations'],
    ['lastN=0', 'lastN zero'],
    ['timeproperty=seenAt', 'unknown timeproperty'],
  ])('answers %s with 400 ProblemDetails (%s)', async (qs) => {
    const r = await hub.request({ method: 'GET', url: `${T}/${id}?${qs}` });
    expect(r.statusCode).toBe(400);
    expect(json<{ type: string }>(r).type).toBe('https://uri.etsi.org/ngsi-ld/errors/BadRequestData');
  });

  it('needs a filter for a query, and a URI for an entity id', async () => {
    expect(
      (await hub.request({ method: 'GET', url: `${T}?timerel=after&timeAt=2020-01-01T00:00:00Z` }))
        .statusCode,
    ).toBe(400);
    expect((await hub.request({ method: 'GET', url: `${T}/notAUri` })).statusCode).toBe(400);
    expect((await hub.request({ method: 'GET', url: `${T}/urn:ngsi-ld:Vehicle:none` })).statusCode).toBe(404);
  });
});
