/**
 * The AQI of HJ 633-2012 and HJ 633-2026 against values worked out by hand from the standards'
 * tables (typed again here from the standards, not imported): both ends of every band of every
 * table, values inside bands, above the tops, the special rules, rounding, primary pollutants,
 * levels and categories.
 */
import { describe, expect, it } from 'vitest';
import {
  computeAqi,
  iaqiOf,
  levelOf,
  type AqiStandard,
  type Averaging,
  type Pollutant,
} from '../../src/environment/aqi.js';

const IAQI = [0, 50, 100, 150, 200, 300, 400, 500];

/** [standard, averaging, pollutant, breakpoints at IAQI 0…500 (null: not defined)] */
const TABLES: [AqiStandard, Averaging, Pollutant, (number | null)[]][] = [
  // HJ 633-2012 Table 1
  ['HJ 633-2012', '24h', 'so2', [0, 50, 150, 475, 800, 1600, 2100, 2620]],
  ['HJ 633-2012', '1h', 'so2', [0, 150, 500, 650, 800, null, null, null]],
  ['HJ 633-2012', '24h', 'no2', [0, 40, 80, 180, 280, 565, 750, 940]],
  ['HJ 633-2012', '1h', 'no2', [0, 100, 200, 700, 1200, 2340, 3090, 3840]],
  ['HJ 633-2012', '24h', 'pm10', [0, 50, 150, 250, 350, 420, 500, 600]],
  ['HJ 633-2012', '24h', 'co', [0, 2, 4, 14, 24, 36, 48, 60]],
  ['HJ 633-2012', '1h', 'co', [0, 5, 10, 35, 60, 90, 120, 150]],
  ['HJ 633-2012', '1h', 'o3', [0, 160, 200, 300, 400, 800, 1000, 1200]],
  ['HJ 633-2012', '24h', 'o3_8h', [0, 100, 160, 215, 265, 800, null, null]],
  ['HJ 633-2012', '24h', 'pm25', [0, 35, 75, 115, 150, 250, 350, 500]],
  // HJ 633-2026 Table 3
  ['HJ 633-2026', '24h', 'so2', [0, 50, 150, 475, 800, 1600, 2100, 2620]],
  ['HJ 633-2026', '1h', 'so2', [0, 150, 500, 650, 800, null, null, null]],
  ['HJ 633-2026', '24h', 'no2', [0, 40, 80, 180, 280, 565, 750, 940]],
  ['HJ 633-2026', '1h', 'no2', [0, 100, 200, 700, 1200, 2340, 3090, 3840]],
  ['HJ 633-2026', '24h', 'co', [0, 2, 4, 14, 24, 36, 48, 60]],
  ['HJ 633-2026', '1h', 'co', [0, 5, 10, 35, 60, 90, 120, 150]],
  ['HJ 633-2026', '24h', 'o3_8h', [0, 100, 160, 215, 265, 800, null, null]],
  ['HJ 633-2026', '1h', 'o3', [0, 160, 200, 300, 400, 800, 1000, 1200]],
  ['HJ 633-2026', '24h', 'pm10', [0, 50, 120, 250, 350, 420, 500, 600]],
  ['HJ 633-2026', '24h', 'pm25', [0, 35, 60, 115, 150, 250, 350, 500]],
  // real-time reports read PM in the daily table (2012 §5.1.3 with 24-hour moving means; 2026 §4.2.4)
  ['HJ 633-2012', '1h', 'pm25', [0, 35, 75, 115, 150, 250, 350, 500]],
  ['HJ 633-2026', '1h', 'pm10', [0, 50, 120, 250, 350, 420, 500, 600]],
];

describe('every band of every table', () => {
  it.each(TABLES)(
    '%s %s %s: each breakpoint gives its IAQI, just above it the next band',
    (standard, averaging, p, bp) => {
      bp.forEach((c, i) => {
        if (c === null) return;
        expect(computeAqi(standard, averaging, { [p]: c }).iaqi[p], `${p} ${c}`).toBe(IAQI[i]);
        const next = bp[i + 1];
        if (next === undefined || next === null) return;
        // a whole unit above the breakpoint: IAQI_lo + ceil((IAQI_hi - IAQI_lo) / (BP_hi - BP_lo))
        // (CO is in mg/m³ and rounded to one decimal by 2026: a tenth above)
        const step = p === 'co' ? 0.1 : 1;
        const expected =
          (IAQI[i] as number) +
          Math.ceil((((IAQI[i + 1] as number) - (IAQI[i] as number)) * step) / (next - c) - 1e-12);
        expect(computeAqi(standard, averaging, { [p]: c + step }).iaqi[p], `${p} ${c}+${step}`).toBe(
          expected,
        );
      });
    },
  );
});

