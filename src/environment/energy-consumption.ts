/**
 * Pure calculations of the online energy monitoring of key energy-using units (重点用能单位能耗
 * 在线监测, metering per GB 17167-2006): consumption from cumulative meters, the city's local
 * periods (hour, day, month), quota use, intensity, the coal-equivalent of electricity, and the
 * hour-of-week anomaly band. No I/O: the consumer (energy-units.ts) and the calculator route
 * (energy-routes.ts) feed them.
 *
 * Cumulative meters (Smart Data Models ThreePhaseAcMeasurement `totalActiveEnergyImport`, kWh
 * since metering started). Rules where the standards are silent, chosen here:
 * - A step between two consecutive readings consumed `later − earlier` kWh, counted in the period
 *   of the LATER reading (the register tells what was used since the last reading, not when):
 *   with readings every 15 s the hour boundary is off by at most 15 s of use. A gap (a silent
 *   meter) is therefore counted whole in the period of the reading that ends it.
 * - A decrease is a reset or a rollover: without a known rollover the meter restarted at zero, so
 *   the step consumed the new reading; with `rolloverAt` (the register's modulus, e.g. 1e6 kWh for
 *   a six-digit register) it consumed `rolloverAt − earlier + later`. Never negative.
 * - The first reading ever opens the series and consumed nothing.
 */

/** One reading of a cumulative meter: epoch ms and the register in kWh. */
export interface MeterReading {
  at: number;
  kWh: number;
}

export interface CounterOptions {
  /** The register's modulus (kWh) when it rolls over; unset: a decrease is a reset to zero. */
  rolloverAt?: number;
}

/**
 * The city's offset from UTC. Asia/Shanghai is UTC+8 all year (China has kept no daylight saving
 * time since 1991), so a fixed offset is exact: the city's hours, days and months start here.
 */
export const CITY_UTC_OFFSET_MS = 8 * 3_600_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
export const WEEK_MS = 7 * DAY_MS;

/**
 * Coal equivalent of electricity, equivalent value (当量值): 0.1229 kgce/kWh, GB/T 2589-2020
 * 《综合能耗计算通则》 Appendix A (from 3,600 kJ/kWh over 29,307 kJ/kgce). tce = kWh × 0.1229 / 1000.
 */
export const KGCE_PER_KWH = 0.1229;

/** kWh of electricity in tonnes of coal equivalent (equivalent value, GB/T 2589-2020). */
export function kWhToTce(kWh: number): number {
  return (kWh * KGCE_PER_KWH) / 1000;
}

/** What one step between two readings consumed (see the file header for resets and rollovers). */
export function stepConsumption(earlier: number, later: number, opts: CounterOptions = {}): number {
  if (later >= earlier) return later - earlier;
  if (opts.rolloverAt !== undefined && opts.rolloverAt > earlier) return opts.rolloverAt - earlier + later;
  return Math.max(0, later);
}

/**
 * Consumption per period [bounds[k], bounds[k+1]) from readings in any order; `before`: the last
 * reading before bounds[0], if known (else the first reading in the window opens the series).
 * Readings outside the bounds only serve as the series' previous value.
 */
export function consumptionByPeriod(
  readings: readonly MeterReading[],
  bounds: readonly number[],
  opts: CounterOptions & { before?: number } = {},
): number[] {
  const out = new Array<number>(Math.max(0, bounds.length - 1)).fill(0);
  const sorted = [...readings].filter((r) => Number.isFinite(r.kWh)).sort((a, b) => a.at - b.at);
  let prev = opts.before;
  for (const r of sorted) {
    const k = periodIndex(bounds, r.at);
    if (prev !== undefined && k >= 0) out[k] = (out[k] ?? 0) + stepConsumption(prev, r.kWh, opts);
    prev = r.kWh;
  }
  return out;
}

/** The consumption between `from` (inclusive) and `to` (exclusive). */
export function consumptionBetween(
  readings: readonly MeterReading[],
  from: number,
  to: number,
  opts: CounterOptions & { before?: number } = {},
): number {
  return consumptionByPeriod(readings, [from, to], opts)[0] ?? 0;
}

function periodIndex(bounds: readonly number[], at: number): number {
  for (let k = 0; k + 1 < bounds.length; k++)
    if (at >= (bounds[k] as number) && at < (bounds[k + 1] as number)) return k;
  return -1;
}

/**
 * One hour's consumption from its rollup (the min and max of the readings in it) and the last
 * reading before it. Exact when nothing in the hour is below `before` (no reset): the register
 * only rises, so its max is the hour's last reading. `undefined` when the hour holds a reset: the
 * caller reads that hour's readings instead.
 */
export function bucketConsumption(
  bucket: { min: number; max: number },
  before: number | undefined,
): number | undefined {
  if (before === undefined) return bucket.max - bucket.min;
  if (bucket.min < before) return undefined;
  return bucket.max - before;
}

