/**
 * Each noise sensor's GB 3096-2008 assessment, kept up to date from the change feed
 * (`environment.noise`): when a `NoiseLevelObserved` entity's `LAeq` (or `LAmax`, or its zone)
 * changes, the readings of the current day or night period (city time, noise-level.ts) are read
 * back from the history and the entity gets, observed at its newest LAeq reading and kept in
 * history (names in the NGSI-LD default vocabulary, as the SDM context has none for them):
 *
 * - `LAeqHourly`: the equivalent level of the clock hour of the newest reading;
 * - `LAeqDay` or `LAeqNight`: the equivalent level of the current period so far (the other keeps
 *   the last period's final value);
 * - `noiseLimit`: the zone's limit for the period; `noiseExceedance`: dB(A) of the period's level
 *   over it (0 within it);
 * - `noiseAssessment`: a JsonProperty with the zone (and whether it is the entity's or the
 *   default), the period and its bounds, the hour, both levels and exceedances, the night's
 *   highest LAmax against limit + 15, and the period's hours (LAeq, readings, highest LAmax).
 *
 * The zone is the entity's `noiseZone` ("0", "1", "2", "3", "4a", "4b"); class 2 when absent or
 * not one of those. Each reading counts equally (a sensor reports at a fixed interval); a gap is
 * not filled. Hours before the last one assessed are taken from the previous `noiseAssessment` of
 * the same period, so each change reads about an hour of history, not the whole period; a reading
 * that arrives late for an hour already passed is therefore not counted. The consumer's own
 * writes touch none of the attributes it reads; a result already written is not written again.
 */
import { forEachEntityTouched, type ChangeConsumer, type FeedChange } from '../core/change-feed.js';
import type { ActiveContext } from '../core/context/active-context.js';
import { DEFAULT_VOCAB } from '../core/context/core-context.js';
import { canonicalJson } from '../core/access/audit-chain.js';
import type { StoredAttribute, StoredEntity } from '../core/entity-model.js';
import type { HistoryStore } from '../core/history-store.js';
import {
  DEFAULT_NOISE_ZONE,
  NOISE_ZONES,
  assessLevel,
  assessNightLmax,
  periodOf,
  type NoiseZone,
} from './noise-level.js';

const ENV = 'https://smartdatamodels.org/dataModel.Environment/';
export const NOISE_LEVEL_OBSERVED = `${ENV}NoiseLevelObserved`;
export const LAEQ = `${ENV}LAeq`;
export const LAMAX = `${ENV}LAmax`;
export const NOISE_ZONE_ATTRIBUTE = `${DEFAULT_VOCAB}noiseZone`;
export const NOISE_ATTRIBUTES = {
  hourly: `${DEFAULT_VOCAB}LAeqHourly`,
  day: `${DEFAULT_VOCAB}LAeqDay`,
  night: `${DEFAULT_VOCAB}LAeqNight`,
  limit: `${DEFAULT_VOCAB}noiseLimit`,
  exceedance: `${DEFAULT_VOCAB}noiseExceedance`,
  details: `${DEFAULT_VOCAB}noiseAssessment`,
} as const;

/** UN/CEFACT 2N: decibel. */
const DECIBEL = '2N';
const HOUR = 3_600_000;
const round2 = (x: number) => Math.round(x * 100) / 100;

export interface NoiseDeps {
  history: Pick<HistoryStore, 'instances'>;
  getEntity(tenant: string, id: string): Promise<StoredEntity | undefined>;
  merge(tenant: string, id: string, body: Record<string, unknown>, ctx: ActiveContext): Promise<void>;
  coreContext(): Promise<ActiveContext>;
}

/** One clock hour of readings: its equivalent level (0.01 dB), how many, the highest LAmax. */
interface HourSum {
  LAeq: number;
  readings: number;
  LAmax?: number;
}

const defaultInstance = (list: StoredAttribute[] | undefined) => list?.find((i) => i.datasetId === undefined);

function zoneOf(e: StoredEntity): { zone: NoiseZone; source: 'entity' | 'default' } {
  const v = defaultInstance(e.attrs[NOISE_ZONE_ATTRIBUTE])?.value;
  const z = typeof v === 'number' ? String(v) : v;
  return NOISE_ZONES.includes(z as NoiseZone)
    ? { zone: z as NoiseZone, source: 'entity' }
    : { zone: DEFAULT_NOISE_ZONE, source: 'default' };
}

const isLevel = (v: unknown): v is number =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 200;

/** The hours of [from, to) from the history: energy sums of LAeq and the highest LAmax per hour. */
async function hoursFromHistory(
  deps: NoiseDeps,
  tenant: string,
  id: string,
  from: number,
  to: number,
): Promise<Map<number, HourSum>> {
  const rows = await deps.history.instances(
    tenant,
    [id],
    { attrs: [LAEQ, LAMAX], timeproperty: 'observedAt', from, to },
    { limit: 50_000 },
  );
  const acc = new Map<number, { energy: number; n: number; lmax?: number }>();
  for (const r of rows) {
    const v = r.instance.value;
    const t = r.observedAt ? Date.parse(r.observedAt) : NaN;
    if (r.deletedAt || r.datasetId !== undefined || !isLevel(v) || !Number.isFinite(t)) continue;
    const hour = Math.floor(t / HOUR) * HOUR;
    const a = acc.get(hour) ?? { energy: 0, n: 0 };
    if (r.attr === LAEQ) {
      a.energy += 10 ** (v / 10);
      a.n++;
    } else a.lmax = Math.max(a.lmax ?? 0, v);
    acc.set(hour, a);
  }
  const out = new Map<number, HourSum>();
  for (const [hour, a] of acc)
    if (a.n > 0)
      out.set(hour, {
        LAeq: round2(10 * Math.log10(a.energy / a.n)),
        readings: a.n,
        ...(a.lmax === undefined ? {} : { LAmax: a.lmax }),
      });
  return out;
}

