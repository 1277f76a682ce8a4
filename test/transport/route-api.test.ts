/**
 * GET /api/v1/traffic/route on the real database: a hand-made network of four segments where the
 * direct road A–B–D (2 × 1,000 m) beats the detour A–C–D (2 × 1,200 m) at free flow (50 km/h:
 * 144 s against 172.8 s), until B–D's live speed drops (the route avoids it), or its flow loads it
 * (BPR, when the live speed is stale). Also: snapping, a later departure, 400s and 404s.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHub, json, JSON_CT, type TestHub } from '../support/test-hub.js';

const T = 'https://smartdatamodels.org/dataModel.Transportation/';
const E = '/ngsi-ld/v1/entities';
const A: [number, number] = [113.6, 34.7];
const B: [number, number] = [113.61, 34.7];
const C: [number, number] = [113.61, 34.705];
const D: [number, number] = [113.62, 34.7];
// Far from the rest, unconnected.
const F1: [number, number] = [113.8, 34.9];
const F2: [number, number] = [113.81, 34.9];
const id = (s: string) => `urn:ngsi-ld:RoadSegment:${s}`;
let hub: TestHub;

const segment = (name: string, a: [number, number], b: [number, number], length: number) => ({
  id: id(name),
  type: `${T}RoadSegment`,
  [`${T}length`]: { type: 'Property', value: length, unitCode: 'MTR' },
  [`${T}maximumAllowedSpeed`]: { type: 'Property', value: 50, unitCode: 'KMH' },
  [`${T}roadClass`]: { type: 'Property', value: 'arterial' },
  [`${T}totalLaneNumber`]: { type: 'Property', value: 2 },
  location: { type: 'GeoProperty', value: { type: 'LineString', coordinates: [a, b] } },
});

beforeAll(async () => {
  hub = await createTestHub();
  const res = await hub.request({
    method: 'POST',
    url: '/ngsi-ld/v1/entityOperations/create',
    headers: JSON_CT,
    payload: JSON.stringify([
      segment('ab', A, B, 1000),
      segment('bd', B, D, 1000),
      segment('ac', A, C, 1200),
      // C typed a millimetre off: still the same node
      segment('cd', [C[0] + 0.00000001, C[1]], D, 1200),
      segment('far', F1, F2, 900),
    ]),
  });
  expect(res.statusCode, res.body).toBe(201);
});
afterAll(async () => {
  await hub?.close();
});

interface RouteAnswer {
  type: string;
  geometry: { type: string; coordinates: number[][] };
  properties: {
    lengthM: number;
    timeS: number;
    freeFlowTimeS: number;
    segments: string[];
    costs: string;
    basis: Record<string, number>;
    from: { snappedTo: number[]; distanceM: number };
  };
}
const route = (query: string, headers: Record<string, string> = {}) =>
  hub.request({ url: `/api/v1/traffic/route?${query}`, headers });
const AtoD = `from=${A.join(',')}&to=${D.join(',')}`;

/** Polls the route (the network is looked at again every 5 s) until `ok`. */
async function routeUntil(query: string, ok: (r: RouteAnswer) => boolean): Promise<RouteAnswer> {
  const end = Date.now() + 20_000;
  for (;;) {
    const res = await route(query);
    expect(res.statusCode, res.body).toBe(200);
    const r = json<RouteAnswer>(res);
    if (ok(r)) return r;
    if (Date.now() > end) throw new Error(`timed out; last route: ${res.body}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const patch = async (name: string, body: Record<string, unknown>) => {
  const res = await hub.request({
    method: 'PATCH',
    url: `${E}/${encodeURIComponent(id(name))}/attrs`,
    headers: JSON_CT,
    payload: JSON.stringify(body),
  });
  expect(res.statusCode, res.body).toBe(204);
};

describe('GET /api/v1/traffic/route', () => {
  it('avoids a segment whose live speed drops, and loads one by BPR when its speed is stale', async () => {
    // Free flow: 2,000 m at 50 km/h = 144 s
    const res = await route(AtoD);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/geo\+json/);
    const free = json<RouteAnswer>(res);
    expect(free.type).toBe('Feature');
    expect(free.geometry).toEqual({ type: 'LineString', coordinates: [A, B, D] });
    expect(free.properties).toMatchObject({
      lengthM: 2000,
      timeS: 144,
      freeFlowTimeS: 144,
      segments: [id('ab'), id('bd')],
      costs: 'current',
      basis: { live: 0, bpr: 0, freeFlow: 2 },
    });

    // B–D at 10 km/h now: 72 + 360 = 432 s; the detour is 2,400 m at 50 km/h = 172.8 s
    const now = new Date().toISOString();
    await patch('bd', { [`${T}averageVehicleSpeed`]: { type: 'Property', value: 10, observedAt: now } });
    const jam = await routeUntil(AtoD, (r) => r.properties.segments.includes(id('ac')));
    expect(jam.properties).toMatchObject({
      lengthM: 2400,
      timeS: 172.8,
      freeFlowTimeS: 172.8,
      segments: [id('ac'), id('cd')],
    });
    expect(jam.geometry.coordinates).toHaveLength(3);

    // The speed 20 minutes old (stale), a fresh flow of 2,800 veh/h on 2 arterial lanes
    // (c = 2 × 1,400): v/c = 1, B–D = 72 × 1.15 = 82.8 s; A–B–D = 154.8 s < 172.8 s
    const old = new Date(Date.now() - 20 * 60_000).toISOString();
    await patch('bd', {
      [`${T}averageVehicleSpeed`]: { type: 'Property', value: 10, observedAt: old },
      [`${T}intensity`]: { type: 'Property', value: 2800, observedAt: new Date().toISOString() },
    });
    const bpr = await routeUntil(AtoD, (r) => r.properties.segments.includes(id('bd')));
    expect(bpr.properties).toMatchObject({
      timeS: 154.8,
      freeFlowTimeS: 144,
      basis: { live: 0, bpr: 1, freeFlow: 1 },
    });

    // A departure two hours ahead: free flow
    const later = new Date(Date.now() + 2 * 3_600_000).toISOString();
    const ahead = json<RouteAnswer>(await route(`${AtoD}&depart=${later}`));
    expect(ahead.properties).toMatchObject({ timeS: 144, costs: 'freeFlow' });
  });

  it('snaps from and to to the nearest node and says how far', async () => {
    // 0.00045° of latitude ≈ 50.0 m south of A; D asked from 0.0001° of longitude (≈ 9.1 m) east
    const r = json<RouteAnswer>(await route(`from=${A[0]},${A[1] - 0.00045}&to=${D[0] + 0.0001},${D[1]}`));
    expect(r.properties.from.snappedTo).toEqual(A);
    expect(r.properties.from.distanceM).toBeCloseTo(50, 0);
    expect(r.geometry.coordinates[0]).toEqual(A);
    expect(r.geometry.coordinates.at(-1)).toEqual(D);
  });

  it('answers 400 naming the parameter', async () => {
    for (const [query, name] of [
      [`to=${D.join(',')}`, 'from'],
      [`from=abc&to=${D.join(',')}`, 'from'],
      [`from=${A.join(',')}&to=200,10`, 'to'],
      [`from=${A.join(',')}&to=1,2,3`, 'to'],
      [`${AtoD}&depart=tomorrow`, 'depart'],
    ] as const) {
      const res = await route(query);
      expect(res.statusCode, query).toBe(400);
      expect(json<{ detail: string }>(res).detail.startsWith(`${name}:`), res.body).toBe(true);
    }
    expect((await route(`${AtoD}&mode=car`)).statusCode).toBe(400);
  });

  it('answers 404 without a road network or without a path', async () => {
    const none = await route(AtoD, { 'NGSILD-Tenant': 'noroads' });
    expect(none.statusCode).toBe(404);
    expect(json<{ type: string }>(none).type).toMatch(/ResourceNotFound$/);
    const cut = await route(`from=${A.join(',')}&to=${F2.join(',')}`);
    expect(cut.statusCode).toBe(404);
    expect(json<{ detail: string }>(cut).detail).toMatch(/No path/);
  });
});