/** Start of the city's local hour, day and month holding `at` (epoch ms, UTC+8). */
export function localPeriods(at: number, offsetMs = CITY_UTC_OFFSET_MS) {
  const hour = Math.floor(at / HOUR_MS) * HOUR_MS;
  const local = new Date(at + offsetMs);
  const day = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate()) - offsetMs;
  const month = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), 1) - offsetMs;
  const nextMonth = Date.UTC(local.getUTCFullYear(), local.getUTCMonth() + 1, 1) - offsetMs;
  const year = Date.UTC(local.getUTCFullYear(), 0, 1) - offsetMs;
  const nextYear = Date.UTC(local.getUTCFullYear() + 1, 0, 1) - offsetMs;
  return { hour, day, month, nextMonth, year, nextYear };
}

/** The hour of the week, 0 (Monday 00:00 local) to 167. */
export function hourOfWeek(at: number, offsetMs = CITY_UTC_OFFSET_MS): number {
  const local = new Date(at + offsetMs);
  return ((local.getUTCDay() + 6) % 7) * 24 + local.getUTCHours();
}

/** How a period's quota is being used. */
export interface QuotaUse {
  /** kWh allowed in the period. */
  quota: number;
  /** Share of the quota consumed (0.5 = half). */
  share: number;
  /** Share of the period elapsed: what an even pace would have consumed by now. */
  expected: number;
  /** share / expected (1: on pace; above 1: ahead of the quota). */
  pace: number | null;
  /** over: quota exceeded; ahead: above the pro-rata expectation; within: at or below it. */
  status: 'within' | 'ahead' | 'over';
}

/**
 * Quota use of a period [start, end) at `at`: the share consumed against the pro-rata
 * expectation (elapsed / length: an even pace through the period).
 */
export function quotaUse(consumed: number, quota: number, start: number, end: number, at: number): QuotaUse {
  const expected = Math.min(1, Math.max(0, (at - start) / (end - start)));
  const share = consumed / quota;
  const status = share > 1 ? 'over' : share > expected ? 'ahead' : 'within';
  return { quota, share, expected, pace: expected > 0 ? share / expected : null, status };
}

/**
 * The month's quota: the unit's monthlyQuota, or else its annualQuota pro rata of the month's
 * days in the year (31/365 for a January); undefined without either.
 */
export function monthQuota(
  q: { monthlyQuota?: number; annualQuota?: number },
  monthStart: number,
  nextMonth: number,
  yearStart: number,
  nextYear: number,
): number | undefined {
  if (q.monthlyQuota !== undefined) return q.monthlyQuota;
  if (q.annualQuota === undefined) return undefined;
  return (q.annualQuota * (nextMonth - monthStart)) / (nextYear - yearStart);
}

/** Consumption per unit of floor area (kWh/m²) or of output (kWh per output unit); null without a positive divisor. */
export function intensity(kWh: number, per: number | undefined): number | null {
  return per !== undefined && per > 0 ? kWh / per : null;
}

/** The anomaly rule's settings. */
export interface AnomalyOptions {
  /** Weeks of the same hour-of-week looked back (default 8). */
  weeks: number;
  /** Fewer past values than this: no verdict (default 4). */
  minHistory: number;
  /** Half-width of the band in scaled MADs (default 3). */
  k: number;
  /** Floor of the band's half-width, as a share of the median (default 0.1), so a flat history does not flag noise. */
  minRelWidth: number;
  /** Floor of the band's half-width in kWh (default 1). */
  minWidthKWh: number;
}

export const DEFAULT_ANOMALY: AnomalyOptions = {
  weeks: 8,
  minHistory: 4,
  k: 3,
  minRelWidth: 0.1,
  minWidthKWh: 1,
};

/** Scales a MAD to a standard deviation for normal data (1 / Φ⁻¹(3/4)). */
export const MAD_SCALE = 1.4826;

export interface AnomalyVerdict {
  value: number;
  /** How many past values the band rests on. */
  history: number;
  median: number | null;
  mad: number | null;
  low: number | null;
  high: number | null;
  /** null: too little history to judge. */
  anomalous: boolean | null;
  direction?: 'high' | 'low';
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/**
 * Is an hour's consumption outside its usual band? The band is the median of the same hour of the
 * week over the past weeks ± k × 1.4826 × MAD (a robust z-score: one odd week does not widen it),
 * with a floor on the half-width; outside it, strictly, is anomalous. Below `minHistory` values
 * there is no verdict (null).
 */
export function hourAnomaly(
  value: number,
  past: readonly number[],
  opts: AnomalyOptions = DEFAULT_ANOMALY,
): AnomalyVerdict {
  const history = past.length;
  if (history < opts.minHistory)
    return { value, history, median: null, mad: null, low: null, high: null, anomalous: null };
  const med = median(past);
  const mad = median(past.map((x) => Math.abs(x - med)));
  const half = Math.max(opts.k * MAD_SCALE * mad, opts.minRelWidth * Math.abs(med), opts.minWidthKWh);
  const low = med - half;
  const high = med + half;
  const anomalous = value > high || value < low;
  return {
    value,
    history,
    median: med,
    mad,
    low,
    high,
    anomalous,
    ...(anomalous ? { direction: value > high ? ('high' as const) : ('low' as const) } : {}),
  };
}