describe('values worked out by hand', () => {
  it.each([
    // PM2.5 36 (2012): 50 + 50/40 × 1 = 51.25 → 52
    ['HJ 633-2012', '24h', 'pm25', 36, 52],
    // PM2.5 60: 2012 50 + 50/40 × 25 = 81.25 → 82; 2026 the band's top: 100
    ['HJ 633-2012', '24h', 'pm25', 60, 82],
    ['HJ 633-2026', '24h', 'pm25', 60, 100],
    // PM10 150: 2012 100; 2026 100 + 50/130 × 30 = 111.54 → 112
    ['HJ 633-2012', '24h', 'pm10', 150, 100],
    ['HJ 633-2026', '24h', 'pm10', 150, 112],
    // NO2 1 h 450: 100 + 50/500 × 250 = 125
    ['HJ 633-2012', '1h', 'no2', 450, 125],
    // CO 24 h 2.2 mg/m³: 50 + 50/2 × 0.2 = 55
    ['HJ 633-2026', '24h', 'co', 2.2, 55],
    // O3 8 h 800: the top defined breakpoint, 300
    ['HJ 633-2012', '24h', 'o3_8h', 800, 300],
    // above the last breakpoint of a full table: capped at 500
    ['HJ 633-2012', '24h', 'pm25', 501, 500],
    ['HJ 633-2026', '24h', 'so2', 9000, 500],
    // HJ 633-2026 footnote (b): SO2 1 h above 800 counts 200; (c): O3 8 h above 800 counts 300
    ['HJ 633-2026', '1h', 'so2', 801, 200],
    ['HJ 633-2026', '24h', 'o3_8h', 900, 300],
    // 2026 rounds to integers first (half to even): 35.5 → 36 → 52; 34.5 → 34 → 48.57 → 49
    ['HJ 633-2026', '24h', 'pm25', 35.5, 52],
    ['HJ 633-2026', '24h', 'pm25', 34.5, 49],
    // 2012 does not: 35.5 → 50.625 → 51
    ['HJ 633-2012', '24h', 'pm25', 35.5, 51],
    // 2026 CO to one decimal, half to even: 2.05 → 2.0 (50), 2.15 → 2.2 (55)
    ['HJ 633-2026', '24h', 'co', 2.05, 50],
    ['HJ 633-2026', '24h', 'co', 2.15, 55],
  ] as [AqiStandard, Averaging, Pollutant, number, number][])(
    '%s %s %s %d → %d',
    (standard, averaging, p, c, iaqi) => {
      expect(computeAqi(standard, averaging, { [p]: c }).iaqi[p]).toBe(iaqi);
    },
  );

  it('leaves out what the standard does not index, and says why', () => {
    const so2 = computeAqi('HJ 633-2012', '1h', { so2: 801, pm25: 20 });
    expect(so2.iaqi).toEqual({ pm25: 29 });
    expect(so2.notes.join()).toMatch(/so2: above 800 .* HJ 633-2012 note 2/);
    const o3 = computeAqi('HJ 633-2012', '24h', { o3_8h: 801, o3: 300 });
    expect(o3.iaqi).toEqual({ o3: 150 });
    expect(o3.notes.join()).toMatch(/o3_8h: above 800/);
    expect(computeAqi('HJ 633-2026', '24h', { o3: 100 }).notes.join()).toMatch(
      /o3: not part of the daily index of HJ 633-2026/,
    );
    expect(computeAqi('HJ 633-2026', '1h', { o3_8h: 100 }).notes.join()).toMatch(
      /o3_8h: not part of the real-time index/,
    );
  });
});

describe('the index', () => {
  it('is the highest IAQI; primary pollutants are all that reach it, above 50 only', () => {
    const r = computeAqi('HJ 633-2012', '24h', { pm25: 115, pm10: 250, no2: 40, co: 1 });
    expect(r).toMatchObject({ aqi: 150, primaryPollutants: ['pm10', 'pm25'], level: 3 });
    expect(r.category).toEqual({
      zh: '轻度污染',
      en: 'Lightly polluted',
      color: { zh: '橙色', en: 'orange' },
      hex: '#FF7E00',
    });
    const clean = computeAqi('HJ 633-2026', '24h', { pm25: 35, no2: 40 });
    expect(clean).toMatchObject({ aqi: 50, primaryPollutants: [], level: 1 });
  });

  it('has no value when no pollutant is given', () => {
    expect(computeAqi('HJ 633-2026', '1h', {})).toMatchObject({
      aqi: null,
      level: null,
      category: null,
      primaryPollutants: [],
    });
  });

  it('has six levels: 0–50, 51–100, 101–150, 151–200, 201–300, above 300', () => {
    expect([0, 50, 51, 100, 101, 150, 151, 200, 201, 300, 301, 500].map((a) => levelOf(a).level)).toEqual([
      1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
    ]);
    expect(levelOf(301)).toMatchObject({ zh: '严重污染', en: 'Severely polluted', hex: '#7E0023' });
  });

  it('keeps exact breakpoints exact (no 51 for 50 through binary fractions)', () => {
    for (const c of [0.1, 0.2, 0.3, 1.1, 2.2, 3.3, 4.4, 17.5, 34.9, 35]) {
      const got = iaqiOf(c, [0, 35, 75, 115, 150, 250, 350, 500]);
      expect(got).toBe(Math.ceil(Math.round((50 / 35) * c * 1e9) / 1e9));
    }
  });
});
