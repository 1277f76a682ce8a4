/**
 * Environmental noise by GB 3096-2008 声环境质量标准 (Environmental quality standard for noise):
 * the equivalent continuous A-weighted level of several LAeq values, the day and night periods in
 * the city's local time, the limits of the acoustic environment function zones (classes 0, 1, 2,
 * 3, 4a, 4b), the exceedance over a limit and the night-time maximum check. Pure: no I/O.
 *
 * Levels are given and answered in dB(A), rounded to 0.1 dB as monitoring reports give them; a
 * level is compared with its limit after rounding (60.04 is reported 60.0 and meets a limit of 60).
 */

/** The function zone classes of GB 3096-2008 §4. */
export const NOISE_ZONES = ['0', '1', '2', '3', '4a', '4b'] as const;
export type NoiseZone = (typeof NOISE_ZONES)[number];

/** The zone a sensor is taken to be in when its entity names none: class 2 (mixed residential–commercial). */
export const DEFAULT_NOISE_ZONE: NoiseZone = '2';

export const NOISE_PERIODS = ['day', 'night'] as const;
export type NoisePeriod = (typeof NOISE_PERIODS)[number];

/**
 * GB 3096-2008 Table 1, environmental noise limits LAeq dB(A), day / night. Class 0: sanatoria,
 * quiet zones; 1: residential, hospitals, schools, offices; 2: mixed residential–commercial; 3:
 * industrial, warehousing; 4a: both sides of arterial roads (and expressways, urban rail above
 * ground, inland waterways); 4b: both sides of railway trunk lines.
 */
export const NOISE_LIMITS: Record<NoiseZone, Record<NoisePeriod, number>> = {
  '0': { day: 50, night: 40 },
  '1': { day: 55, night: 45 },
  '2': { day: 60, night: 50 },
  '3': { day: 65, night: 55 },
  '4a': { day: 70, night: 55 },
  '4b': { day: 70, night: 60 },
};

/** GB 3096-2008 (夜间突发噪声): at night the maximum level of sudden noise may pass the limit by at most 15 dB(A). */
export const NIGHT_LMAX_MARGIN = 15;

/**
 * The city's local time, as minutes east of UTC: Asia/Shanghai, UTC+8 all year (China has kept no
 * daylight saving time since 1991). GB 3096-2008, after the Environmental Noise Law: day (昼间) is
 * 06:00–22:00 and night (夜间) 22:00–06:00 local time; a government at county level or above may
 * set other hours, and then these constants change.
 */
export const CITY_UTC_OFFSET_MINUTES = 480;
export const DAY_STARTS_AT_HOUR = 6;
export const NIGHT_STARTS_AT_HOUR = 22;

const HOUR = 3_600_000;
const round1 = (x: number) => Math.round(x * 10) / 10;

/** One LAeq value; `durationS`: the time it is the equivalent level of (equal weights when left out). */
export type LevelSample = number | { level: number; durationS?: number };

/**
 * The equivalent level of several LAeq values: the energy mean 10·log10(Σ tᵢ·10^(Lᵢ/10) / Σ tᵢ),
 * each value weighted by its duration tᵢ (equal when none is given). Unrounded. Throws a
 * RangeError for an empty list or a total duration of zero.
 */
export function equivalentLevel(samples: readonly LevelSample[]): number {
  let energy = 0;
  let time = 0;
  for (const s of samples) {
    const level = typeof s === 'number' ? s : s.level;
    const t = typeof s === 'number' ? 1 : (s.durationS ?? 1);
    energy += t * 10 ** (level / 10);
    time += t;
  }
  if (time <= 0) throw new RangeError('No level to average');
  return 10 * Math.log10(energy / time);
}

/** The period (day or night) an instant falls in, with its start and end (epoch ms), in the city's local time. */
export function periodOf(
  at: number,
  offsetMinutes: number = CITY_UTC_OFFSET_MINUTES,
): { period: NoisePeriod; start: number; end: number } {
  const offset = offsetMinutes * 60_000;
  const local = at + offset;
  const midnight = Math.floor(local / (24 * HOUR)) * 24 * HOUR; // local midnight, in shifted time
  const hour = (local - midnight) / HOUR;
  const at0 = (h: number) => midnight + h * HOUR - offset;
  if (hour >= DAY_STARTS_AT_HOUR && hour < NIGHT_STARTS_AT_HOUR)
    return { period: 'day', start: at0(DAY_STARTS_AT_HOUR), end: at0(NIGHT_STARTS_AT_HOUR) };
  if (hour >= NIGHT_STARTS_AT_HOUR)
    return { period: 'night', start: at0(NIGHT_STARTS_AT_HOUR), end: at0(24 + DAY_STARTS_AT_HOUR) };
  return { period: 'night', start: at0(NIGHT_STARTS_AT_HOUR - 24), end: at0(DAY_STARTS_AT_HOUR) };
}

export interface NoiseAssessment {
  /** The equivalent level, rounded to 0.1 dB(A). */
  LAeq: number;
  limit: number;
  /** dB(A) over the limit, 0 when within it. */
  exceedance: number;
  exceeds: boolean;
}

/** A level against its zone's limit for the period. */
export function assessLevel(level: number, zone: NoiseZone, period: NoisePeriod): NoiseAssessment {
  const LAeq = round1(level);
  const limit = NOISE_LIMITS[zone][period];
  const over = round1(LAeq - limit);
  return { LAeq, limit, exceedance: Math.max(0, over), exceeds: over > 0 };
}

export interface LmaxAssessment {
  LAmax: number;
  /** The zone's night limit + 15 dB(A). */
  limit: number;
  exceedance: number;
  exceeds: boolean;
}

/** A night-time maximum level against the zone's night limit + 15 dB(A) (GB 3096-2008). */
export function assessNightLmax(lmax: number, zone: NoiseZone): LmaxAssessment {
  const LAmax = round1(lmax);
  const limit = NOISE_LIMITS[zone].night + NIGHT_LMAX_MARGIN;
  const over = round1(LAmax - limit);
  return { LAmax, limit, exceedance: Math.max(0, over), exceeds: over > 0 };
}
