/**
 * District and city AQI: the pure part (the mean over stations, then indexed; the newest period
 * only; a station's district by refDistrict, areaServed or point in polygon) with values worked
 * by hand, and the job on the real database: the area entities follow the stations' readings,
 * keep their history, and do not feed back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHub, json, JSON_CT, type TestHub } from '../support/test-hub.js';
import {
  CITY_AREA_ID,
  districtAreaId,
  indexesOf,
  meanConcentrations,
  stationDistrict,
  type District,
} from '../../src/environment/area-aqi.js';
import type { StoredEntity } from '../../src/core/entity-model.js';
import type { Position } from '../../src/core/geo/geo-query.js';

const ENV = 'https://smartdatamodels.org/dataModel.Environment/';
const DC = 'https://uri.etsi.org/ngsi-ld/default-context/';
const LOC = 'https://uri.etsi.org/ngsi-ld/location';

/** Two districts side by side: west [0,1]×[0,1], east [1,2]×[0,1]. */
const ring = (x0: number, x1: number): Position[][] => [
  [
    [x0, 0],
    [x1, 0],
    [x1, 1],
    [x0, 1],
    [x0, 0],
  ],
];
const WEST = 'urn:ngsi-ld:District:west';
const EAST = 'urn:ngsi-ld:District:east';
const DISTRICTS: District[] = [
  { id: WEST, name: '西区', alternateName: 'West', polygon: { type: 'Polygon', coordinates: ring(0, 1) } },
  { id: EAST, name: '东区', polygon: { type: 'Polygon', coordinates: ring(1, 2) } },
];

describe('area AQI, pure', () => {
  it('averages each pollutant over the stations that have it', () => {
    expect(meanConcentrations([{ pm25: 30, no2: 40 }, { pm25: 90 }, {}])).toEqual({
      means: { pm25: 60, no2: 40 },
      stations: { pm25: 2, no2: 1 },
    });
  });

  it('indexes the newest hour and day of its stations only', () => {
    const hour = '2026-12-07T08:00:00.000Z';
    const r = indexesOf('HJ 633-2026', [
      { id: 'a', hourly: { hour, observedAt: '2026-12-07T08:40:00.000Z', concentrations: { pm25: 30 } } },
      { id: 'b', hourly: { hour, observedAt: '2026-12-07T08:50:00.000Z', concentrations: { pm25: 90 } } },
      // an hour behind: not counted
      {
        id: 'c',
        hourly: {
          hour: '2026-12-07T07:00:00.000Z',
          observedAt: '2026-12-07T07:59:00.000Z',
          concentrations: { pm25: 500 },
        },
        daily: { date: '2026-12-06', observedAt: '2026-12-05T16:00:00.000Z', concentrations: { pm25: 500 } },
      },
      {
        id: 'd',
        daily: {
          date: '2026-12-07',
          observedAt: '2026-12-06T16:00:00.000Z',
          concentrations: { pm10: 100, pm25: 50 },
        },
      },
    ]);
    // pm25 mean 60: HJ 633-2026 daily table (read by the 1-hour index, §4.2.4) 60 → 100 exactly
    expect(r.hourly).toMatchObject({
      aqi: 100,
      level: 'Good',
      stations: 2,
      observedAt: '2026-12-07T08:50:00.000Z',
    });
    expect(r.hourly?.details).toMatchObject({
      standard: 'HJ 633-2026',
      averaging: '1h',
      hour,
      iaqi: { pm25: 100 },
      primaryPollutants: ['pm25'],
      concentrations: { pm25: 60 },
      stations: 2,
    });
    // daily, station d alone on 12-07: pm25 50 → 80, pm10 100 → 50 + 50/70 × 50 = 85.7 → 86
    expect(r.daily).toMatchObject({ aqi: 86, stations: 1, observedAt: '2026-12-06T16:00:00.000Z' });
    expect(r.daily?.details).toMatchObject({ date: '2026-12-07', iaqi: { pm10: 86, pm25: 80 } });
  });

  it('rounds the mean as HJ 633-2026 asks, and picks the edition by the hour with by-date', () => {
    const at = (hour: string, pm25: number) => ({
      id: String(pm25),
      hourly: { hour, observedAt: hour, concentrations: { pm25 } },
    });
    // (30 + 90 + 35) / 3 = 51.67 → 52: 50 + 50/25 × 17 = 84
    expect(
      indexesOf(
        'HJ 633-2026',
        [30, 90, 35].map((c) => at('2026-12-07T08:00:00.000Z', c)),
      ).hourly?.aqi,
    ).toBe(84);
    // before 2026-03-01 (Beijing), HJ 633-2012: pm25 100 → 100 + 50/40 × 25 = 131.25 → 132; 2026: 137
    expect(indexesOf('by-date', [at('2026-02-28T15:00:00.000Z', 100)]).hourly).toMatchObject({
      aqi: 132,
      details: { standard: 'HJ 633-2012' },
    });
    expect(indexesOf('by-date', [at('2026-02-28T16:00:00.000Z', 100)]).hourly).toMatchObject({
      aqi: 137,
      details: { standard: 'HJ 633-2026' },
    });
  });

  it('finds a station district by refDistrict, then areaServed, then its location', () => {
    const st = (attrs: StoredEntity['attrs']): StoredEntity => ({ id: 's', types: [], attrs });
    const point = (x: number) => ({
      [LOC]: [{ type: 'GeoProperty' as const, value: { type: 'Point', coordinates: [x, 0.5] } }],
    });
    expect(
      stationDistrict(
        st({ [`${DC}refDistrict`]: [{ type: 'Relationship', object: EAST }], ...point(0.5) }),
        DISTRICTS,
      ),
    ).toBe(EAST);
    expect(
      stationDistrict(
        st({
          'https://smartdatamodels.org/areaServed': [{ type: 'Property', value: 'West' }],
          ...point(1.5),
        }),
        DISTRICTS,
      ),
    ).toBe(WEST);
    expect(
      stationDistrict(st({ [`${DC}areaServed`]: [{ type: 'Property', value: '东区' }] }), DISTRICTS),
    ).toBe(EAST);
    // a refDistrict or areaServed naming no District falls back to the location
    expect(
      stationDistrict(
        st({ [`${DC}refDistrict`]: [{ type: 'Relationship', object: 'urn:x' }], ...point(1.5) }),
        DISTRICTS,
      ),
    ).toBe(EAST);
    expect(
      stationDistrict(
        st({ [`${DC}areaServed`]: [{ type: 'Property', value: 'district-9' }], ...point(0.2) }),
        DISTRICTS,
      ),
    ).toBe(WEST);
    expect(stationDistrict(st(point(5)), DISTRICTS)).toBeUndefined();
    expect(districtAreaId(WEST)).toBe('urn:ngsi-ld:AirQualityObserved:district-west');
  });
});

