/**
 * Each air quality station's real-time AQI follows its readings through the change feed: the
 * hour of the newest reading is averaged per pollutant, indexed by HJ 633-2026, and written back
 * as airQualityIndex, airQualityLevel and airQualityIndexDetails (kept in history); the module's
 * own writes do not come back to it.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHub, json, JSON_CT, type TestHub } from '../support/test-hub.js';
import { stationAqiConsumer } from '../../src/environment/station-aqi.js';

const ENV = 'https://smartdatamodels.org/dataModel.Environment/';
const E = '/ngsi-ld/v1/entities';
const ID = 'urn:ngsi-ld:AirQualityObserved:station-1';
let hub: TestHub;
let pool: pg.Pool;

beforeAll(async () => {
  hub = await createTestHub();
  pool = new pg.Pool({ connectionString: hub.url, max: 2 });
});
afterAll(async () => {
  await pool?.end();
  await hub?.close();
});

type Stored = Record<string, { value?: unknown; json?: Record<string, unknown>; observedAt?: string }>;
const station = async () => json<Stored>(await hub.request({ url: `${E}/${encodeURIComponent(ID)}` }));
const reading = (value: number, observedAt: string, unitCode = 'GQ') => ({
  type: 'Property',
  value,
  observedAt,
  unitCode,
});

async function until(what: string, ok: () => Promise<boolean>) {
  const end = Date.now() + 20_000;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const send = async (method: 'POST' | 'PATCH', url: string, body: unknown) => {
  const res = await hub.request({ method, url, headers: JSON_CT, payload: JSON.stringify(body) });
  expect(res.statusCode, res.body).toBeLessThan(300);
};

describe('station AQI from the change feed', () => {
  it('indexes the hour of the newest reading and follows the next hour', async () => {
    await send('POST', E, {
      id: ID,
      type: `${ENV}AirQualityObserved`,
      [`${ENV}pm25`]: reading(80, '2026-12-07T08:10:00Z'),
      [`${ENV}no2`]: reading(40, '2026-12-07T08:10:00Z'),
      // CO in µg/m³ here: 2,000 µg/m³ is 2 mg/m³, IAQI 1-hour 2/5 × 50 = 20
      [`${ENV}co`]: reading(2000, '2026-12-07T08:10:00Z'),
      [`${ENV}temperature`]: { type: 'Property', value: 3 },
    });
    await send('PATCH', `${E}/${encodeURIComponent(ID)}/attrs`, {
      [`${ENV}pm25`]: reading(100, '2026-12-07T08:40:00Z'),
    });
    // pm25: mean of 80 and 100 = 90, read in the daily table (HJ 633-2026 §4.2.4):
    // 100 + 50/55 × 30 = 127.3 → 128; no2 1-hour 40/100 × 50 = 20; co 20
    await until('the AQI of 08:00', async () => (await station())[`${ENV}airQualityIndex`]?.value === 128);
    const s = await station();
    expect(s[`${ENV}airQualityIndex`]).toMatchObject({ value: 128, observedAt: '2026-12-07T08:40:00.000Z' });
    expect(s[`${ENV}airQualityLevel`]).toMatchObject({ value: 'Lightly polluted' });
    expect(s[`${ENV}airQualityIndexDetails`]?.json).toEqual({
      standard: 'HJ 633-2026',
      averaging: '1h',
      hour: '2026-12-07T08:00:00.000Z',
      iaqi: { no2: 20, co: 20, pm25: 128 },
      primaryPollutants: ['pm25'],
      level: 3,
      category: { zh: '轻度污染', en: 'Lightly polluted' },
      color: '#FF7E00',
      readings: { pm25: 2, no2: 1, co: 1 },
      // the hour's means in index units (CO 2,000 µg/m³ = 2 mg/m³), averaged by the district and city AQI
      concentrations: { pm25: 90, no2: 40, co: 2 },
    });

    // The next hour: one pm25 reading; no2 and co have none in it and are left out.
    await send('PATCH', `${E}/${encodeURIComponent(ID)}/attrs`, {
      [`${ENV}pm25`]: reading(30, '2026-12-07T09:05:00Z'),
    });
    await until('the AQI of 09:00', async () => (await station())[`${ENV}airQualityIndex`]?.value === 43);
    const next = (await station())[`${ENV}airQualityIndexDetails`]?.json;
    expect(next).toMatchObject({
      hour: '2026-12-07T09:00:00.000Z',
      iaqi: { pm25: 43 },
      primaryPollutants: [],
      level: 1,
    });

    // The index's history ends with both hours (a value seen before all of 08:00's readings may
    // come first); a result already written is not written again.
    const t = json<Record<string, { value: number }[]>>(
      await hub.request({
        url: `/ngsi-ld/v1/temporal/entities/${encodeURIComponent(ID)}?attrs=${encodeURIComponent(`${ENV}airQualityIndex`)}`,
      }),
    );
    const values = t[`${ENV}airQualityIndex`]?.map((i) => i.value) ?? [];
    expect(values.slice(-2)).toEqual([128, 43]);
    expect(values.length).toBeLessThanOrEqual(3);
    const details = (
      await pool.query(
        `SELECT count(*)::int AS n FROM attribute_history WHERE entity_id = $1 AND attr = $2`,
        [ID, `${ENV}airQualityIndexDetails`],
      )
    ).rows[0].n;
    expect(details).toBe(values.length);
  });

  it('does not come back to its own writes, and ignores changes that touch no pollutant', async () => {
    const count = async () =>
      Number(
        (await pool.query('SELECT count(*) FROM change_feed_changes WHERE entity_id = $1', [ID])).rows[0]
          .count,
      );
    await send('PATCH', `${E}/${encodeURIComponent(ID)}/attrs`, {
      [`${ENV}temperature`]: { type: 'Property', value: 4 },
    });
    await until('the consumer caught up', async () =>
      (await hub.store.feed.consumers()).some(
        (c) => c.name === 'environment.station-aqi' && c.lagChanges === 0,
      ),
    );
    const settled = await count();
    await new Promise((r) => setTimeout(r, 800));
    expect(await count()).toBe(settled);
    expect((await station())[`${ENV}airQualityIndex`]?.value).toBe(43);
    // The same change handled again (at least once): the result is already written, nothing is.
    expect((await hub.store.getEntity('', ID))?.attrs[`${ENV}airQualityIndexDetails`]).toBeDefined();
    const again = stationAqiConsumer({
      history: hub.store.history,
      getEntity: (t, id) => hub.store.getEntity(t, id),
      merge: () => Promise.reject(new Error('wrote again')),
      coreContext: () => Promise.reject(new Error('wrote again')),
      standard: 'HJ 633-2026',
    });
    await again.handle([
      {
        position: '0.0',
        tenant: '',
        id: ID,
        kind: 'updated',
        types: [`${ENV}AirQualityObserved`],
        attributes: [`${ENV}pm25`],
        at: '',
      },
    ]);
  });
});
