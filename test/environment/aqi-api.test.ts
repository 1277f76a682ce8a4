/**
 * POST /api/v1/environment/aqi: the HJ 633 calculator as a plain API; bad input is a 400
 * ProblemDetails naming the field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHub, json, JSON_CT, type TestHub } from '../support/test-hub.js';

let hub: TestHub;
beforeAll(async () => {
  hub = await createTestHub();
});
afterAll(async () => {
  await hub?.close();
});

const aqi = (body: unknown) =>
  hub.request({
    method: 'POST',
    url: '/api/v1/environment/aqi',
    headers: JSON_CT,
    payload: JSON.stringify(body),
  });

describe('the AQI calculator', () => {
  it('answers the index, the IAQIs, the primary pollutants, the level and the category', async () => {
    const res = await aqi({
      standard: 'HJ 633-2012',
      averaging: '24h',
      concentrations: { so2: 10, no2: 30, co: 0.8, o3_8h: 90, pm10: 150, pm25: 115 },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(json(res)).toEqual({
      standard: 'HJ 633-2012',
      averaging: '24h',
      aqi: 150,
      // so2 10/50×50 = 10; no2 30/40×50 = 37.5 → 38; co 0.8/2×50 = 20; o3_8h 90/100×50 = 45
      iaqi: { so2: 10, no2: 38, co: 20, o3_8h: 45, pm10: 100, pm25: 150 },
      primaryPollutants: ['pm25'],
      level: 3,
      category: {
        zh: '轻度污染',
        en: 'Lightly polluted',
        color: { zh: '橙色', en: 'orange' },
        hex: '#FF7E00',
      },
      notes: [],
    });
  });

  it('uses the standard in force and the real-time form by default; leaves out pollutants not measured', async () => {
    const res = await aqi({ concentrations: { pm25: 60, no2: null } });
    expect(res.statusCode, res.body).toBe(200);
    expect(json(res)).toMatchObject({
      standard: 'HJ 633-2026',
      averaging: '1h',
      aqi: 100,
      iaqi: { pm25: 100 },
    });
  });

  it.each([
    ['not an object', [], /request body must be a JSON object/],
    [
      'an unknown standard',
      { standard: 'GB 3095', concentrations: { pm25: 1 } },
      /^standard: must be one of/,
    ],
    ['an unknown averaging', { averaging: '8h', concentrations: { pm25: 1 } }, /^averaging:/],
    ['no concentrations', { standard: 'HJ 633-2026' }, /^concentrations: must be an object/],
    ['an empty set', { concentrations: {} }, /^concentrations: at least one pollutant/],
    ['an unknown pollutant', { concentrations: { pm1: 3 } }, /^concentrations\.pm1: not a pollutant/],
    [
      'a negative concentration',
      { concentrations: { pm25: -1 } },
      /^concentrations\.pm25: must be a concentration of 0 or more/,
    ],
    ['a text', { concentrations: { co: '1.2' } }, /^concentrations\.co: must be a concentration/],
    ['an unknown member', { concentrations: { pm25: 1 }, unit: 'ppm' }, /^unit: not a member/],
  ])('refuses %s with a 400 naming the field', async (_what, body, message) => {
    const res = await aqi(body);
    expect(res.statusCode, res.body).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/(problem\+)?json/);
    const problem = json<{ type: string; detail: string }>(res);
    expect(problem.type).toMatch(/BadRequestData|InvalidRequest/);
    expect(problem.detail).toMatch(message);
  });
});

describe('the standard of the city', () => {
  it('is the one a request names none with (--aqi-standard)', async () => {
    const older = await createTestHub({ aqiStandard: 'HJ 633-2012' });
    try {
      const res = await older.request({
        method: 'POST',
        url: '/api/v1/environment/aqi',
        headers: JSON_CT,
        payload: JSON.stringify({ averaging: '24h', concentrations: { pm25: 60 } }),
      });
      expect(res.statusCode, res.body).toBe(200);
      // 2012: 50 + 50/40 × 25 = 81.25 → 82 (2026 would say 100)
      expect(json(res)).toMatchObject({ standard: 'HJ 633-2012', aqi: 82 });
    } finally {
      await older.close();
    }
  });
});
