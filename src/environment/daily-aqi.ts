/**
 * The daily AQI of each air quality station (HJ 633 daily report: HJ 633-2012 §5.1.2,
 * HJ 633-2026 §4.2.2), kept up to date from the change feed by the consumer
 * `environment.daily-aqi`.
 *
 * What is computed: for one local day of the city, the station's hourly means of SO2, NO2, CO,
 * PM10, PM2.5 and O3 (from the history's hourly rollups, one SQL read per day computed), then the
 * 24-hour means of SO2, NO2, CO, PM10, PM2.5 and the O3 daily maximum 8-hour moving mean
 * (plus, under HJ 633-2012 only, the O3 daily maximum 1-hour value), indexed with the 24-hour
 * form of the tables (aqi.ts).
 *
 * Validity (GB 3095-2012 Table 4 "污染物浓度数据有效性的最低要求", kept by GB 3095-2026):
 * - a 24-hour mean needs at least 20 hourly values in the day ({@link MIN_HOURS_24H});
 * - an 8-hour moving mean needs at least 6 hourly values of its 8 ({@link MIN_HOURS_8H});
 * - the O3 daily maximum 8-hour value is taken over the 8-hour windows ending 08:00 to 24:00 of
 *   the day (windows within the natural day) and needs at least 14 valid windows, unless the
 *   maximum found already exceeds the grade-2 limit of 160 µg/m³ (HJ 663-2013 Table 2; the 14
 *   and the exception are from that table as remembered, not checked against its text: verify).
 * A pollutant that fails its rule is left out of the day's index and named in `leftOut` with the
 * reason; a day on which no pollutant is valid gets no daily AQI at all (nothing is written, the
 * station keeps the previous day's). An hour with at least one reading counts as an hourly value
 * (the 45 minutes of sampling per hour of GB 3095 cannot be told from readings); the hourly
 * rollups sum every numeric reading, negative ones included (station-aqi.ts drops those).
 *
 * Which day, when: days are local days of the city, {@link CITY_UTC_OFFSET_MINUTES} (Asia/Shanghai,
 * UTC+8, no daylight saving), an option. A station is computed on its first change in a new clock
 * hour H of its newest reading: the day of the hour before (H - 1 h), which then holds every
 * complete hour, so the last hour of a day is counted when the next day's first reading comes;
 * also the day of the last hour handled when that was another day (a station silent for a while).
 * Once per station and hour, not per reading: a day is read from 24 rollup buckets per pollutant.
 * The hour last handled is kept in memory; after a restart each station is computed once more.
 *
 * Published on the station, kept in history: `dailyAirQualityIndex` (the AQI),
 * `dailyAirQualityLevel` (the category, English) and `dailyAirQualityIndexDetails` (a JsonProperty:
 * standard, date, UTC offset, IAQIs, primary pollutants, level, categories, colour, the day's
 * concentrations, valid hours per pollutant, the pollutants left out and why), all observed at the
 * start of the local day (2026-12-07 in Beijing: 2026-12-06T16:00:00Z). They are written by
 * temporal provision (NGSI-LD §5.6.12, the kernel's): a day computed again (hourly, from 20:00 on)
 * replaces that day's instance in the history instead of adding one with the same observedAt, so
 * the history holds one value per day, the final one; the current state keeps the newest day.
 * Its own writes touch no pollutant, so they do not come back to it.
 */
import { forEachEntityTouched, type ChangeConsumer, type FeedChange } from '../core/change-feed.js';
import type { ActiveContext } from '../core/context/active-context.js';
import { canonicalJson } from '../core/access/audit-chain.js';
import type { StoredEntity } from '../core/entity-model.js';
import type { HistoryStore } from '../core/history-store.js';
import { computeAqi, type AqiStandard, type Pollutant } from './aqi.js';
import { standardFor, type AqiStandardChoice } from './aqi-edition.js';
import {
  AIR_QUALITY_OBSERVED,
  ENV,
  POLLUTANT_OF,
  inIndexUnits,
  newestReading,
  round3,
} from './station-aqi.js';

export const DAILY_AQI_ATTRIBUTES = {
  index: `${ENV}dailyAirQualityIndex`,
  level: `${ENV}dailyAirQualityLevel`,
  details: `${ENV}dailyAirQualityIndexDetails`,
} as const;

/** The city's local time: Asia/Shanghai, UTC+8 all year (China has no daylight saving since 1991). */
export const CITY_UTC_OFFSET_MINUTES = 480;

/** GB 3095-2012 Table 4: a 24-hour mean needs at least 20 hourly values. */
export const MIN_HOURS_24H = 20;
/** GB 3095-2012 Table 4: an 8-hour mean needs at least 6 hourly values. */
export const MIN_HOURS_8H = 6;
/** HJ 663-2013 Table 2: the O3 daily maximum 8-hour value needs 14 valid 8-hour means (08:00-24:00). */
export const MIN_O3_8H_WINDOWS = 14;
/** GB 3095 grade-2 limit of the O3 daily maximum 8-hour mean (µg/m³): above it, fewer windows still count. */
export const O3_8H_GRADE2_LIMIT = 160;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The pollutants measured hour by hour (o3_8h is derived from o3). */
export type HourlyPollutant = Exclude<Pollutant, 'o3_8h'>;
const MEANS_24H: HourlyPollutant[] = ['so2', 'no2', 'co', 'pm10', 'pm25'];

