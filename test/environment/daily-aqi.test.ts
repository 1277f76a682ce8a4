/**
 * The daily AQI's pure part, against values worked by hand: the O3 8-hour moving means and the
 * validity rules (GB 3095 Table 4: 20 hourly values a day, 6 of the 8 hours of a window; 14 valid
 * windows for the O3 daily maximum, unless above 160 µg/m³), the city's local day (UTC+8), and
 * the edition picked by date (HJ 633-2026 from 2026-03-01, Beijing time).
 */
import { describe, expect, it } from 'vitest';
import {
  dailyConcentrations,
  localDate,
  localDayStart,
  o3EightHourMeans,
  type HourlyMeans,
} from '../../src/environment/daily-aqi.js';
import { standardFor } from '../../src/environment/aqi-edition.js';

/** 24 hourly values, those of `hours` only (default all). */
const day = (f: (h: number) => number, hours: (h: number) => boolean = () => true): HourlyMeans =>
  Array.from({ length: 24 }, (_, h) => (hours(h) ? f(h) : undefined));

describe('O3 8-hour moving means', () => {
  it('are the means of the windows ending 08:00 to 24:00, valid with 6 of their 8 hours', () => {
    // o3 = 10 × hour: the window of hours s..s+7 has the mean 10 × (s + 3.5)
    const m = o3EightHourMeans(day((h) => 10 * h));
    expect(m).toHaveLength(17);
    expect(m[0]).toBe(35);
    expect(m[16]).toBe(195);
    // hours 21-23 missing: the last window (16..23) keeps 16..20, 5 values: not valid;
    // the window 15..22 keeps 15..20, 6 values: (15+…+20)/6 × 10 = 175
    const gap = o3EightHourMeans(
      day(
        (h) => 10 * h,
        (h) => h <= 20,
      ),
    );
    expect(gap[16]).toBeUndefined();
    expect(gap[15]).toBe(175);
    expect(gap[14]).toBe(170); // 14..20, 7 values
  });
});

describe('daily concentrations', () => {
  it('takes 24-hour means with 20 hourly values or more, and names what it leaves out', () => {
    const d = dailyConcentrations(
      {
        pm25: day(() => 50),
        no2: day((h) => (h < 12 ? 30 : 50)),
        so2: day(
          () => 10,
          (h) => h < 20,
        ), // 20 values: valid
        co: day(
          () => 1,
          (h) => h < 19,
        ), // 19: left out
        o3: day((h) => 10 * h),
      },
      { o3Max1h: false },
    );
    expect(d.concentrations).toEqual({ pm25: 50, no2: 40, so2: 10, o3_8h: 195 });
    expect(d.hours).toEqual({ so2: 20, no2: 24, co: 19, pm10: 0, pm25: 24, o3: 24, o3_8h: 17 });
    expect(d.leftOut).toEqual({
      co: '19 hourly values, 20 needed (GB 3095 Table 4)',
      pm10: 'no hourly values',
    });
  });

  it('takes the O3 daily maximum 8-hour mean over 14 valid windows, or fewer above 160 µg/m³', () => {
    // hours 0..19: windows s = 0..14 valid (14..19 has 6), 15 windows; max (14..19) = 165
    expect(
      dailyConcentrations(
        {
          o3: day(
            (h) => 10 * h,
            (h) => h < 20,
          ),
        },
        { o3Max1h: false },
      ).concentrations,
    ).toEqual({ o3_8h: 165 });
    // hours 0..17: windows s = 0..12, 13 windows; max (12..17) = 145, not above 160: left out
    const few = dailyConcentrations(
      {
        o3: day(
          (h) => 10 * h,
          (h) => h < 18,
        ),
      },
      { o3Max1h: false },
    );
    expect(few.concentrations.o3_8h).toBeUndefined();
    expect(few.leftOut.o3_8h).toBe('13 valid 8-hour means, 14 needed (HJ 663-2013)');
    // the same hours at twice the level: max 290 > 160, valid although 13 windows
    const high = dailyConcentrations(
      {
        o3: day(
          (h) => 20 * h,
          (h) => h < 18,
        ),
      },
      { o3Max1h: false },
    );
    expect(high.concentrations.o3_8h).toBe(290);
    // no window with 6 hours
    const none = dailyConcentrations(
      {
        o3: day(
          () => 80,
          (h) => h % 2 === 0,
        ),
      },
      { o3Max1h: false },
    );
    expect(none.leftOut.o3_8h).toBe('no 8-hour mean with 6 hourly values (GB 3095 Table 4)');
  });

  it('adds the O3 daily maximum 1-hour value for HJ 633-2012', () => {
    const d = dailyConcentrations({ o3: day((h) => 10 * h) }, { o3Max1h: true });
    expect(d.concentrations.o3).toBe(230);
    expect(d.concentrations.o3_8h).toBe(195);
  });
});

describe('the local day and the edition by date', () => {
  it('cuts days at midnight in Beijing (UTC+8)', () => {
    const start = Date.parse('2026-12-06T16:00:00Z');
    expect(localDayStart(start, 480)).toBe(start);
    expect(localDayStart(Date.parse('2026-12-07T15:59:59.999Z'), 480)).toBe(start);
    expect(localDayStart(start - 1, 480)).toBe(start - 24 * 3_600_000);
    expect(localDate(start, 480)).toBe('2026-12-07');
    expect(localDate(localDayStart(start - 1, 480), 480)).toBe('2026-12-06');
    expect(localDayStart(Date.parse('2026-12-07T10:00:00Z'), 0)).toBe(Date.parse('2026-12-07T00:00:00Z'));
  });

  it('uses HJ 633-2012 before 2026-03-01 in Beijing and HJ 633-2026 from then, unless one is set', () => {
    const inForce = Date.parse('2026-02-28T16:00:00Z');
    expect(standardFor('by-date', inForce - 1)).toBe('HJ 633-2012');
    expect(standardFor('by-date', inForce)).toBe('HJ 633-2026');
    expect(standardFor('HJ 633-2012', inForce + 1)).toBe('HJ 633-2012');
    expect(standardFor('HJ 633-2026', inForce - 1)).toBe('HJ 633-2026');
  });
});
