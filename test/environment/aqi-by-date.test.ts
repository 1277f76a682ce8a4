/**
 * `--aqi-standard by-date` on the hub: a station's hourly AQI is indexed by HJ 633-2012 for an
 * hour before 2026-03-01 (Beijing time) and by HJ 633-2026 from then (DOMAIN.md §1.0); the
 * calculator, given no date, uses the edition in force now.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHub, json, JSON_CT, type TestHub } from '../support/test-hub.js';

const ENV = 'https://smartdatamodels.org/dataModel.Environment/';
const E = '/ngsi-ld/v1/entities';
let hub: TestHub;

beforeAll(async () => {
  hub = await createTestHub({ aqiStandard: 'by-date' });
});
afterAll(async () => {
  await hub?.close();
});

type Stored = Record<string, { value?: unknown; json?: Record<string, unknown> }>;
const details = async (id: string) =>
  json<Stored>(await hub.request({ url: `${E}/${encodeURIComponent(id)}` }))[`${ENV}airQualityIndexDetails`]
    ?.json;

async function until(what: string, ok: () => Promise<boolean>) {
  const end = Date.now() + 20_000;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the AQI edition by observation date', () => {
  it('indexes an hour before 2026-03-01 by HJ 633-2012 and one from then by HJ 633-2026', async () => {
    const station = async (id: string, observedAt: string) => {
      const res = await hub.request({
        method: 'POST',
        url: E,
        headers: JSON_CT,
        payload: JSON.stringify({
          id,
          type: `${ENV}AirQualityObserved`,
          [`${ENV}pm25`]: { type: 'Property', value: 100, observedAt, unitCode: 'GQ' },
        }),
      });
      expect(res.statusCode, res.body).toBe(201);
    };
    // 23:30 on 2026-02-28 and 00:30 on 2026-03-01 in Beijing
    await station('urn:ngsi-ld:AirQualityObserved:before', '2026-02-28T15:30:00Z');
    await station('urn:ngsi-ld:AirQualityObserved:after', '2026-02-28T16:30:00Z');
    await until('both indexes', async () =>
      (
        await Promise.all([
          details('urn:ngsi-ld:AirQualityObserved:before'),
          details('urn:ngsi-ld:AirQualityObserved:after'),
        ])
      ).every((d) => d !== undefined),
    );
    // pm25 100 in the 24-hour table: 2012 (75-115) 100 + 50/40 × 25 = 131.25 → 132; 2026 (60-115) 100 + 50/55 × 40 = 136.4 → 137
    expect(await details('urn:ngsi-ld:AirQualityObserved:before')).toMatchObject({
      standard: 'HJ 633-2012',
      iaqi: { pm25: 132 },
    });
    expect(await details('urn:ngsi-ld:AirQualityObserved:after')).toMatchObject({
      standard: 'HJ 633-2026',
      iaqi: { pm25: 137 },
    });
  });

  it('lets the calculator default to the edition in force now', async () => {
    const res = await hub.request({
      method: 'POST',
      url: '/api/v1/environment/aqi',
      headers: JSON_CT,
      payload: JSON.stringify({ averaging: '24h', concentrations: { pm25: 100 } }),
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(json<{ standard: string; aqi: number }>(res)).toMatchObject({ standard: 'HJ 633-2026', aqi: 137 });
  });
});