/** A pollutant's 24 hourly means of one local day, index 0 = 00:00-01:00; undefined: no value. */
export type HourlyMeans = readonly (number | undefined)[];

export interface DailyConcentrations {
  /** The day's concentrations per index pollutant (24-hour means, o3_8h the daily maximum, o3 the 1-hour maximum). */
  concentrations: Partial<Record<Pollutant, number>>;
  /** Valid hourly values per measured pollutant (for o3_8h: valid 8-hour means). */
  hours: Partial<Record<Pollutant, number>>;
  /** Pollutants of the day's index left out, and why. */
  leftOut: Partial<Record<Pollutant, string>>;
}

const valuesOf = (h: HourlyMeans | undefined): number[] =>
  (h ?? []).filter((v): v is number => v !== undefined);

/**
 * The O3 8-hour moving means of a day, for the windows ending 08:00 to 24:00 (hours s..s+7,
 * s = 0..16); undefined where fewer than {@link MIN_HOURS_8H} hourly values (GB 3095 Table 4).
 */
export function o3EightHourMeans(o3: HourlyMeans): (number | undefined)[] {
  const out: (number | undefined)[] = [];
  for (let s = 0; s + 8 <= 24; s++) {
    const v = valuesOf(o3.slice(s, s + 8));
    out.push(v.length >= MIN_HOURS_8H ? v.reduce((a, b) => a + b, 0) / v.length : undefined);
  }
  return out;
}

/**
 * The day's concentrations of the daily index from hourly means, by the validity rules above.
 * `o3Max1h`: also the O3 daily maximum 1-hour value (HJ 633-2012 §5.1.2; the standards set no
 * count of hours for it, so the 24-hour rule of 20 hours is applied).
 */
export function dailyConcentrations(
  hourly: Partial<Record<HourlyPollutant, HourlyMeans>>,
  opts: { o3Max1h: boolean },
): DailyConcentrations {
  const out: DailyConcentrations = { concentrations: {}, hours: {}, leftOut: {} };
  const need24 = (n: number) =>
    n === 0 ? 'no hourly values' : `${n} hourly values, ${MIN_HOURS_24H} needed (GB 3095 Table 4)`;
  for (const p of MEANS_24H) {
    const v = valuesOf(hourly[p]);
    out.hours[p] = v.length;
    if (v.length >= MIN_HOURS_24H) out.concentrations[p] = v.reduce((a, b) => a + b, 0) / v.length;
    else out.leftOut[p] = need24(v.length);
  }
  const o3 = hourly.o3 ?? [];
  const o3Values = valuesOf(o3);
  out.hours.o3 = o3Values.length;
  if (opts.o3Max1h) {
    if (o3Values.length >= MIN_HOURS_24H) out.concentrations.o3 = Math.max(...o3Values);
    else out.leftOut.o3 = need24(o3Values.length);
  }
  const windows = valuesOf(o3EightHourMeans(o3));
  out.hours.o3_8h = windows.length;
  const max = windows.length > 0 ? Math.max(...windows) : undefined;
  if (max !== undefined && (windows.length >= MIN_O3_8H_WINDOWS || max > O3_8H_GRADE2_LIMIT))
    out.concentrations.o3_8h = max;
  else
    out.leftOut.o3_8h =
      windows.length === 0
        ? `no 8-hour mean with ${MIN_HOURS_8H} hourly values (GB 3095 Table 4)`
        : `${windows.length} valid 8-hour means, ${MIN_O3_8H_WINDOWS} needed (HJ 663-2013)`;
  return out;
}

/** The start (epoch ms) of the local day holding `ms`, at a UTC offset in minutes. */
export function localDayStart(ms: number, offsetMinutes: number): number {
  const off = offsetMinutes * 60_000;
  return Math.floor((ms + off) / DAY) * DAY - off;
}

/** The local date (YYYY-MM-DD) of a local day's start. */
export function localDate(dayStart: number, offsetMinutes: number): string {
  return new Date(dayStart + offsetMinutes * 60_000).toISOString().slice(0, 10);
}

/** "+08:00" for 480. */
function offsetText(minutes: number): string {
  const a = Math.abs(minutes);
  const hh = String(Math.floor(a / 60)).padStart(2, '0');
  const mm = String(a % 60).padStart(2, '0');
  return `${minutes < 0 ? '-' : '+'}${hh}:${mm}`;
}

