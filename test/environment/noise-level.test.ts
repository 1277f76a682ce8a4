/**
 * GB 3096-2008 noise, worked by hand: energy means, day and night in the city's time (UTC+8),
 * both sides of every zone's day and night limit, and the night maximum (limit + 15).
 */
import { describe, expect, it } from 'vitest';
import {
  assessLevel,
  assessNightLmax,
  equivalentLevel,
  periodOf,
  type NoisePeriod,
  type NoiseZone,
} from '../../src/environment/noise-level.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe('the equivalent level', () => {
  it('is the energy mean of the levels', () => {
    expect(equivalentLevel([60, 60])).toBeCloseTo(60, 10);
    // 10·log10((10^5 + 10^6) / 2) = 10·log10(550 000) = 57.404
    expect(equivalentLevel([50, 60])).toBeCloseTo(57.404, 3);
    // 10·log10((10^7 + 3·10^5) / 4) = 10·log10(2 575 000) = 64.108
    expect(equivalentLevel([70, 50, 50, 50])).toBeCloseTo(64.108, 3);
  });

  it('weights each level by its duration', () => {
    // (3600·10^6 + 1800·10^7) / 5400 = 4·10^6 → 66.02
    expect(
      equivalentLevel([
        { level: 60, durationS: 3600 },
        { level: 70, durationS: 1800 },
      ]),
    ).toBeCloseTo(66.021, 3);
    expect(equivalentLevel([{ level: 55 }, 65])).toBeCloseTo(equivalentLevel([55, 65]), 10);
  });

  it('needs a level', () => {
    expect(() => equivalentLevel([])).toThrow(RangeError);
    expect(() => equivalentLevel([{ level: 50, durationS: 0 }])).toThrow(RangeError);
  });
});

describe('day and night in the city (UTC+8)', () => {
  it.each([
    // [instant UTC, period, start UTC, end UTC]
    ['2026-12-07T14:00:00Z', 'night', '2026-12-07T14:00:00.000Z', '2026-12-07T22:00:00.000Z'], // 22:00 local
    ['2026-12-07T15:59:00Z', 'night', '2026-12-07T14:00:00.000Z', '2026-12-07T22:00:00.000Z'], // 23:59 local
    ['2026-12-07T16:00:00Z', 'night', '2026-12-07T14:00:00.000Z', '2026-12-07T22:00:00.000Z'], // 00:00 local
    ['2026-12-07T21:59:59.999Z', 'night', '2026-12-07T14:00:00.000Z', '2026-12-07T22:00:00.000Z'], // 05:59
    ['2026-12-07T22:00:00Z', 'day', '2026-12-07T22:00:00.000Z', '2026-12-08T14:00:00.000Z'], // 06:00 local
    ['2026-12-08T13:59:59.999Z', 'day', '2026-12-07T22:00:00.000Z', '2026-12-08T14:00:00.000Z'], // 21:59
    ['2026-12-08T04:00:00Z', 'day', '2026-12-07T22:00:00.000Z', '2026-12-08T14:00:00.000Z'], // noon local
  ])('%s is %s, %s to %s', (instant, period, start, end) => {
    const p = periodOf(at(instant));
    expect({ period: p.period, start: iso(p.start), end: iso(p.end) }).toEqual({ period, start, end });
  });

  it('follows another offset when given one', () => {
    // UTC: 06:00 is day
    expect(periodOf(at('2026-12-07T06:00:00Z'), 0)).toMatchObject({ period: 'day' });
    expect(periodOf(at('2026-12-07T05:59:00Z'), 0)).toMatchObject({ period: 'night' });
  });
});

describe('zone limits (GB 3096-2008 Table 1)', () => {
  const limits: [NoiseZone, number, number][] = [
    ['0', 50, 40],
    ['1', 55, 45],
    ['2', 60, 50],
    ['3', 65, 55],
    ['4a', 70, 55],
    ['4b', 70, 60],
  ];
  const cases = limits.flatMap(([zone, day, night]) =>
    (
      [
        ['day', day],
        ['night', night],
      ] as [NoisePeriod, number][]
    ).flatMap(([period, limit]) => [
      [zone, period, limit, limit, 0, false] as const,
      [zone, period, limit + 0.1, limit, 0.1, true] as const,
    ]),
  );
  it.each(cases)(
    'zone %s %s: %d against %d is %d over',
    (zone, period, level, limit, exceedance, exceeds) => {
      expect(assessLevel(level, zone, period)).toEqual({
        LAeq: level,
        limit,
        exceedance,
        exceeds,
      });
    },
  );

  it('compares the level as reported, to 0.1 dB', () => {
    expect(assessLevel(60.04, '2', 'day')).toEqual({ LAeq: 60, limit: 60, exceedance: 0, exceeds: false });
    expect(assessLevel(63.26, '2', 'day')).toEqual({ LAeq: 63.3, limit: 60, exceedance: 3.3, exceeds: true });
    expect(assessLevel(41.2, '2', 'night')).toEqual({ LAeq: 41.2, limit: 50, exceedance: 0, exceeds: false });
  });

  it.each([
    ['0', 55],
    ['1', 60],
    ['2', 65],
    ['3', 70],
    ['4a', 70],
    ['4b', 75],
  ] as [NoiseZone, number][])('night maximum, zone %s: at most %d', (zone, limit) => {
    expect(assessNightLmax(limit, zone)).toEqual({ LAmax: limit, limit, exceedance: 0, exceeds: false });
    expect(assessNightLmax(limit + 0.1, zone)).toEqual({
      LAmax: limit + 0.1,
      limit,
      exceedance: 0.1,
      exceeds: true,
    });
  });
});
