/**
 * The air quality index of China's Ministry of Ecology and Environment: individual indexes (IAQI)
 * of each pollutant and the AQI, from concentrations, by HJ 633-2012 or HJ 633-2026 (in force
 * 2026-03-01, replacing 2012), in their 1-hour (real-time report) and 24-hour (daily report)
 * forms. Pure: no I/O.
 *
 * IAQI_P = (IAQI_Hi - IAQI_Lo) / (BP_Hi - BP_Lo) * (C_P - BP_Lo) + IAQI_Lo, AQI = max(IAQI_P),
 * both rounded up to an integer (HJ 633-2012 §6.2, HJ 633-2026 §4.2.6). Computed in integers
 * (concentrations in thousandths), so that an IAQI of exactly 50 stays 50 instead of becoming 51
 * through a binary fraction.
 */

export const AQI_STANDARDS = ['HJ 633-2012', 'HJ 633-2026'] as const;
export type AqiStandard = (typeof AQI_STANDARDS)[number];
export const AVERAGINGS = ['1h', '24h'] as const;
export type Averaging = (typeof AVERAGINGS)[number];

/** Concentrations in µg/m³, CO in mg/m³; o3 is a 1-hour value, o3_8h an 8-hour moving mean. */
export const POLLUTANTS = ['so2', 'no2', 'co', 'o3', 'o3_8h', 'pm10', 'pm25'] as const;
export type Pollutant = (typeof POLLUTANTS)[number];

/** The IAQI breakpoints of both standards: IAQI 0, 50, 100, 150, 200, 300, 400, 500. */
const IAQI = [0, 50, 100, 150, 200, 300, 400, 500] as const;

/** A row of concentration breakpoints for the IAQI values above; null: not defined that high. */
type Breakpoints = readonly (number | null)[];

/** HJ 633-2012 Table 1 (µg/m³; CO mg/m³). */
const HJ633_2012 = {
  SO2_24H: [0, 50, 150, 475, 800, 1600, 2100, 2620],
  SO2_1H: [0, 150, 500, 650, 800, null, null, null], // note (2): above 800, no 1-hour IAQI
  NO2_24H: [0, 40, 80, 180, 280, 565, 750, 940],
  NO2_1H: [0, 100, 200, 700, 1200, 2340, 3090, 3840],
  PM10_24H: [0, 50, 150, 250, 350, 420, 500, 600],
  CO_24H: [0, 2, 4, 14, 24, 36, 48, 60],
  CO_1H: [0, 5, 10, 35, 60, 90, 120, 150],
  O3_1H: [0, 160, 200, 300, 400, 800, 1000, 1200],
  O3_8H: [0, 100, 160, 215, 265, 800, null, null], // note (3): above 800, the 1-hour IAQI is used
  PM25_24H: [0, 35, 75, 115, 150, 250, 350, 500],
} satisfies Record<string, Breakpoints>;

/**
 * HJ 633-2026 Table 3 (µg/m³; CO mg/m³): the 2012 values except PM10 (100: 120) and PM2.5
 * (100: 60); footnote (b): SO2 1-hour above 800 counts as IAQI 200; (c): O3 8-hour above 800 as 300.
 */
const HJ633_2026 = {
  ...HJ633_2012,
  PM10_24H: [0, 50, 120, 250, 350, 420, 500, 600],
  PM25_24H: [0, 35, 60, 115, 150, 250, 350, 500],
} satisfies Record<string, Breakpoints>;

type Table = keyof typeof HJ633_2012;

/**
 * The table each pollutant is read in. 2012 daily: 24-hour means, O3 daily maximum 1-hour and
 * 8-hour (§5.1.2); 2012 real-time: 1-hour values, PM as 24-hour (moving) means, O3 8-hour moving
 * (§5.1.3). 2026 daily: daily means and O3 daily maximum 8-hour, no O3 1-hour (§4.2.2); 2026
 * real-time: 1-hour values, PM10 and PM2.5 read in the daily table, no O3 8-hour (§4.2.3, §4.2.4).
 */
const TABLES: Record<AqiStandard, Record<Averaging, Partial<Record<Pollutant, Table>>>> = {
  'HJ 633-2012': {
    '24h': {
      so2: 'SO2_24H',
      no2: 'NO2_24H',
      co: 'CO_24H',
      o3: 'O3_1H',
      o3_8h: 'O3_8H',
      pm10: 'PM10_24H',
      pm25: 'PM25_24H',
    },
    '1h': {
      so2: 'SO2_1H',
      no2: 'NO2_1H',
      co: 'CO_1H',
      o3: 'O3_1H',
      o3_8h: 'O3_8H',
      pm10: 'PM10_24H',
      pm25: 'PM25_24H',
    },
  },
  'HJ 633-2026': {
    '24h': {
      so2: 'SO2_24H',
      no2: 'NO2_24H',
      co: 'CO_24H',
      o3_8h: 'O3_8H',
      pm10: 'PM10_24H',
      pm25: 'PM25_24H',
    },
    '1h': { so2: 'SO2_1H', no2: 'NO2_1H', co: 'CO_1H', o3: 'O3_1H', pm10: 'PM10_24H', pm25: 'PM25_24H' },
  },
};