/** The hours of the held assessment that are still good: same period, before the hour it last read. */
function heldHours(held: unknown, periodStart: number, readFrom: number): Map<number, HourSum> {
  const out = new Map<number, HourSum>();
  if (typeof held !== 'object' || held === null) return out;
  const h = held as { periodStart?: unknown; hours?: Record<string, HourSum> };
  if (h.periodStart !== new Date(periodStart).toISOString() || typeof h.hours !== 'object') return out;
  for (const [iso, sum] of Object.entries(h.hours ?? {})) {
    const t = Date.parse(iso);
    if (t < readFrom) out.set(t, sum);
  }
  return out;
}

/** The equivalent level of several hours, each weighted by its readings. */
function levelOfHours(hours: HourSum[]): { level: number; readings: number } {
  let energy = 0;
  let n = 0;
  for (const h of hours) {
    energy += h.readings * 10 ** (h.LAeq / 10);
    n += h.readings;
  }
  return { level: 10 * Math.log10(energy / n), readings: n };
}

/** The change-feed consumer `environment.noise`. */
export function noiseConsumer(deps: NoiseDeps): ChangeConsumer {
  async function update(tenant: string, id: string): Promise<void> {
    const sensor = await deps.getEntity(tenant, id);
    if (!sensor) return;
    const latest = defaultInstance(sensor.attrs[LAEQ]);
    const newest = latest?.observedAt ? Date.parse(latest.observedAt) : NaN;
    if (!Number.isFinite(newest)) return;
    const held = defaultInstance(sensor.attrs[NOISE_ATTRIBUTES.details]);
    const heldAt = held?.observedAt ? Date.parse(held.observedAt) : NaN;
    // A reading older than the one assessed last: its hour is not opened again.
    if (newest < heldAt) return;
    const { zone, source } = zoneOf(sensor);
    const period = periodOf(newest);
    const hourStart = Math.floor(newest / HOUR) * HOUR;
    const heldHour = (held?.json as { hour?: unknown } | undefined)?.hour;
    const lastRead = typeof heldHour === 'string' ? Date.parse(heldHour) : NaN;
    const readFrom = Number.isFinite(lastRead) && lastRead >= period.start ? lastRead : period.start;
    const hours = heldHours(held?.json, period.start, readFrom);
    for (const [h, sum] of await hoursFromHistory(deps, tenant, id, readFrom, newest + 1)) hours.set(h, sum);
    const current = hours.get(hourStart);
    if (!current) return; // the newest reading is not in the history (yet)

    const sorted = [...hours.entries()].sort(([a], [b]) => a - b);
    const whole = levelOfHours(sorted.map(([, s]) => s));
    const periodResult = assessLevel(whole.level, zone, period.period);
    const hourResult = assessLevel(current.LAeq, zone, period.period);
    const lmaxes = sorted.flatMap(([, s]) => (s.LAmax === undefined ? [] : [s.LAmax]));
    const nightLmax =
      period.period === 'night' && lmaxes.length > 0
        ? { LAmax: assessNightLmax(Math.max(...lmaxes), zone) }
        : {};
    const details = {
      standard: 'GB 3096-2008',
      zone,
      zoneSource: source,
      period: period.period,
      periodStart: new Date(period.start).toISOString(),
      periodEnd: new Date(period.end).toISOString(),
      hour: new Date(hourStart).toISOString(),
      LAeqHourly: hourResult.LAeq,
      hourlyExceedance: hourResult.exceedance,
      LAeqPeriod: periodResult.LAeq,
      limit: periodResult.limit,
      exceedance: periodResult.exceedance,
      exceeds: periodResult.exceeds,
      readings: whole.readings,
      ...nightLmax,
      hours: Object.fromEntries(sorted.map(([h, s]) => [new Date(h).toISOString(), s])),
    };
    const observedAt = new Date(newest).toISOString();
    if (held?.observedAt === observedAt && canonicalJson(held.json) === canonicalJson(details)) return;
    const db = (value: number) => ({ type: 'Property', value, unitCode: DECIBEL, observedAt });
    await deps.merge(
      tenant,
      id,
      {
        [NOISE_ATTRIBUTES.hourly]: db(hourResult.LAeq),
        [NOISE_ATTRIBUTES[period.period]]: db(periodResult.LAeq),
        [NOISE_ATTRIBUTES.limit]: db(periodResult.limit),
        [NOISE_ATTRIBUTES.exceedance]: db(periodResult.exceedance),
        [NOISE_ATTRIBUTES.details]: { type: 'JsonProperty', json: details, observedAt },
      },
      await deps.coreContext(),
    );
  }

  const watched = new Set([LAEQ, LAMAX, NOISE_ZONE_ATTRIBUTE]);
  return {
    name: 'environment.noise',
    types: [NOISE_LEVEL_OBSERVED],
    async handle(changes: FeedChange[]) {
      // Each sensor once per batch, when a change touched its levels or its zone.
      await forEachEntityTouched(changes, (a) => watched.has(a), update);
    },
  };
}