export interface DailyAqiDeps {
  history: Pick<HistoryStore, 'aggregate'>;
  /** The station as stored (the kernel's view, unfiltered). */
  getEntity(tenant: string, id: string): Promise<StoredEntity | undefined>;
  /**
   * Adds attribute instances to the station by temporal provision (NGSI-LD §5.6.12): an instance
   * with the same observedAt replaces the held one, the newest becomes the current state.
   */
  provide(tenant: string, id: string, body: Record<string, unknown>, ctx: ActiveContext): Promise<void>;
  /** The core context (the attribute names written are full IRIs). */
  coreContext(): Promise<ActiveContext>;
  /** The city's edition, or `by-date`: the one in force on the day computed. */
  standard: AqiStandardChoice;
  /** The city's UTC offset in minutes; default {@link CITY_UTC_OFFSET_MINUTES}. */
  utcOffsetMinutes?: number;
}

/** The change-feed consumer `environment.daily-aqi`. */
export function dailyAqiConsumer(deps: DailyAqiDeps): ChangeConsumer {
  const offset = deps.utcOffsetMinutes ?? CITY_UTC_OFFSET_MINUTES;
  /** Per station, the clock hour of the newest reading when it was last handled. */
  const handledHour = new Map<string, number>();

  /** The station's hourly means of one local day, in index units, per pollutant. */
  async function hourlyMeans(
    tenant: string,
    station: StoredEntity,
    dayStart: number,
  ): Promise<Partial<Record<HourlyPollutant, (number | undefined)[]>>> {
    const bounds = Array.from({ length: 25 }, (_, k) => dayStart + k * HOUR);
    const rows = await deps.history.aggregate(
      tenant,
      [station.id],
      { attrs: [...POLLUTANT_OF.keys()], timeproperty: 'observedAt', from: dayStart, to: dayStart + DAY },
      bounds,
      ['avg'],
      // The hourly rollups are UTC hours: they serve a local day only at a whole-hour offset.
      offset % 60 === 0 ? 'hour' : 'minute',
    );
    const out: Partial<Record<HourlyPollutant, (number | undefined)[]>> = {};
    for (const r of rows) {
      const p = POLLUTANT_OF.get(r.attr);
      if (!p || p === 'o3_8h' || r.datasetId !== undefined || r.numCount === 0) continue;
      if (r.period < 0 || r.period > 23) continue;
      // The unit the station reports in now (a station keeps its units; rollups have no unit).
      const unit = station.attrs[r.attr]?.find((i) => i.datasetId === undefined)?.unitCode;
      const list = (out[p] ??= Array.from({ length: 24 }, () => undefined));
      list[r.period] = inIndexUnits(p, r.sum / r.numCount, unit);
    }
    return out;
  }

  async function computeDay(tenant: string, station: StoredEntity, dayStart: number): Promise<void> {
    const standard: AqiStandard = standardFor(deps.standard, dayStart);
    const day = dailyConcentrations(await hourlyMeans(tenant, station, dayStart), {
      o3Max1h: standard === 'HJ 633-2012',
    });
    const result = computeAqi(standard, '24h', day.concentrations);
    // No valid pollutant that day: no daily AQI (the station keeps the previous day's).
    if (result.aqi === null || !result.category) return;
    const observedAt = new Date(dayStart).toISOString();
    const details = {
      standard,
      averaging: '24h',
      date: localDate(dayStart, offset),
      utcOffset: offsetText(offset),
      iaqi: result.iaqi,
      primaryPollutants: result.primaryPollutants,
      level: result.level,
      category: { zh: result.category.zh, en: result.category.en },
      color: result.category.hex,
      concentrations: Object.fromEntries(Object.entries(day.concentrations).map(([p, c]) => [p, round3(c)])),
      hours: day.hours,
      leftOut: day.leftOut,
    };
    const held = station.attrs[DAILY_AQI_ATTRIBUTES.details]?.[0];
    if (held?.observedAt === observedAt && canonicalJson(held.json) === canonicalJson(details)) return;
    await deps.provide(
      tenant,
      station.id,
      {
        [DAILY_AQI_ATTRIBUTES.index]: { type: 'Property', value: result.aqi, observedAt },
        [DAILY_AQI_ATTRIBUTES.level]: { type: 'Property', value: result.category.en, observedAt },
        [DAILY_AQI_ATTRIBUTES.details]: { type: 'JsonProperty', json: details, observedAt },
      },
      await deps.coreContext(),
    );
  }

  async function update(tenant: string, id: string): Promise<void> {
    const station = await deps.getEntity(tenant, id);
    if (!station) return;
    const newest = newestReading(station);
    if (newest === undefined) return;
    const hour = Math.floor(newest / HOUR) * HOUR;
    const key = `${tenant}\u0000${id}`;
    const last = handledHour.get(key);
    if (last === hour) return;
    const days = new Set<number>();
    if (last !== undefined && last < hour) days.add(localDayStart(last, offset));
    days.add(localDayStart(hour - HOUR, offset));
    for (const d of [...days].sort((a, b) => a - b)) await computeDay(tenant, station, d);
    handledHour.set(key, hour);
  }

  return {
    name: 'environment.daily-aqi',
    types: [AIR_QUALITY_OBSERVED],
    async handle(changes: FeedChange[]) {
      await forEachEntityTouched(changes, (a) => POLLUTANT_OF.has(a), update);
    },
  };
}
