/**
 * POST /api/v1/environment/noise: GB 3096-2008 as a plain API (levels of a period, or timestamped
 * readings grouped by day and night in city time); bad input is a 400 ProblemDetails naming the field.
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

const noise = (body: unknown) =>
  hub.request({
    method: 'POST',
    url: '/api/v1/environment/noise',
    headers: JSON_CT,
    payload: JSON.stringify(body),
  });

describe('the noise calculator', () => {
  it('answers the equivalent level of a period, the limit and the exceedance', async () => {
    const res = await noise({ zone: '2', period: 'day', levels: [70, 50, 50, 50] });
    expect(res.statusCode, res.body).toBe(200);
    // 10·log10((10^7 + 3·10^5) / 4) = 64.1; zone 2 day limit 60
    expect(json(res)).toEqual({
      standard: 'GB 3096-2008',
      zone: '2',
      period: 'day',
      LAeq: 64.1,
      limit: 60,
      exceedance: 4.1,
      exceeds: true,
      count: 4,
    });
  });

  it('weights levels by duration and checks the night maximum', async () => {
    const res = await noise({
      zone: '4a',
      period: 'night',
      levels: [
        { level: 50, durationS: 3600 },
        { level: 60, durationS: 1800 },
      ],
      LAmax: 71,
    });
    expect(res.statusCode, res.body).toBe(200);
    // (3600·10^5 + 1800·10^6) / 5400 = 4·10^5 → 56.0; 4a night 55; Lmax limit 55 + 15 = 70
    expect(json(res)).toMatchObject({
      zone: '4a',
      LAeq: 56,
      limit: 55,
      exceedance: 1,
      exceeds: true,
      LAmax: { LAmax: 71, limit: 70, exceedance: 1, exceeds: true },
    });
  });

  it('groups timestamped readings by day and night in city time (UTC+8)', async () => {
    const res = await noise({
      zone: 1,
      readings: [
        { observedAt: '2026-12-07T13:30:00Z', LAeq: 54 }, // 21:30 local: day
        { observedAt: '2026-12-07T13:50:00Z', LAeq: 56 },
        { observedAt: '2026-12-07T14:10:00Z', LAeq: 44, LAmax: 58 }, // 22:10 local: night
        { observedAt: '2026-12-07T18:00:00Z', LAeq: 44, LAmax: 61 },
      ],
    });
    expect(res.statusCode, res.body).toBe(200);
    // day: 10·log10((10^5.4 + 10^5.6) / 2) = 55.1 > 55; night 44 ≤ 45, Lmax 61 > 45 + 15
    expect(json(res)).toEqual({
      standard: 'GB 3096-2008',
      zone: '1',
      periods: [
        {
          start: '2026-12-06T22:00:00.000Z',
          end: '2026-12-07T14:00:00.000Z',
          period: 'day',
          LAeq: 55.1,
          limit: 55,
          exceedance: 0.1,
          exceeds: true,
          count: 2,
        },
        {
          start: '2026-12-07T14:00:00.000Z',
          end: '2026-12-07T22:00:00.000Z',
          period: 'night',
          LAeq: 44,
          limit: 45,
          exceedance: 0,
          exceeds: false,
          count: 2,
          LAmax: { LAmax: 61, limit: 60, exceedance: 1, exceeds: true },
        },
      ],
    });
  });

  it.each([
    ['not an object', [60], /request body must be a JSON object/],
    ['no zone', { period: 'day', levels: [60] }, /^zone: must be a GB 3096-2008 zone class/],
    ['an unknown zone', { zone: '4', period: 'day', levels: [60] }, /^zone:/],
    ['no period', { zone: '2', levels: [60] }, /^period: must be "day"/],
    ['no levels', { zone: '2', period: 'day' }, /^levels: must be a non-empty array/],
    ['an empty list', { zone: '2', period: 'day', levels: [] }, /^levels: must be a non-empty array/],
    ['a level as text', { zone: '2', period: 'day', levels: [60, '61'] }, /^levels\[1\]: must be a level/],
    ['a negative level', { zone: '2', period: 'day', levels: [-3] }, /^levels\[0\]: must be a level/],
    [
      'a zero duration',
      { zone: '2', period: 'day', levels: [{ level: 60, durationS: 0 }] },
      /^levels\[0\]\.durationS: must be a duration/,
    ],
    ['LAmax by day', { zone: '2', period: 'day', levels: [60], LAmax: 80 }, /^LAmax: .* at night only/],
    [
      'a reading without a time',
      { zone: '2', readings: [{ LAeq: 60 }] },
      /^readings\[0\]\.observedAt: must be a date-time/,
    ],
    [
      'a reading without a level',
      { zone: '2', readings: [{ observedAt: '2026-12-07T10:00:00Z' }] },
      /^readings\[0\]\.LAeq: must be a level/,
    ],
    ['an unknown member', { zone: '2', period: 'day', levels: [60], unit: 'dB' }, /^unit: not a member/],
  ])('refuses %s with a 400 naming the field', async (_what, body, message) => {
    const res = await noise(body);
    expect(res.statusCode, res.body).toBe(400);
    const problem = json<{ type: string; detail: string }>(res);
    expect(problem.type).toMatch(/BadRequestData|InvalidRequest/);
    expect(problem.detail).toMatch(message);
  });
});
