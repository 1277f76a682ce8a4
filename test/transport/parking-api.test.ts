/**
 * Parking guidance on the real database: GET /api/v1/parking/nearest (at least `min` free spaces,
 * by distance or by travel time over the road network, 400s), and the consumer
 * `transport.parking-occupancy`: a car park's trend over the last hour and occupancy, the
 * occupancy of each area's on-street bays as a ParkingGroup (by areaServed, or by the District
 * polygon holding the bay), recounted when a bay changes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHub, json, JSON_CT, type TestHub } from '../support/test-hub.js';
import { areaGroupId } from '../../src/transport/parking-occupancy.js';

const P = 'https://smartdatamodels.org/dataModel.Parking/';
const T = 'https://smartdatamodels.org/dataModel.Transportation/';
const SDM = 'https://smartdatamodels.org/';
const E = '/ngsi-ld/v1/entities';
const A: [number, number] = [113.6, 34.7];
const B: [number, number] = [113.61, 34.7];
const C: [number, number] = [113.6, 34.716];
let hub: TestHub;

const point = (p: [number, number]) => ({ type: 'GeoProperty', value: { type: 'Point', coordinates: p } });
const prop = (value: unknown, observedAt?: string) => ({
  type: 'Property',
  value,
  ...(observedAt ? { observedAt } : {}),
});
const carPark = (n: string, at: [number, number], free: number, total: number, observedAt?: string) => ({
  id: `urn:ngsi-ld:OffStreetParking:${n}`,
  type: `${P}OffStreetParking`,
  [`${SDM}name`]: prop(`Car park ${n}`),
  [`${P}availableSpotNumber`]: prop(free, observedAt),
  [`${P}totalSpotNumber`]: prop(total),
  location: point(at),
});
const road = (n: string, a: [number, number], b: [number, number], length: number, speed: number) => ({
  id: `urn:ngsi-ld:RoadSegment:${n}`,
  type: `${T}RoadSegment`,
  [`${T}length`]: prop(length),
  [`${T}maximumAllowedSpeed`]: prop(speed),
  location: { type: 'GeoProperty', value: { type: 'LineString', coordinates: [a, b] } },
});

async function send(method: 'POST' | 'PATCH', url: string, body: unknown) {
  const res = await hub.request({ method, url, headers: JSON_CT, payload: JSON.stringify(body) });
  expect(res.statusCode, res.body).toBeLessThan(300);
}

async function until<X>(what: string, get: () => Promise<X | undefined>): Promise<X> {
  const end = Date.now() + 20_000;
  for (;;) {
    const x = await get();
    if (x !== undefined) return x;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

type Attr = { value?: unknown; observedAt?: string; since?: { value?: unknown } };
type Stored = Record<string, Attr>;
const entity = async (id: string) => {
  const res = await hub.request({ url: `${E}/${encodeURIComponent(id)}` });
  return res.statusCode === 200 ? json<Stored>(res) : undefined;
};

beforeAll(async () => {
  hub = await createTestHub();
  // Roads: A–B slow (1,000 m at 10 km/h = 360 s), A–C fast (2,000 m at 100 km/h = 72 s)
  await send('POST', '/ngsi-ld/v1/entityOperations/create', [
    road('ab', A, B, 1000, 10),
    road('ac', A, C, 2000, 100),
    carPark('near-b', [B[0], B[1] + 0.0002], 5, 100),
    carPark('near-c', [C[0] + 0.0002, C[1]], 50, 200),
    carPark('full-at-a', [A[0] + 0.0001, A[1]], 0, 80),
  ]);
});
afterAll(async () => {
  await hub?.close();
});

interface Nearest {
  by: string;
  carParks: { id: string; name?: string; free: number; total?: number; distanceM: number; timeS?: number }[];
}
const nearest = async (query: string) => {
  const res = await hub.request({ url: `/api/v1/parking/nearest?${query}` });
  expect(res.statusCode, res.body).toBe(200);
  return json<Nearest>(res);
};
const names = (n: Nearest) => n.carParks.map((p) => p.id.split(':').pop());

describe('GET /api/v1/parking/nearest', () => {
  it('lists car parks with at least min free spaces, nearest first', async () => {
    const r = await nearest(`near=${A.join(',')}&min=1`);
    expect(names(r)).toEqual(['near-b', 'near-c']);
    const [b, c] = r.carParks;
    expect(b).toMatchObject({ name: 'Car park near-b', free: 5, total: 100 });
    // B is 0.01° of longitude east (≈ 915 m) and 0.0002° north (≈ 22 m)
    expect(b?.distanceM).toBeGreaterThan(910);
    expect(b?.distanceM).toBeLessThan(920);
    expect(c?.distanceM).toBeGreaterThan(b?.distanceM ?? 0);
    expect(names(await nearest(`near=${A.join(',')}&min=0`))).toEqual(['full-at-a', 'near-b', 'near-c']);
    expect(names(await nearest(`near=${A.join(',')}&min=10`))).toEqual(['near-c']);
    expect(names(await nearest(`near=${A.join(',')}&min=0&limit=1`))).toEqual(['full-at-a']);
  });

  it('orders by travel time over the road network with by=time', async () => {
    const r = await nearest(`near=${A.join(',')}&min=1&by=time`);
    expect(names(r)).toEqual(['near-c', 'near-b']);
    expect(r.carParks.map((p) => p.timeS)).toEqual([72, 360]);
  });

  it('answers 400 naming the parameter', async () => {
    for (const [query, name] of [
      ['min=1', 'near'],
      ['near=113.6', 'near'],
      [`near=${A.join(',')}&min=-1`, 'min'],
      [`near=${A.join(',')}&min=two`, 'min'],
      [`near=${A.join(',')}&by=walking`, 'by'],
      [`near=${A.join(',')}&limit=0`, 'limit'],
    ] as const) {
      const res = await hub.request({ url: `/api/v1/parking/nearest?${query}` });
      expect(res.statusCode, query).toBe(400);
      expect(json<{ detail: string }>(res).detail.startsWith(`${name}:`), res.body).toBe(true);
    }
  });
});

describe('parking occupancy from the change feed', () => {
  it('gives a car park its trend over the last hour and its occupancy', async () => {
    const id = 'urn:ngsi-ld:OffStreetParking:trend';
    const ago = (min: number) => new Date(Date.now() - min * 60_000).toISOString();
    const t70 = ago(70);
    await send('POST', E, carPark('trend', [113.7, 34.8], 20, 100, t70));
    await send('PATCH', `${E}/${encodeURIComponent(id)}/attrs`, {
      [`${P}availableSpotNumber`]: prop(10, ago(30)),
    });
    const tNow = ago(0);
    await send('PATCH', `${E}/${encodeURIComponent(id)}/attrs`, {
      [`${P}availableSpotNumber`]: prop(5, tNow),
    });
    // Now 5 free; the newest reading at or before an hour ago is 20 (70 min ago): −15
    const e = await until('the trend of now', async () => {
      const x = await entity(id);
      return x?.availableSpotTrend?.value === -15 ? x : undefined;
    });
    expect(e.availableSpotTrend?.observedAt).toBe(new Date(tNow).toISOString());
    expect(e.availableSpotTrend?.since).toMatchObject({ value: new Date(t70).toISOString() });
    // 1 − 5/100
    expect(e[`${P}occupancy`]).toMatchObject({ value: 0.95 });
  });

  it('counts the bays of each area as a ParkingGroup and follows a bay that changes', async () => {
    const spot = (n: string, status: string, at: [number, number], area?: string, observedAt?: string) => ({
      id: `urn:ngsi-ld:ParkingSpot:${n}`,
      type: `${P}ParkingSpot`,
      status: prop(status, observedAt),
      location: point(at),
      ...(area ? { [`${SDM}areaServed`]: prop(area) } : {}),
    });
    const district = 'urn:ngsi-ld:District:east';
    const t0 = new Date(Date.now() - 10 * 60_000).toISOString();
    await send('POST', E, {
      id: district,
      type: 'District',
      location: {
        type: 'GeoProperty',
        value: {
          type: 'Polygon',
          coordinates: [
            [
              [114, 34],
              [115, 34],
              [115, 35],
              [114, 35],
              [114, 34],
            ],
          ],
        },
      },
    });
    await send('POST', '/ngsi-ld/v1/entityOperations/create', [
      spot('a1', 'free', [113.6, 34.7], 'district-a', t0),
      spot('a2', 'free', [113.6, 34.7], 'district-a', t0),
      spot('a3', 'occupied', [113.6, 34.7], 'district-a', t0),
      spot('a4', 'closed', [113.6, 34.7], 'district-a', t0),
      spot('b1', 'occupied', [113.6, 34.7], 'district-b', t0),
      // no areaServed: inside the District's polygon
      spot('e1', 'free', [114.5, 34.5], undefined, t0),
    ]);
    const group = (area: string, free: number) =>
      until(`${area} with ${free} free`, async () => {
        const g = await entity(areaGroupId(area));
        return g?.[`${P}availableSpotNumber`]?.value === free ? g : undefined;
      });
    const a = await group('district-a', 2);
    expect(a).toMatchObject({
      type: `${P}ParkingGroup`,
      [`${SDM}areaServed`]: { value: 'district-a' },
      [`${P}totalSpotNumber`]: { value: 4 },
      [`${P}occupiedSpotNumber`]: { value: 1 },
      // occupied over bays reporting free or occupied: 1/3
      [`${P}occupancy`]: { value: 0.333 },
    });
    expect(a[`${P}availableSpotNumber`]?.observedAt).toBe(t0);
    expect(await group('district-b', 0)).toMatchObject({ [`${P}occupancy`]: { value: 1 } });
    expect(await group(district, 1)).toMatchObject({ [`${P}totalSpotNumber`]: { value: 1 } });

    // a1 taken: district-a has 1 free, 2 occupied; its trend over the hour is −1
    await send('PATCH', `${E}/${encodeURIComponent('urn:ngsi-ld:ParkingSpot:a1')}/attrs`, {
      status: prop('occupied', new Date().toISOString()),
    });
    const after = await group('district-a', 1);
    expect(after).toMatchObject({
      [`${P}occupiedSpotNumber`]: { value: 2 },
      [`${P}occupancy`]: { value: 0.667 },
      availableSpotTrend: { value: -1 },
    });
  });
});
