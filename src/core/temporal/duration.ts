/**
 * ISO 8601 durations as NGSI-LD uses them for aggrPeriodDuration (NGSI-LD §4.5.19, §6.3.18):
 * `P1D`, `PT1H`, `P1Y2M10DT2H30M`, `P2W`. Calendar parts (years, months) have no fixed length and
 * are added in UTC calendar terms; days, hours, minutes and seconds are fixed.
 */

export interface Duration {
  years: number;
  months: number;
  weeks: number;
  days: number;
  hours: number;
  minutes: number;
  seconds: number;
}

const DURATION_RE =
  /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d{1,3})?)S)?)?$/;

export class DurationSyntaxError extends Error {
  override name = 'DurationSyntaxError';
}

/** Parses an ISO 8601 duration; throws DurationSyntaxError for anything else or a zero duration. */
export function parseDuration(s: string): Duration {
  const m = DURATION_RE.exec(s);
  // "P" and "PT" alone match the pattern with no part: not a duration.
  if (!m || s === 'P' || s.endsWith('T'))
    throw new DurationSyntaxError(`${JSON.stringify(s)} is not an ISO 8601 duration (e.g. PT1H, P1D)`);
  const n = (i: number) => (m[i] === undefined ? 0 : Number(m[i]));
  const d: Duration = {
    years: n(1),
    months: n(2),
    weeks: n(3),
    days: n(4),
    hours: n(5),
    minutes: n(6),
    seconds: n(7),
  };
  if (fixedMs(d) === 0 && d.years === 0 && d.months === 0)
    throw new DurationSyntaxError(`The duration ${JSON.stringify(s)} is zero`);
  return d;
}

/** The fixed part in milliseconds (weeks, days, hours, minutes, seconds). */
export function fixedMs(d: Duration): number {
  return ((((d.weeks * 7 + d.days) * 24 + d.hours) * 60 + d.minutes) * 60 + d.seconds) * 1000;
}

/** True if the duration has a fixed length (no years or months). */
export function isFixed(d: Duration): boolean {
  return d.years === 0 && d.months === 0;
}

/** Adds a duration to an instant: calendar months first (UTC), then the fixed part. */
export function addDuration(t: number, d: Duration): number {
  let out = t;
  if (d.years !== 0 || d.months !== 0) {
    const date = new Date(t);
    const day = date.getUTCDate();
    date.setUTCDate(1);
    date.setUTCMonth(date.getUTCMonth() + d.years * 12 + d.months);
    // The 31st plus one month is the last day of the next month, not a day of the month after.
    const last = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 0)).getUTCDate();
    date.setUTCDate(Math.min(day, last));
    out = date.getTime();
  }
  return out + fixedMs(d);
}

/**
 * The period boundaries from `start` until past `end` (at least one period): b0 = start,
 * b(i+1) = b(i) + d. Throws RangeError past `max` periods.
 */
export function periodBounds(start: number, end: number, d: Duration, max: number): number[] {
  const out = [start];
  let t = start;
  for (;;) {
    // Adding from the start (not step by step) keeps month ends from drifting (Jan 31 → Feb 28 → Mar 28).
    t = isFixed(d) ? start + fixedMs(d) * out.length : addNth(start, d, out.length);
    out.push(t);
    if (t > end) break;
    if (out.length > max) throw new RangeError(`more than ${max} aggregation periods`);
  }
  return out;
}

function addNth(start: number, d: Duration, n: number): number {
  return addDuration(start, {
    years: d.years * n,
    months: d.months * n,
    weeks: d.weeks * n,
    days: d.days * n,
    hours: d.hours * n,
    minutes: d.minutes * n,
    seconds: d.seconds * n,
  });
}
