/**
 * Road traffic from the change feed, on a real database: each RoadSegment follows its
 * TrafficFlowObserved detectors (speed, flow, free flow, DTP, TPI, level; at most once a minute of
 * reading time unless the level changes), the district and city TrafficPerformanceIndex entities
 * are weighted by vehicle-kilometres and kept in history, and a free-flow speed is learned from
 * the fastest 4 hours of a segment's history.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHub, json, JSON_CT, type TestHub } from '../support/test-hub.js';
import { segmentTpiConsumer } from '../../src/transport/traffic-segments.js';
import { CITY_TPI_ID, districtTpiId } from '../../src/transport/traffic-areas.js';

const T = 'https://smartdatamodels.org/dataModel.Transportation/';
const D = 'https://uri.etsi.org/ngsi-ld/default-context/';
const E = '/ngsi-ld/v1/entities';
const SEG_A = 'urn:ngsi-ld:RoadSegment:a';
const SEG_B = 'urn:ngsi-ld:RoadSegment:b';
const SEG_C = 'urn:ngsi-ld:RoadSegment:c';
const det = (n: number) => `urn:ngsi-ld:TrafficFlowObserved:det-${n}`;

let hub: TestHub;
beforeAll(async () => {
  hub = await createTestHub({ traffic: { areaIntervalMs: 200, freeFlowIntervalMs: 300 } });
});
afterAll(async () => {
  await hub?.close();
});

type Attr = { value?: unknown; observedAt?: string; unitCode?: string; [sub: string]: unknown };
const get = async (id: string) =>
  json<Record<string, Attr | undefined>>(await hub.request({ url: `${E}/${encodeURIComponent(id)}` }));

/** The temporal API writes whole seconds without milliseconds. */
const iso = (t: string | undefined) => (t === undefined ? undefined : new Date(t).toISOString());

