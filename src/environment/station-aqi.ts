/**
 * The real-time AQI of each air quality station, kept up to date from the change feed: when a
 * station's pollutant readings change, the hour of its newest reading is read back from the
 * history, each pollutant's mean over that hour is indexed by HJ 633 (1-hour form: HJ 633-2012
 * §5.1.3, HJ 633-2026 §4.2.3), and the station entity gets the Smart Data Models attributes
 * `airQualityIndex` (the AQI), `airQualityLevel` (the category, English) and
 * `airQualityIndexDetails` (a JsonProperty: standard, hour, IAQIs, primary pollutants, level,
 * categories in Chinese and English, readings and mean concentration per pollutant), all observed
 * at the newest reading. The mean concentrations (µg/m³, CO mg/m³, to 0.001) are what the district
 * and city indexes average (area-aqi.ts). With `--aqi-standard by-date` the hour's date picks the
 * edition (aqi-edition.ts).
 *
 * Validity: the hourly mean is the mean of the readings observed in that clock hour, however many
 * (a station that reports every 30 s gives up to 120); a pollutant without a reading in that
 * hour is left out of the index, never taken as zero. Its own writes touch none of the pollutants,
 * so they do not come back to it.
 */
import { forEachEntityTouched, type ChangeConsumer, type FeedChange } from '../core/change-feed.js';
import type { ActiveContext } from '../core/context/active-context.js';
import { canonicalJson } from '../core/access/audit-chain.js';
import type { StoredAttribute, StoredEntity } from '../core/entity-model.js';
import type { HistoryStore } from '../core/history-store.js';
import { computeAqi, type Pollutant } from './aqi.js';
import { standardFor, type AqiStandardChoice } from './aqi-edition.js';

export const ENV = 'https://smartdatamodels.org/dataModel.Environment/';
export const AIR_QUALITY_OBSERVED = `${ENV}AirQualityObserved`;
export const AQI_ATTRIBUTES = {
  index: `${ENV}airQualityIndex`,
  level: `${ENV}airQualityLevel`,
  details: `${ENV}airQualityIndexDetails`,
} as const;

/** The Smart Data Models attributes of the pollutants the index reads. */
export const POLLUTANT_OF = new Map<string, Pollutant>([
  [`${ENV}so2`, 'so2'],
  [`${ENV}no2`, 'no2'],
  [`${ENV}co`, 'co'],
  [`${ENV}o3`, 'o3'],
  [`${ENV}pm10`, 'pm10'],
  [`${ENV}pm25`, 'pm25'],
]);

/** UN/CEFACT codes: µg/m³ (GQ) and mg/m³ (GP); the index wants µg/m³, CO mg/m³. */
export function inIndexUnits(p: Pollutant, value: number, unitCode: string | undefined): number {
  if (p === 'co') return unitCode === 'GQ' ? value / 1000 : value;
  return unitCode === 'GP' ? value * 1000 : value;
}

export interface StationAqiDeps {
  history: Pick<HistoryStore, 'instances'>;
  /** The station as stored (the kernel's view, unfiltered). */
  getEntity(tenant: string, id: string): Promise<StoredEntity | undefined>;
  /** Merges attributes into the station (through the hub's write queue). */
  merge(tenant: string, id: string, body: Record<string, unknown>, ctx: ActiveContext): Promise<void>;
  /** The core context (the attribute names written are full IRIs). */
  coreContext(): Promise<ActiveContext>;
  /** The city's edition, or `by-date`: the one in force at the hour indexed. */
  standard: AqiStandardChoice;
}

const HOUR = 3_600_000;

/** To 0.001 (µg/m³; CO mg/m³): the precision the index reads concentrations at (aqi.ts). */
export const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** The newest observedAt among the station's pollutant readings. */
export function newestReading(e: StoredEntity): number | undefined {
  let newest: number | undefined;
  for (const [attr, list] of Object.entries(e.attrs)) {
    if (!POLLUTANT_OF.has(attr)) continue;
    for (const inst of list) {
      const t = inst.observedAt ? Date.parse(inst.observedAt) : NaN;
      if (Number.isFinite(t) && (newest === undefined || t > newest)) newest = t;
    }
  }
  return newest;
}

/** The change-feed consumer `environment.station-aqi`. */
export function stationAqiConsumer(deps: StationAqiDeps): ChangeConsumer {
  async function update(tenant: string, id: string): Promise<void> {
    const station = await deps.getEntity(tenant, id);
    if (!station) return;
    const newest = newestReading(station);
    if (newest === undefined) return;
    const from = Math.floor(newest / HOUR) * HOUR;
    const rows = await deps.history.instances(
      tenant,
      [id],
      { attrs: [...POLLUTANT_OF.keys()], timeproperty: 'observedAt', from, to: newest + 1 },
      { limit: 10_000 },
    );
    const sums = new Map<Pollutant, { sum: number; n: number }>();
    for (const r of rows) {
      const p = POLLUTANT_OF.get(r.attr);
      const inst: StoredAttribute = r.instance;
      if (
        !p ||
        r.deletedAt ||
        r.datasetId !== undefined ||
        typeof inst.value !== 'number' ||
        !Number.isFinite(inst.value)
      )
        continue;
      if (inst.value < 0) continue;
      const s = sums.get(p) ?? { sum: 0, n: 0 };
      s.sum += inIndexUnits(p, inst.value, inst.unitCode);
      s.n++;
      sums.set(p, s);
    }
    const means: Partial<Record<Pollutant, number>> = {};
    for (const [p, s] of sums) means[p] = s.sum / s.n;
    const standard = standardFor(deps.standard, from);
    const result = computeAqi(standard, '1h', means);
    if (result.aqi === null || !result.category) return;
    const observedAt = new Date(newest).toISOString();
    const details = {
      standard,
      averaging: '1h',
      hour: new Date(from).toISOString(),
      iaqi: result.iaqi,
      primaryPollutants: result.primaryPollutants,
      level: result.level,
      category: { zh: result.category.zh, en: result.category.en },
      color: result.category.hex,
      readings: Object.fromEntries([...sums].map(([p, s]) => [p, s.n])),
      concentrations: Object.fromEntries(Object.entries(means).map(([p, c]) => [p, round3(c)])),
    };
    // Already written (a change handled again, or one whose readings the last write had seen);
    // compared with keys sorted, as jsonb keeps its own key order.
    const held = station.attrs[AQI_ATTRIBUTES.details]?.[0];
    if (held?.observedAt === observedAt && canonicalJson(held.json) === canonicalJson(details)) return;
    await deps.merge(
      tenant,
      id,
      {
        [AQI_ATTRIBUTES.index]: { type: 'Property', value: result.aqi, observedAt },
        [AQI_ATTRIBUTES.level]: { type: 'Property', value: result.category.en, observedAt },
        [AQI_ATTRIBUTES.details]: {
          type: 'JsonProperty',
          json: details,
          observedAt,
        },
      },
      await deps.coreContext(),
    );
  }

  return {
    name: 'environment.station-aqi',
    types: [AIR_QUALITY_OBSERVED],
    async handle(changes: FeedChange[]) {
      // Each station once per batch, when a change touched one of its pollutants.
      await forEachEntityTouched(changes, (a) => POLLUTANT_OF.has(a), update);
    },
  };
}