// ---- On the real database ----

const E = '/ngsi-ld/v1/entities';
const TENANT = { 'NGSILD-Tenant': 'areas' };
let hub: TestHub;

beforeAll(async () => {
  hub = await createTestHub({ areaAqiIntervalMs: 100 });
});
afterAll(async () => {
  await hub?.close();
});

type Stored = Record<
  string,
  { value?: unknown; object?: unknown; json?: Record<string, unknown>; observedAt?: string }
>;
const get = async (id: string) => {
  const res = await hub.request({ url: `${E}/${encodeURIComponent(id)}`, headers: TENANT });
  return res.statusCode === 200 ? json<Stored>(res) : undefined;
};
const send = async (method: 'POST' | 'PATCH', url: string, body: unknown) => {
  const res = await hub.request({
    method,
    url,
    headers: { ...JSON_CT, ...TENANT },
    payload: JSON.stringify(body),
  });
  expect(res.statusCode, res.body).toBeLessThan(300);
};
async function until(what: string, ok: () => Promise<boolean>) {
  const end = Date.now() + 30_000;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const pm25 = (value: number, observedAt: string) => ({
  [`${ENV}pm25`]: { type: 'Property', value, observedAt, unitCode: 'GQ' },
});
const aqiOf = async (id: string) => (await get(id))?.[`${ENV}airQualityIndex`]?.value;
const WEST_AREA = districtAreaId(WEST);
const EAST_AREA = districtAreaId(EAST);

describe('district and city AQI on the hub', () => {
  it('follow the stations of each district and of the city', async () => {
    for (const d of DISTRICTS)
      await send('POST', E, {
        id: d.id,
        type: 'District',
        name: { type: 'Property', value: d.name },
        location: { type: 'GeoProperty', value: d.polygon },
      });
    const station = (id: string, attrs: Record<string, unknown>) =>
      send('POST', E, { id, type: `${ENV}AirQualityObserved`, ...attrs });
    // a: west by refDistrict; b: west by its location only; c: east by areaServed (the name)
    await station('urn:ngsi-ld:AirQualityObserved:a', {
      refDistrict: { type: 'Relationship', object: WEST },
      ...pm25(30, '2026-12-07T08:10:00Z'),
    });
    await station('urn:ngsi-ld:AirQualityObserved:b', {
      location: { type: 'GeoProperty', value: { type: 'Point', coordinates: [0.5, 0.5] } },
      ...pm25(90, '2026-12-07T08:20:00Z'),
    });
    await station('urn:ngsi-ld:AirQualityObserved:c', {
      areaServed: { type: 'Property', value: '东区' },
      ...pm25(35, '2026-12-07T08:30:00Z'),
    });
    // west: (30 + 90) / 2 = 60 → 100; east: 35 → 50; city: 51.67 → 52 → 84
    await until(
      'the areas of 08:00',
      async () =>
        (await aqiOf(WEST_AREA)) === 100 &&
        (await aqiOf(EAST_AREA)) === 50 &&
        (await aqiOf(CITY_AREA_ID)) === 84,
    );
    const west = await get(WEST_AREA);
    expect(west?.type).toBe(`${ENV}AirQualityObserved`);
    expect(west?.refDistrict).toMatchObject({ object: WEST });
    expect(west?.stationCount).toMatchObject({ value: 2, observedAt: '2026-12-07T08:20:00.000Z' });
    expect(west?.location).toMatchObject({ value: DISTRICTS[0]?.polygon });
    expect(west?.['https://smartdatamodels.org/areaServed']).toMatchObject({ value: '西区' });
    expect(west?.[`${ENV}airQualityIndexDetails`]?.json).toMatchObject({
      hour: '2026-12-07T08:00:00.000Z',
      concentrations: { pm25: 60 },
      stations: 2,
    });
    const city = await get(CITY_AREA_ID);
    expect(city?.stationCount).toMatchObject({ value: 3 });
    expect(city?.location).toMatchObject({ value: { type: 'MultiPolygon' } });

    // b reads 150 in the same hour: its mean (90 + 150) / 2 = 120; west (30 + 120) / 2 = 75:
    // 100 + 50/55 × 15 = 113.6 → 114; city (30 + 120 + 35) / 3 = 61.67 → 62: 100 + 50/55 × 2 = 101.8 → 102
    await send(
      'PATCH',
      `${E}/${encodeURIComponent('urn:ngsi-ld:AirQualityObserved:b')}/attrs`,
      pm25(150, '2026-12-07T08:40:00Z'),
    );
    await until(
      'west at 114',
      async () => (await aqiOf(WEST_AREA)) === 114 && (await aqiOf(CITY_AREA_ID)) === 102,
    );

    // The next hour: a alone has reached it, 10 → 10/35 × 50 = 14.3 → 15 for west and the city.
    await send(
      'PATCH',
      `${E}/${encodeURIComponent('urn:ngsi-ld:AirQualityObserved:a')}/attrs`,
      pm25(10, '2026-12-07T09:05:00Z'),
    );
    await until(
      'the areas of 09:00',
      async () => (await aqiOf(WEST_AREA)) === 15 && (await aqiOf(CITY_AREA_ID)) === 15,
    );
    expect((await get(CITY_AREA_ID))?.stationCount).toMatchObject({ value: 1 });
    expect((await get(EAST_AREA))?.[`${ENV}airQualityIndex`]).toMatchObject({ value: 50 });

    // The area's index is kept in history, in order.
    const t = json<Record<string, { value: number }[]>>(
      await hub.request({
        url: `/ngsi-ld/v1/temporal/entities/${encodeURIComponent(WEST_AREA)}?attrs=${encodeURIComponent(`${ENV}airQualityIndex`)}`,
        headers: TENANT,
      }),
    );
    const values = t[`${ENV}airQualityIndex`]?.map((i) => i.value) ?? [];
    expect(values.filter((v) => [100, 114, 15].includes(v))).toEqual([100, 114, 15]);
  });

  it('writes nothing when nothing changed, and the station consumers leave the areas alone', async () => {
    const count = async () =>
      Number(
        (
          await hub.pool.query(
            `SELECT count(*) FROM change_feed_changes WHERE entity_id LIKE 'urn:ngsi-ld:AirQualityObserved:%'`,
          )
        ).rows[0].count,
      );
    await until('the consumers caught up', async () =>
      (await hub.store.feed.consumers())
        .filter((c) => c.name.startsWith('environment.'))
        .every((c) => c.lagChanges === 0),
    );
    const settled = await count();
    // the job runs every 100 ms: ten runs
    await new Promise((r) => setTimeout(r, 1000));
    expect(await count()).toBe(settled);
    // an area entity has no pollutant reading, so no station index of its own
    const west = await get(WEST_AREA);
    expect(west?.[`${ENV}pm25`]).toBeUndefined();
    expect(west?.[`${ENV}airQualityIndexDetails`]?.json).not.toHaveProperty('readings');
  });
});