/** The six levels (HJ 633 Table 1 and Annex A; 2026 starts level 1 at AQI 1). */
export const AQI_LEVELS = [
  { level: 1, max: 50, zh: '优', en: 'Excellent', color: { zh: '绿色', en: 'green' }, hex: '#00E400' },
  { level: 2, max: 100, zh: '良', en: 'Good', color: { zh: '黄色', en: 'yellow' }, hex: '#FFFF00' },
  {
    level: 3,
    max: 150,
    zh: '轻度污染',
    en: 'Lightly polluted',
    color: { zh: '橙色', en: 'orange' },
    hex: '#FF7E00',
  },
  {
    level: 4,
    max: 200,
    zh: '中度污染',
    en: 'Moderately polluted',
    color: { zh: '红色', en: 'red' },
    hex: '#FF0000',
  },
  {
    level: 5,
    max: 300,
    zh: '重度污染',
    en: 'Heavily polluted',
    color: { zh: '紫色', en: 'purple' },
    hex: '#99004C',
  },
  {
    level: 6,
    max: Infinity,
    zh: '严重污染',
    en: 'Severely polluted',
    color: { zh: '褐红色', en: 'maroon' },
    hex: '#7E0023',
  },
] as const;

export type AqiLevel = (typeof AQI_LEVELS)[number];

export interface AqiResult {
  /** Null when no pollutant could be indexed. */
  aqi: number | null;
  iaqi: Partial<Record<Pollutant, number>>;
  /** Pollutants with the highest IAQI when the AQI is above 50 (ties all listed). */
  primaryPollutants: Pollutant[];
  level: AqiLevel['level'] | null;
  category: { zh: string; en: string; color: { zh: string; en: string }; hex: string } | null;
  /** Pollutants given but left out, and why. */
  notes: string[];
}

/** Half to even, to `digits` decimals (GB/T 8170, as HJ 633-2026 §4.2.2 asks). */
function roundHalfEven(x: number, digits: number): number {
  const f = 10 ** digits;
  const v = x * f;
  const r = Math.round(v);
  // an exact .5 (within float noise) goes to the even neighbour
  if (Math.abs(Math.abs(v - Math.trunc(v)) - 0.5) < 1e-9) return (2 * Math.round(v / 2)) / f;
  return r / f;
}

/**
 * The IAQI of a concentration in a breakpoint row, rounded up; above the last defined
 * breakpoint: `above` (the standard's rule), else capped at 500 ("off the scale").
 */
export function iaqiOf(c: number, bp: Breakpoints): number | 'above' {
  // thousandths, as integers: exact arithmetic
  const c1000 = Math.round(c * 1000);
  for (let i = 1; i < bp.length; i++) {
    const hi = bp[i];
    if (hi === null || hi === undefined) return 'above';
    if (c1000 <= hi * 1000) {
      const lo = bp[i - 1] as number;
      const ilo = IAQI[i - 1] as number;
      const ihi = IAQI[i] as number;
      const num = (ihi - ilo) * (c1000 - lo * 1000);
      const den = (hi - lo) * 1000;
      const q = num % den === 0 ? num / den : Math.floor(num / den) + 1;
      return ilo + q;
    }
  }
  return 500;
}

/** The level of an AQI value (0 counts as level 1). */
export function levelOf(aqi: number): AqiLevel {
  return AQI_LEVELS.find((l) => aqi <= l.max) ?? AQI_LEVELS[5];
}

/** The AQI, IAQIs, primary pollutants and level of a set of concentrations. Missing pollutants are left out. */
export function computeAqi(
  standard: AqiStandard,
  averaging: Averaging,
  concentrations: Partial<Record<Pollutant, number>>,
): AqiResult {
  const tables = standard === 'HJ 633-2012' ? HJ633_2012 : HJ633_2026;
  const uses = TABLES[standard][averaging];
  const iaqi: Partial<Record<Pollutant, number>> = {};
  const notes: string[] = [];
  for (const p of POLLUTANTS) {
    const raw = concentrations[p];
    if (raw === undefined) continue;
    const table = uses[p];
    if (!table) {
      notes.push(`${p}: not part of the ${averaging === '1h' ? 'real-time' : 'daily'} index of ${standard}`);
      continue;
    }
    // HJ 633-2026 §4.2.2, §4.2.3: integers, CO to one decimal, before the IAQI.
    const c = standard === 'HJ 633-2026' ? roundHalfEven(raw, p === 'co' ? 1 : 0) : raw;
    const v = iaqiOf(c, tables[table]);
    if (v !== 'above') {
      iaqi[p] = v;
      continue;
    }
    if (table === 'SO2_1H') {
      if (standard === 'HJ 633-2026')
        iaqi[p] = 200; // Table 3 footnote (b)
      else notes.push('so2: above 800 µg/m³ in 1 hour, HJ 633-2012 note 2 indexes SO2 by its 24-hour mean');
    } else if (standard === 'HJ 633-2026')
      iaqi[p] = 300; // O3 8-hour, Table 3 footnote (c)
    else notes.push('o3_8h: above 800 µg/m³, HJ 633-2012 note 3 indexes O3 by its 1-hour value');
  }
  const values = Object.values(iaqi);
  if (values.length === 0)
    return { aqi: null, iaqi, primaryPollutants: [], level: null, category: null, notes };
  const aqi = Math.max(...values);
  const l = levelOf(aqi);
  return {
    aqi,
    iaqi,
    primaryPollutants: aqi > 50 ? POLLUTANTS.filter((p) => iaqi[p] === aqi) : [],
    level: l.level,
    category: { zh: l.zh, en: l.en, color: l.color, hex: l.hex },
    notes,
  };
}
