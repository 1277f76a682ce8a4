/**
 * The pure energy calculations, worked by hand: consumption from a cumulative meter (steps,
 * resets, rollovers, gaps), hour buckets from rollups, the city's local periods (UTC+8), quota
 * use against the pro-rata expectation, intensity, tce (GB/T 2589-2020) and the hour-of-week band.
 */
import { describe, expect, it } from 'vitest';
import {
  bucketConsumption,
  consumptionBetween,
  consumptionByPeriod,
  hourAnomaly,
  hourOfWeek,
  intensity,
  kWhToTce,
  localPeriods,
  median,
  monthQuota,
  quotaUse,
  stepConsumption,
} from '../../src/environment/energy-consumption.js';

const T = (iso: string) => Date.parse(iso);

describe('steps of a cumulative meter', () => {
  it('counts the rise, a reset as the new reading, a rollover through the modulus', () => {
    expect(stepConsumption(100, 112.5)).toBe(12.5);
    expect(stepConsumption(100, 100)).toBe(0);
    // reset: the meter restarted at zero and now reads 3
    expect(stepConsumption(100, 3)).toBe(3);
    // rollover of a six-digit register: 999,990 → 5 is 10 + 5
    expect(stepConsumption(999_990, 5, { rolloverAt: 1_000_000 })).toBe(15);
    // a reading above the modulus cannot be a rollover: taken as a reset
    expect(stepConsumption(2_000_000, 5, { rolloverAt: 1_000_000 })).toBe(5);
  });

  it('counts each step in the period of its later reading; a gap is counted where it ends', () => {
    const h0 = T('2026-12-07T00:00:00Z');
    const H = 3_600_000;
    const readings = [
      { at: h0 + 10 * 60_000, kWh: 1000 }, // opens the series
      { at: h0 + 50 * 60_000, kWh: 1010 }, // hour 0: 10
      { at: h0 + H + 5 * 60_000, kWh: 1030 }, // hour 1: 20 (the 10 min across the boundary too)
      // silent through hour 2
      { at: h0 + 3 * H + 1, kWh: 1100 }, // hour 3: 70, the whole gap
    ];
    expect(consumptionByPeriod(readings, [h0, h0 + H, h0 + 2 * H, h0 + 3 * H, h0 + 4 * H])).toEqual([
      10, 20, 0, 70,
    ]);
    // the last reading before the window opens it
    expect(consumptionBetween(readings.slice(1), h0, h0 + H, { before: 1000 })).toBe(10);
    // order does not matter; a reset mid-window counts the new reading
    expect(
      consumptionBetween(
        [
          { at: h0 + 3, kWh: 4 },
          { at: h0 + 1, kWh: 500 },
          { at: h0 + 2, kWh: 510 },
        ],
        h0,
        h0 + H,
      ),
    ).toBe(14);
  });

  it('reads an hour from its rollup, or says to read the readings when it holds a reset', () => {
    expect(bucketConsumption({ min: 1005, max: 1040 }, 1000)).toBe(40);
    expect(bucketConsumption({ min: 1000, max: 1000 }, 1000)).toBe(0);
    expect(bucketConsumption({ min: 1005, max: 1040 }, undefined)).toBe(35);
    expect(bucketConsumption({ min: 2, max: 1040 }, 1000)).toBeUndefined();
  });
});

describe('the city’s local periods (UTC+8)', () => {
  it('starts the day and the month at local midnight', () => {
    // 2026-12-31T17:30Z is 01:30 on 1 January 2027 in Zhengzhou
    const p = localPeriods(T('2026-12-31T17:30:00Z'));
    expect(new Date(p.hour).toISOString()).toBe('2026-12-31T17:00:00.000Z');
    expect(new Date(p.day).toISOString()).toBe('2026-12-31T16:00:00.000Z');
    expect(new Date(p.month).toISOString()).toBe('2026-12-31T16:00:00.000Z');
    expect(new Date(p.nextMonth).toISOString()).toBe('2027-01-31T16:00:00.000Z');
    expect(new Date(p.year).toISOString()).toBe('2026-12-31T16:00:00.000Z');
    // 15:59Z is still 23:59 of 31 December
    expect(new Date(localPeriods(T('2026-12-31T15:59:59Z')).day).toISOString()).toBe(
      '2026-12-30T16:00:00.000Z',
    );
  });

  it('numbers the hours of the week from Monday 00:00 local', () => {
    // Monday 7 December 2026 00:00 local = Sunday 6 December 16:00Z
    expect(hourOfWeek(T('2026-12-06T16:00:00Z'))).toBe(0);
    expect(hourOfWeek(T('2026-12-06T15:59:59Z'))).toBe(167);
    expect(hourOfWeek(T('2026-12-07T02:30:00Z'))).toBe(10); // Monday 10:30 local
  });
});

