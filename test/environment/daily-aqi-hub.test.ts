/**
 * The daily AQI of a station from the change feed, on the real database: 24 hours of readings
 * written with explicit observedAt over one local day (Beijing, UTC+8) give the station
 * dailyAirQualityIndex, dailyAirQualityLevel and dailyAirQualityIndexDetails, observed at the day's
 * start and kept in history (one instance per day); a pollutant with fewer than 20 hours is left out and named; a day
 * with too few hours for any pollutant gets no daily value.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHub, json, JSON_CT, type TestHub } from '../support/test-hub.js';

const ENV = 'https://smartdatamodels.org/dataModel.Environment/';
const E = '/ngsi-ld/v1/entities';
const ID = 'urn:ngsi-ld:AirQualityObserved:daily-1';
const HOUR = 3_600_000;
/** 2026-12-07 00:00 in Beijing. */
const DAY7 = Date.parse('2026-12-06T16:00:00Z');
let hub: TestHub;

beforeAll(async () => {
  hub = await createTestHub();
});
afterAll(async () => {
  await hub?.close();
});

type Stored = Record<string, { value?: unknown; json?: Record<string, unknown>; observedAt?: string }>;
const station = async () => json<Stored>(await hub.request({ url: `${E}/${encodeURIComponent(ID)}` }));
const p = (value: number, at: number, unitCode = 'GQ') => ({
  type: 'Property',
  value,
  observedAt: new Date(at).toISOString(),
  unitCode,
});

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

/** The readings of local hour `h` of the day starting at `dayStart`, at h:30. */
function hourReadings(dayStart: number, h: number, skipSo2: boolean): Record<string, unknown> {
  const at = dayStart + h * HOUR + 30 * 60_000;
  return {
    [`${ENV}pm25`]: p(50, at),
    [`${ENV}pm10`]: p(100, at),
    [`${ENV}no2`]: p(40, at),
    [`${ENV}co`]: p(1, at, 'GP'), // mg/m³
    [`${ENV}o3`]: p(10 * h, at),
    ...(skipSo2 ? {} : { [`${ENV}so2`]: p(10, at) }),
  };
}

/** The station's consumers (hourly and daily) have read everything. */
const caughtUp = async () => {
  const mine = (await hub.store.feed.consumers()).filter((c) => c.name.startsWith('environment.'));
  return mine.length > 0 && mine.every((c) => c.lagChanges === 0);
};

describe('daily AQI from the change feed', () => {
  it('indexes a local day of hourly readings, leaving out a pollutant with too few hours', async () => {
    await send('POST', E, { id: ID, type: `${ENV}AirQualityObserved`, ...hourReadings(DAY7, 0, false) });
    // so2 is missing for 5 hours: 19 hourly values, fewer than the 20 of GB 3095 Table 4
    for (let h = 1; h < 24; h++)
      await send('PATCH', `${E}/${encodeURIComponent(ID)}/attrs`, hourReadings(DAY7, h, h >= 19));
    // The first reading of the next day closes the day's last hour.
    await send('PATCH', `${E}/${encodeURIComponent(ID)}/attrs`, hourReadings(DAY7 + 24 * HOUR, 0, false));

    // HJ 633-2026 Table 3, 24-hour form, worked by hand:
    // pm25 50: 50 + 50/25 × 15 = 80; pm10 100: 50 + 50/70 × 50 = 85.7 → 86; no2 40: 50;
    // co 1 mg/m³: 25; o3 = 10 × hour, windows 08:00-24:00, max (16..23) = 195: 100 + 50/55 × 35 = 131.8 → 132
    await until('the daily AQI of 2026-12-07', async () => {
      const d = (await station())[`${ENV}dailyAirQualityIndexDetails`]?.json;
      return d?.date === '2026-12-07' && (d.hours as Record<string, number>).pm25 === 24;
    });
    const s = await station();
    expect(s[`${ENV}dailyAirQualityIndex`]).toMatchObject({
      value: 132,
      observedAt: '2026-12-06T16:00:00.000Z',
    });
    expect(s[`${ENV}dailyAirQualityLevel`]).toMatchObject({ value: 'Lightly polluted' });
    expect(s[`${ENV}dailyAirQualityIndexDetails`]?.json).toEqual({
      standard: 'HJ 633-2026',
      averaging: '24h',
      date: '2026-12-07',
      utcOffset: '+08:00',
      iaqi: { no2: 50, co: 25, o3_8h: 132, pm10: 86, pm25: 80 },
      primaryPollutants: ['o3_8h'],
      level: 3,
      category: { zh: '轻度污染', en: 'Lightly polluted' },
      color: '#FF7E00',
      concentrations: { no2: 40, co: 1, pm10: 100, pm25: 50, o3_8h: 195 },
      hours: { so2: 19, no2: 24, co: 24, pm10: 24, pm25: 24, o3: 24, o3_8h: 17 },
      leftOut: { so2: '19 hourly values, 20 needed (GB 3095 Table 4)' },
    });
  });

  it('gives no daily value to a day with too few hours, and keeps the daily values in history', async () => {
    const DAY8 = DAY7 + 24 * HOUR;
    // 2026-12-08: hours 0 (sent above) to 9, then the next day begins
    for (let h = 1; h < 10; h++)
      await send('PATCH', `${E}/${encodeURIComponent(ID)}/attrs`, hourReadings(DAY8, h, false));
    await send('PATCH', `${E}/${encodeURIComponent(ID)}/attrs`, hourReadings(DAY8 + 24 * HOUR, 0, false));
    await until('the consumer caught up', caughtUp);
    const s = await station();
    expect(s[`${ENV}dailyAirQualityIndex`]).toMatchObject({
      value: 132,
      observedAt: '2026-12-06T16:00:00.000Z',
    });

    // The history holds one daily value per day, the final one: a day computed again (hourly from
    // 20:00 on, then when the next day began) replaced its instance (temporal provision); none of 12-08.
    const t = json<Record<string, { value: number; observedAt: string }[]>>(
      await hub.request({
        url: `/ngsi-ld/v1/temporal/entities/${encodeURIComponent(ID)}?attrs=${encodeURIComponent(`${ENV}dailyAirQualityIndex`)}`,
      }),
    );
    const list = t[`${ENV}dailyAirQualityIndex`] ?? [];
    expect(list.map((i) => [Date.parse(i.observedAt), i.value])).toEqual([[DAY7, 132]]);
    const details = await hub.pool.query(
      `SELECT count(*)::int AS n FROM attribute_history WHERE entity_id = $1 AND attr = $2`,
      [ID, `${ENV}dailyAirQualityIndexDetails`],
    );
    expect(details.rows[0].n).toBe(1);

    // Its own writes do not come back to it: nothing more is written once caught up.
    const count = async () =>
      Number(
        (await hub.pool.query('SELECT count(*) FROM change_feed_changes WHERE entity_id = $1', [ID])).rows[0]
          .count,
      );
    const settled = await count();
    await new Promise((r) => setTimeout(r, 800));
    expect(await count()).toBe(settled);
  });
});
