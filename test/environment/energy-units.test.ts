/**
 * The energy monitoring of key energy-using units on a real database: meters (SDM
 * ThreePhaseAcMeasurement) linked to a KeyEnergyUnit by refEnergyUnit report cumulative
 * readings with explicit observedAt; the unit gets its hour's, day's and month's consumption
 * (local time, UTC+8), quota use, intensity and the anomaly flag of an hour that jumps above its
 * hour-of-week band, kept in history; the consumer does not come back to its own writes.
 * GET /api/v1/energy/units lists them per tenant; POST /api/v1/energy/consumption computes.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHub, json, JSON_CT, type TestHub } from '../support/test-hub.js';
import { energyUnitsConsumer } from '../../src/environment/energy-units.js';

const SDM = 'https://smartdatamodels.org/dataModel.Energy/';
const IMPORT = `${SDM}totalActiveEnergyImport`;
const E = '/ngsi-ld/v1/entities';
const UNIT = 'urn:ngsi-ld:KeyEnergyUnit:plant-1';
const M1 = 'urn:ngsi-ld:ThreePhaseAcMeasurement:plant-1-a';
const M2 = 'urn:ngsi-ld:ThreePhaseAcMeasurement:plant-1-b';
const WEEK = 7 * 24 * 3_600_000;
/** The hour that jumps: Monday 7 December 2026, 10:00–11:00 in Zhengzhou. */
const H = Date.parse('2026-12-07T02:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();
const MIN = 60_000;

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
const unit = async () => json<Stored>(await hub.request({ url: `${E}/${encodeURIComponent(UNIT)}` }));

async function until(what: string, ok: () => Promise<boolean>) {
  const end = Date.now() + 60_000;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const send = async (method: 'POST' | 'PATCH', url: string, body: unknown, headers = {}) => {
  const res = await hub.request({
    method,
    url,
    headers: { ...JSON_CT, ...headers },
    payload: JSON.stringify(body),
  });
  expect(res.statusCode, res.body).toBeLessThan(300);
};
const read = (meter: string, kWh: number, at: number) =>
  send('PATCH', `${E}/${encodeURIComponent(meter)}/attrs`, {
    [IMPORT]: { type: 'Property', value: kWh, unitCode: 'KWH', observedAt: iso(at) },
  });
const meter = (id: string, unitId = UNIT, headers = {}) =>
  send(
    'POST',
    E,
    {
      id,
      type: `${SDM}ThreePhaseAcMeasurement`,
      refEnergyUnit: { type: 'Relationship', object: unitId },
    },
    headers,
  );

describe('key energy-using units from the change feed', () => {
  // Twenty-odd readings one after another, each followed by the consumer: longer than most tests.
  it(
    'keeps the hour, day and month, quota use, intensity, and flags an hour that jumps',
    { timeout: 90_000 },
    async () => {
      await send('POST', E, {
        id: UNIT,
        type: 'KeyEnergyUnit',
        name: { type: 'Property', value: '重点用能单位 1 (汽车制造)' },
        sector: { type: 'Property', value: 'automotive' },
        monthlyQuota: { type: 'Property', value: 31_000, unitCode: 'KWH' },
        floorArea: { type: 'Property', value: 10_000, unitCode: 'MTK' },
      });
      await meter(M1);
      await meter(M2);

      // Four past Mondays, 10:00–11:00 local: 100, 100, 95, 105 kWh (a reading just before the
      // hour and one just before its end). Median 100, MAD 2.5 → half-width
      // max(3 × 1.4826 × 2.5, 10 % of 100) = 11.1195: the band is [88.88, 111.12].
      const past = [
        [4, 10_000, 100],
        [3, 11_000, 100],
        [2, 12_000, 95],
        [1, 13_000, 105],
      ] as const;
      for (const [w, base, used] of past) {
        await read(M1, base, H - w * WEEK - MIN);
        await read(M1, base + used, H - w * WEEK + 59 * MIN);
      }
      // 23:59 on 30 November (November's), then 23:59 on 6 December: 500 kWh in December so far.
      await read(M1, 20_000, Date.parse('2026-11-30T15:59:00Z'));
      await read(M1, 20_500, Date.parse('2026-12-06T15:59:00Z'));
      // Monday 7 December, local: 00:30 (+10), 01:30 (+20), 09:59 (+70: the silent hours are
      // counted where the gap ends), 10:20 and 10:59 (+300 in the hour of 10: the jump), 11:10 (+50).
      await read(M1, 20_510, Date.parse('2026-12-06T16:30:00Z'));
      await read(M1, 20_530, Date.parse('2026-12-06T17:30:00Z'));
      await read(M1, 20_600, Date.parse('2026-12-07T01:59:00Z'));
      await read(M1, 20_700, H + 20 * MIN);
      await read(M2, 5_000, H + 30 * MIN); // its first reading: opens the series, consumed nothing
      await read(M1, 20_900, H + 59 * MIN);
      await read(M1, 20_950, H + 70 * MIN);
      // The second meter is reset in the hour of 11: 5,000 → 5,030, then 10, 20: 30 + 10 + 10 = 50.
      await read(M2, 5_030, H + 62 * MIN);
      await read(M2, 10, H + 64 * MIN);
      await read(M2, 20, H + 65 * MIN);

      const figures = () => unit().then((u) => u.energyMonitoring?.json);
      // (The day of 6 December also comes to 500 kWh, so all three figures are waited for.)
      await until('the unit at 11:10', async () => {
        const kWh = (await figures())?.kWh as Record<string, number> | undefined;
        return kWh?.hour === 100 && kWh.day === 500 && kWh.month === 1000;
      });
      const u = await unit();
      // hour of 11: 50 + 50; the day: 10 + 20 + 70 + 300 + 50 + 50; the month: 500 more.
      expect(u.hourConsumption).toMatchObject({ value: 100, unitCode: 'KWH', observedAt: iso(H + 70 * MIN) });
      expect(u.dayConsumption).toMatchObject({ value: 500, unitCode: 'KWH' });
      expect(u.monthConsumption).toMatchObject({ value: 1000, unitCode: 'KWH' });
      // 1,000 of 31,000 kWh = 0.032258; the month is 6 days 11 h 10 min in of 31 days: 0.208557
      expect(u.monthQuotaUse?.value).toBeCloseTo(1000 / 31_000, 6);
      expect(u.energyIntensity?.value).toBeCloseTo(0.1, 9);
      expect(u.consumptionAnomaly).toMatchObject({ value: true, observedAt: iso(H) });
      const f = u.energyMonitoring?.json as Record<string, unknown>;
      expect(f).toMatchObject({
        timeZone: 'UTC+08:00',
        hour: '2026-12-07T03:00:00.000Z',
        day: '2026-12-06T16:00:00.000Z',
        month: '2026-11-30T16:00:00.000Z',
        kWh: { hour: 100, day: 500, month: 1000 },
        // tce = kWh × 0.1229 / 1000
        tce: { hour: 0.01229, day: 0.06145, month: 0.1229 },
        quota: { monthQuotaKWh: 31_000, status: 'within' },
        intensity: { kWhPerSquareMetre: 0.1, kWhPerOutput: null },
        anomaly: {
          hour: iso(H),
          hourOfWeek: 10,
          value: 300,
          history: 4,
          median: 100,
          mad: 2.5,
          low: 88.881,
          high: 111.12,
          anomalous: true,
          direction: 'high',
        },
      });
      expect((f.quota as { expected: number }).expected).toBeCloseTo((6 * 24 + 11 + 10 / 60) / (31 * 24), 5);

      // Kept in history: the day's figure reached 500 (several writes may share the observedAt of
      // 11:10, so the temporal order among them is not the order written), one instance per write.
      const t = json<Record<string, { value: number; observedAt: string }[]>>(
        await hub.request({
          url: `/ngsi-ld/v1/temporal/entities/${encodeURIComponent(UNIT)}?attrs=dayConsumption,consumptionAnomaly&lastN=100`,
        }),
      );
      const days = t.dayConsumption?.map((i) => i.value) ?? [];
      expect(days).toContain(500);
      // Within 7 December the day's figure never went past its final value.
      const today = (t.dayConsumption ?? [])
        .filter((i) => Date.parse(i.observedAt) >= Date.parse('2026-12-06T16:00:00Z'))
        .map((i) => i.value);
      expect(today.length).toBeGreaterThan(0);
      expect(Math.max(...today)).toBe(500);
      expect(t.consumptionAnomaly?.map((i) => i.value)).toContain(true);
      const count = async (attr: string) =>
        (
          await pool.query(
            'SELECT count(*)::int AS n FROM attribute_history WHERE entity_id = $1 AND attr = $2',
            [UNIT, `https://uri.etsi.org/ngsi-ld/default-context/${attr}`],
          )
        ).rows[0].n as number;
      expect(await count('energyMonitoring')).toBe(await count('dayConsumption'));
    },
  );

  it('does not come back to its own writes, and writes nothing when handled again', async () => {
    const changes = async () =>
      Number(
        (await pool.query('SELECT count(*) FROM change_feed_changes WHERE entity_id = $1', [UNIT])).rows[0]
          .count,
      );
    await until('the consumer caught up', async () =>
      (await hub.store.feed.consumers()).some(
        (c) => c.name === 'environment.energy-units' && c.lagChanges === 0,
      ),
    );
    const settled = await changes();
    await new Promise((r) => setTimeout(r, 800));
    expect(await changes()).toBe(settled);
    const again = energyUnitsConsumer({
      history: hub.store.history,
      getEntity: (t, id) => hub.store.getEntity(t, id),
      merge: () => Promise.reject(new Error('wrote again')),
      coreContext: () => Promise.reject(new Error('wrote again')),
    });
    await again.handle(
      [M1, M2].map((id) => ({
        position: '0.0',
        tenant: '',
        id,
        kind: 'updated' as const,
        types: [`${SDM}ThreePhaseAcMeasurement`],
        attributes: [IMPORT],
        at: '',
      })),
    );
  });

  it('lists the units of the tenant with their figures', async () => {
    const res = await hub.request({ url: '/api/v1/energy/units' });
    expect(res.statusCode, res.body).toBe(200);
    const list = json<Record<string, unknown>[]>(res);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({
      id: UNIT,
      name: '重点用能单位 1 (汽车制造)',
      sector: 'automotive',
      monthlyQuota: 31_000,
      floorArea: 10_000,
      consumptionAnomaly: true,
      figures: { kWh: { hour: 100, day: 500, month: 1000 } },
      meters: [M1, M2],
    });

    // Another tenant sees its own units only.
    const other = { 'NGSILD-Tenant': 'city2' };
    await send(
      'POST',
      E,
      {
        id: 'urn:ngsi-ld:KeyEnergyUnit:c2',
        type: 'KeyEnergyUnit',
        annualQuota: { type: 'Property', value: 365_000 },
      },
      other,
    );
    const c2 = await hub.request({ url: '/api/v1/energy/units', headers: other });
    expect(c2.statusCode, c2.body).toBe(200);
    expect(json<{ id: string; annualQuota: number; figures: unknown }[]>(c2)).toEqual([
      expect.objectContaining({ id: 'urn:ngsi-ld:KeyEnergyUnit:c2', annualQuota: 365_000, figures: null }),
    ]);
    const bad = await hub.request({ url: '/api/v1/energy/units?limit=0' });
    expect(bad.statusCode).toBe(400);
    expect(json<{ detail: string }>(bad).detail).toMatch(/^limit:/);
  });
});

describe('the consumption calculator', () => {
  const calc = (body: unknown) =>
    hub.request({
      method: 'POST',
      url: '/api/v1/energy/consumption',
      headers: JSON_CT,
      payload: JSON.stringify(body),
    });

  it('answers per local day, with a reset counted from zero', async () => {
    const res = await calc({
      interval: 'day',
      readings: [
        { observedAt: '2026-12-06T15:00:00Z', value: 1000 }, // 23:00 on 6 December local
        { observedAt: '2026-12-06T15:30:00Z', value: 1010 },
        { observedAt: '2026-12-06T16:30:00Z', value: 1050 }, // 00:30 on 7 December
        { observedAt: '2026-12-06T17:00:00Z', value: 5 }, // reset: 5 since zero
      ],
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(json(res)).toEqual({
      interval: 'day',
      timeZone: 'UTC+8',
      totalKWh: 55,
      totalTce: 0.0067595,
      periods: [
        { start: '2026-12-05T16:00:00.000Z', end: '2026-12-06T16:00:00.000Z', kWh: 10, tce: 0.001229 },
        { start: '2026-12-06T16:00:00.000Z', end: '2026-12-07T16:00:00.000Z', kWh: 45, tce: 0.0055305 },
      ],
    });
  });

  it('rolls over through the register modulus and starts from a reading before', async () => {
    const res = await calc({
      rolloverAt: 100_000,
      before: 99_990,
      readings: [{ observedAt: '2026-12-07T02:10:00+08:00', value: 15 }],
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(json(res)).toMatchObject({
      interval: 'hour',
      totalKWh: 25,
      periods: [{ start: '2026-12-06T18:00:00.000Z', kWh: 25 }],
    });
  });

  it.each([
    ['not an object', [], /request body must be a JSON object/],
    ['no readings', {}, /^readings: must be a non-empty array/],
    ['empty readings', { readings: [] }, /^readings: must be a non-empty array/],
    ['a reading that is no object', { readings: [3] }, /^readings\[0\]: must be an object/],
    ['a bad time', { readings: [{ observedAt: 'yesterday', value: 1 }] }, /^readings\[0\]\.observedAt:/],
    [
      'a negative value',
      { readings: [{ observedAt: '2026-12-07T00:00:00Z', value: -1 }] },
      /^readings\[0\]\.value:/,
    ],
    [
      'an unknown interval',
      { interval: 'week', readings: [{ observedAt: '2026-12-07T00:00:00Z', value: 1 }] },
      /^interval: must be one of/,
    ],
    [
      'a zero rollover',
      { rolloverAt: 0, readings: [{ observedAt: '2026-12-07T00:00:00Z', value: 1 }] },
      /^rolloverAt:/,
    ],
    [
      'an unknown member',
      { unit: 'kWh', readings: [{ observedAt: '2026-12-07T00:00:00Z', value: 1 }] },
      /^unit: not a member/,
    ],
    [
      'too long a span',
      {
        readings: [
          { observedAt: '2020-01-01T00:00:00Z', value: 1 },
          { observedAt: '2026-12-07T00:00:00Z', value: 2 },
        ],
      },
      /^readings: they span more than/,
    ],
  ])('refuses %s with a 400 naming the field', async (_what, body, message) => {
    const res = await calc(body);
    expect(res.statusCode, res.body).toBe(400);
    expect(json<{ detail: string }>(res).detail).toMatch(message);
  });
});