describe('quota use, intensity, coal equivalent', () => {
  const start = 0;
  const end = 1000;
  it('compares the share consumed with the share of the period elapsed', () => {
    expect(quotaUse(400, 1000, start, end, 500)).toEqual({
      quota: 1000,
      share: 0.4,
      expected: 0.5,
      pace: 0.8,
      status: 'within',
    });
    // exactly on pace is within; just above is ahead
    expect(quotaUse(500, 1000, start, end, 500).status).toBe('within');
    expect(quotaUse(501, 1000, start, end, 500).status).toBe('ahead');
    // the whole quota is not over; one kWh more is
    expect(quotaUse(1000, 1000, start, end, 1000).status).toBe('within');
    expect(quotaUse(1001, 1000, start, end, 1000).status).toBe('over');
    // at the very start nothing is expected yet: no pace
    expect(quotaUse(0, 1000, start, end, 0)).toMatchObject({ expected: 0, pace: null, status: 'within' });
  });

  it('takes the monthly quota, or the annual one pro rata of the month’s days', () => {
    const p = localPeriods(T('2026-02-10T00:00:00Z'));
    expect(monthQuota({ monthlyQuota: 5 }, p.month, p.nextMonth, p.year, p.nextYear)).toBe(5);
    // February 2026: 28 of 365 days
    expect(monthQuota({ annualQuota: 365_000 }, p.month, p.nextMonth, p.year, p.nextYear)).toBeCloseTo(
      28_000,
      6,
    );
    expect(monthQuota({}, p.month, p.nextMonth, p.year, p.nextYear)).toBeUndefined();
  });

  it('divides by floor area or output, converts kWh to tce at 0.1229 kgce/kWh', () => {
    expect(intensity(12_000, 4000)).toBe(3);
    expect(intensity(12_000, 0)).toBeNull();
    expect(intensity(12_000, undefined)).toBeNull();
    // 10,000 kWh × 0.1229 kgce/kWh = 1,229 kgce = 1.229 tce
    expect(kWhToTce(10_000)).toBeCloseTo(1.229, 9);
  });
});

describe('the hour-of-week anomaly band', () => {
  it('is the median ± 3 × 1.4826 × MAD, strictly outside is anomalous', () => {
    const past = [100, 104, 96, 102, 98];
    // median 100; deviations 0 4 4 2 2 → MAD 2; half-width 3 × 1.4826 × 2 = 8.8956 (above 10 % of 100? no: 10)
    expect(median(past)).toBe(100);
    const v = hourAnomaly(100, past);
    expect(v).toMatchObject({ history: 5, median: 100, mad: 2, low: 90, high: 110, anomalous: false });
    expect(hourAnomaly(110, past).anomalous).toBe(false);
    expect(hourAnomaly(110.01, past)).toMatchObject({ anomalous: true, direction: 'high' });
    expect(hourAnomaly(90, past).anomalous).toBe(false);
    expect(hourAnomaly(89.99, past)).toMatchObject({ anomalous: true, direction: 'low' });
  });

  it('widens by the MAD when the history spreads', () => {
    const past = [100, 120, 80, 110, 90, 100];
    // median 100; deviations 0 20 20 10 10 0 → MAD 10; half 3 × 1.4826 × 10 = 44.478
    const v = hourAnomaly(144, past);
    expect(v.high).toBeCloseTo(144.478, 6);
    expect(v.anomalous).toBe(false);
    expect(hourAnomaly(145, past).anomalous).toBe(true);
  });

  it('gives no verdict below the minimum history, and a floor of 1 kWh on a flat zero history', () => {
    expect(hourAnomaly(1000, [1, 1, 1])).toMatchObject({ history: 3, anomalous: null, median: null });
    expect(hourAnomaly(1, [0, 0, 0, 0]).anomalous).toBe(false);
    expect(hourAnomaly(1.5, [0, 0, 0, 0]).anomalous).toBe(true);
  });
});