async function until(what: string, ok: () => Promise<boolean>) {
  const end = Date.now() + 30_000;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const send = async (method: 'POST' | 'PATCH', url: string, body: unknown) => {
  const res = await hub.request({ method, url, headers: JSON_CT, payload: JSON.stringify(body) });
  expect(res.statusCode, res.body).toBeLessThan(300);
};

const segment = (id: string, district: string, limit: number, lengthM: number, extra = {}) =>
  send('POST', E, {
    id,
    type: `${T}RoadSegment`,
    [`${T}maximumAllowedSpeed`]: { type: 'Property', value: limit, unitCode: 'KMH' },
    [`${T}length`]: { type: 'Property', value: lengthM, unitCode: 'MTR' },
    'https://smartdatamodels.org/areaServed': { type: 'Property', value: district },
    ...extra,
  });
const reading = (speed: number, intensity: number, observedAt: string) => ({
  [`${T}averageVehicleSpeed`]: { type: 'Property', value: speed, unitCode: 'KMH', observedAt },
  [`${T}intensity`]: { type: 'Property', value: intensity, unitCode: 'E50', observedAt },
});
const detector = (n: number, seg: string, speed: number, intensity: number, observedAt: string) =>
  send('POST', E, {
    id: det(n),
    type: `${T}TrafficFlowObserved`,
    [`${T}refRoadSegment`]: { type: 'Relationship', object: seg },
    ...reading(speed, intensity, observedAt),
  });
const read = (n: number, speed: number, intensity: number, observedAt: string) =>
  send('PATCH', `${E}/${encodeURIComponent(det(n))}/attrs`, reading(speed, intensity, observedAt));

describe('road segments follow their detectors', () => {
  it('publishes speed, flow, free flow, DTP, TPI and level on the segment', async () => {
    await segment(SEG_A, 'd1', 60, 2000);
    // The city configured B's free flow: 40 km/h, not its limit of 50.
    await segment(SEG_B, 'd2', 50, 1000, { [`${D}freeFlowSpeed`]: { type: 'Property', value: 40 } });
    await detector(3, SEG_B, 30, 600, '2026-12-07T08:00:00.000Z');
    await detector(1, SEG_A, 40, 1000, '2026-12-07T08:00:00.000Z');
    await detector(2, SEG_A, 20, 1000, '2026-12-07T08:00:10.000Z');
    // A: flow-weighted (40 × 1000 + 20 × 1000) / 2000 = 30 km/h of a free flow of 60 (its limit):
    // DTP 0.5 → TPI 4, level 3 (轻度拥堵).
    await until('segment A', async () => (await get(SEG_A))[`${T}averageVehicleSpeed`]?.value === 30);
    const a = await get(SEG_A);
    const at = '2026-12-07T08:00:10.000Z';
    expect(a[`${T}averageVehicleSpeed`]).toMatchObject({ value: 30, unitCode: 'KMH', observedAt: at });
    expect(a[`${T}intensity`]).toMatchObject({ value: 1000, observedAt: at });
    expect(a.freeFlowSpeed).toMatchObject({
      value: 60,
      unitCode: 'KMH',
      derivedFrom: { value: 'maximumAllowedSpeed' },
    });
    expect(a.delayTimeProportion).toMatchObject({ value: 0.5, observedAt: at });
    expect(a.trafficPerformanceIndex).toMatchObject({ value: 4, observedAt: at });
    expect(a.congestionLevel).toMatchObject({ value: 3, observedAt: at });
    // B: 30 of the configured 40: DTP 0.25 → 2 × 0.25 / 0.3 = 1.67, shown 1.66 (rounded down), level 1.
    await until('segment B', async () => (await get(SEG_B)).trafficPerformanceIndex?.value === 1.66);
    const b = await get(SEG_B);
    expect(b.freeFlowSpeed).toEqual({ type: 'Property', value: 40 });
    expect(b.congestionLevel?.value).toBe(1);
  });

  it('writes a segment at most once a minute of readings, but a level change at once', async () => {
    // Each reading is handled before the next is sent (else one batch would hold them all).
    const handled = async () =>
      (await hub.store.feed.consumers()).find((c) => c.name === 'transport.segment-tpi')?.lagChanges === 0;
    // 08:00:30: (38 + 20) / 2 = 29 km/h, still level 3 and 20 s after the last write: not written.
    await read(1, 38, 1000, '2026-12-07T08:00:30.000Z');
    await until('the 08:00:30 reading handled', handled);
    expect(iso((await get(SEG_A)).congestionLevel?.observedAt)).not.toBe('2026-12-07T08:00:30.000Z');
    // 08:00:40: (10 × 400 + 20 × 1000) / 1400 = 17.1 km/h, DTP 0.714, level 5: written at once.
    await read(1, 10, 400, '2026-12-07T08:00:40.000Z');
    await until(
      'segment A at 08:00:40',
      async () => iso((await get(SEG_A)).congestionLevel?.observedAt) === '2026-12-07T08:00:40.000Z',
    );
    // 08:02:00: (10 × 400 + 22 × 400) / 800 = 16 km/h, DTP 1 − 16/60 = 0.7333, level 5, 80 s later.
    await read(2, 22, 400, '2026-12-07T08:02:00.000Z');
    await until(
      'segment A at 08:02',
      async () => (await get(SEG_A))[`${T}averageVehicleSpeed`]?.value === 16,
    );
    const a = await get(SEG_A);
    expect(a.delayTimeProportion?.value).toBe(0.7333);
    // 8 + 2 × 0.0333 / 0.3 = 8.222
    expect(a.trafficPerformanceIndex?.value).toBe(8.22);
    expect(a.congestionLevel?.value).toBe(5);
    const res = await hub.request({
      url: `/ngsi-ld/v1/temporal/entities/${encodeURIComponent(SEG_A)}?attrs=congestionLevel`,
    });
    const times = json<{ congestionLevel: Attr[] | Attr }>(res).congestionLevel;
    const observed = (Array.isArray(times) ? times : [times]).map((i) => iso(i.observedAt));
    expect(observed).toContain('2026-12-07T08:00:10.000Z');
    expect(observed).toContain('2026-12-07T08:00:40.000Z');
    expect(observed).toContain('2026-12-07T08:02:00.000Z');
    expect(observed).not.toContain('2026-12-07T08:00:30.000Z');
  });

  it('does not write again what it wrote (a change handled twice)', async () => {
    const again = segmentTpiConsumer({
      getEntity: (t, id) => hub.store.getEntity(t, id),
      queryEntities: (t, q) => hub.store.queryEntities(t, q),
      merge: () => Promise.reject(new Error('wrote again')),
      coreContext: () => Promise.reject(new Error('wrote again')),
    });
    await again.handle([
      {
        position: '0.0',
        tenant: '',
        id: det(2),
        kind: 'updated',
        types: [`${T}TrafficFlowObserved`],
        attributes: [`${T}averageVehicleSpeed`],
        at: '',
      },
    ]);
  });
});

describe('district and city index', () => {
  it('weights the segments by vehicle-kilometres, one entity per district and one for the city', async () => {
    // A: DTP 0.7333, 400 veh/h × 2 km = 800; B: DTP 0.25, 600 × 1 km = 600.
    // City DTP (0.7333 × 800 + 0.25 × 600) / 1400 = 0.5262 → 4 + 2 × 0.0262 / 0.1 = 4.52, level 3;
    // travel speed 1400 / (800/16 + 600/30) = 20 km/h.
    // The job writes the districts before the city.
    await until(
      'the city index of 08:02',
      async () => (await get(CITY_TPI_ID)).trafficPerformanceIndex?.observedAt === '2026-12-07T08:02:00.000Z',
    );
    const city = await get(CITY_TPI_ID);
    const at = '2026-12-07T08:02:00.000Z';
    expect(city).toMatchObject({
      type: 'TrafficPerformanceIndex',
      trafficPerformanceIndex: { value: 4.52, observedAt: at },
      congestionLevel: { value: 3 },
      delayTimeProportion: { value: 0.5262 },
      segmentCount: { value: 2 },
      vehicleKilometres: { value: 1400 },
    });
    expect(city[`${T}averageVehicleSpeed`]).toMatchObject({ value: 20, unitCode: 'KMH' });
    const d1 = await get(districtTpiId('d1'));
    expect(d1).toMatchObject({ trafficPerformanceIndex: { value: 8.22 }, congestionLevel: { value: 5 } });
    expect(d1['https://smartdatamodels.org/areaServed']).toMatchObject({ value: 'd1' });
    const d2 = await get(districtTpiId('d2'));
    // B alone: its own DTP 0.25 → 1.66 (B's observedAt, 08:00)
    expect(d2).toMatchObject({
      trafficPerformanceIndex: { value: 1.66, observedAt: '2026-12-07T08:00:00.000Z' },
      segmentCount: { value: 1 },
    });
  });

  it('keeps the index in history (a temporal query at a time of day)', async () => {
    const res = await hub.request({
      url:
        `/ngsi-ld/v1/temporal/entities/${encodeURIComponent(CITY_TPI_ID)}?attrs=trafficPerformanceIndex` +
        '&timerel=between&timeAt=2026-12-07T08:00:00Z&endTimeAt=2026-12-07T08:30:00Z',
    });
    expect(res.statusCode, res.body).toBe(200);
    const tpi = json<{ trafficPerformanceIndex: Attr[] | Attr }>(res).trafficPerformanceIndex;
    const list = Array.isArray(tpi) ? tpi : [tpi];
    expect(list.at(-1)?.value).toBe(4.52);
    expect(iso(list.at(-1)?.observedAt)).toBe('2026-12-07T08:02:00.000Z');
  });
});

describe('free-flow speed learned from history', () => {
  it('takes the mean of the 4 fastest hours of the last 30 days once a day of readings exists', async () => {
    await segment(SEG_C, 'd1', 80, 500);
    const hour = 3_600_000;
    const base = Math.floor(Date.now() / hour) * hour - 30 * hour;
    // 24 hours of readings: four fast ones (70, 72, 74, 76: mean 73), the others 30 km/h.
    for (let k = 0; k < 24; k++) {
      const speed = k < 4 ? 70 + 2 * k : 30;
      await send('PATCH', `${E}/${encodeURIComponent(SEG_C)}/attrs`, {
        [`${T}averageVehicleSpeed`]: {
          type: 'Property',
          value: speed,
          unitCode: 'KMH',
          observedAt: new Date(base + k * hour + 600_000).toISOString(),
        },
      });
    }
    await until('the learned free flow', async () => (await get(SEG_C)).freeFlowSpeed?.value === 73);
    expect((await get(SEG_C)).freeFlowSpeed).toMatchObject({ derivedFrom: { value: 'history' } });
    // A reading now: 36.5 of 73 is DTP 0.5, TPI 4.
    await detector(4, SEG_C, 36.5, 100, new Date().toISOString());
    await until('segment C', async () => (await get(SEG_C)).trafficPerformanceIndex?.value === 4);
    // A (1 hour of history) keeps its limit; B (configured) keeps 40.
    expect((await get(SEG_A)).freeFlowSpeed).toMatchObject({
      value: 60,
      derivedFrom: { value: 'maximumAllowedSpeed' },
    });
    expect((await get(SEG_B)).freeFlowSpeed?.value).toBe(40);
  });

  it('follows a detector that moves to another segment', async () => {
    const SEG_E = 'urn:ngsi-ld:RoadSegment:e';
    await segment(SEG_E, 'd2', 50, 1000);
    await send('PATCH', `${E}/${encodeURIComponent(det(3))}/attrs`, {
      [`${T}refRoadSegment`]: { type: 'Relationship', object: SEG_E },
    });
    // det-3's reading (30 km/h at 08:00) now measures E: 30 of its limit 50, DTP 0.4 → TPI 3, level 2.
    await until('segment E', async () => (await get(SEG_E)).trafficPerformanceIndex?.value === 3);
    expect((await get(SEG_E)).congestionLevel?.value).toBe(2);
  });
});
