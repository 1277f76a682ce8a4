/**
 * The AQI of each district and of the whole city, as NGSI-LD entities of their own:
 * `urn:ngsi-ld:AirQualityObserved:district-<district>` (the District id without
 * `urn:ngsi-ld:District:`) and `urn:ngsi-ld:AirQualityObserved:city`, of type AirQualityObserved,
 * kept up to date by the singleton job `environment.area-aqi`.
 *
 * The rule (HJ 633-2012 §3 and HJ 633-2026 §3, the AQI of a city or area: "城市或区域的污染物
 * 浓度为其所有点位浓度的算术平均值", then indexed like a station's): the area's concentration of a
 * pollutant is the arithmetic mean over its stations that have it, in the same averaging, then
 * indexed with the tables of aqi.ts.
 * - Hourly: from each station's `airQualityIndexDetails.concentrations` (its hourly means, written
 *   by station-aqi.ts). The area's hour is the newest hour among its stations; the stations on an
 *   older hour are not counted (they have not reported this hour yet). Published as
 *   `airQualityIndex`, `airQualityLevel`, `airQualityIndexDetails` and `stationCount`, observed
 *   at the newest reading of the stations counted.
 * - Daily: from each station's `dailyAirQualityIndexDetails.concentrations` (only the pollutants
 *   valid that day, daily-aqi.ts), over the stations on the newest day: `dailyAirQualityIndex`,
 *   `dailyAirQualityLevel`, `dailyAirQualityIndexDetails`, observed at the start of the local day.
 * Also `name`, `areaServed` (the district's name), `refDistrict` and `location` (the district's
 * polygon; for the city, the districts' polygons as a MultiPolygon, when there are districts).
 *
 * A station's district: its `refDistrict` relationship when it names a District; else its
 * `areaServed` when it equals a District's id, name or alternateName; else the District whose
 * polygon holds the station's location (point in polygon; a point on a shared border goes to
 * the first). Attributes are matched by their local name (the text after the last / or #), as
 * stations are provisioned under different contexts (Smart Data Models, the core context).
 *
 * Why a job every minute rather than a change-feed consumer: every station's hourly index changes
 * with each of its readings, so recomputing its district and the city on each change would cost a
 * read of all the city's stations per change batch. The job's cost does not grow with the readings:
 * per tenant and run, one read of its Districts and one of its stations' current state (600
 * stations at 20,000 sensors in the demo city), and a write only for the areas whose result changed
 * (at most the districts and the city). The change feed keeps the stations' indexes up to date; the
 * areas follow within one period ({@link DEFAULT_AREA_INTERVAL_MS}). The job reads only
 * stations, never the area entities (excluded by id), so its writes cannot feed back into it, and
 * the area entities carry no pollutant attribute, so the station consumers ignore them.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ActiveContext } from '../core/context/active-context.js';
import { canonicalJson } from '../core/access/audit-chain.js';
import { HubError } from '../core/errors.js';
import type { StoredAttribute, StoredEntity } from '../core/entity-model.js';
import { distanceToGeometry } from '../core/geo/geometry.js';
import type { GeoJsonGeometry, Position } from '../core/geo/geo-query.js';
import type { SingletonJob } from '../core/module.js';
import type { EntityQuery } from '../core/query/entity-query.js';
import type { QueryResult } from '../core/store.js';
import { POLLUTANTS, computeAqi, type Averaging, type Pollutant } from './aqi.js';
import { standardFor, type AqiStandardChoice } from './aqi-edition.js';
import { DAILY_AQI_ATTRIBUTES } from './daily-aqi.js';
import { AIR_QUALITY_OBSERVED, AQI_ATTRIBUTES, round3 } from './station-aqi.js';

const DEFAULT_CONTEXT = 'https://uri.etsi.org/ngsi-ld/default-context/';
const SDM = 'https://smartdatamodels.org/';
const LOCATION = 'https://uri.etsi.org/ngsi-ld/location';
/** The District entities of the city (created under the core context, as the demo does). */
export const DISTRICT_TYPE = `${DEFAULT_CONTEXT}District`;
const DISTRICT_ID_PREFIX = 'urn:ngsi-ld:District:';
export const DISTRICT_AREA_PREFIX = 'urn:ngsi-ld:AirQualityObserved:district-';
export const CITY_AREA_ID = 'urn:ngsi-ld:AirQualityObserved:city';
/** How often the job recomputes the areas. */
export const DEFAULT_AREA_INTERVAL_MS = 60_000;

export const AREA_ATTRIBUTES = {
  stationCount: `${DEFAULT_CONTEXT}stationCount`,
  refDistrict: `${DEFAULT_CONTEXT}refDistrict`,
  name: `${SDM}name`,
  areaServed: `${SDM}areaServed`,
} as const;

/** The area entity of a District. */
export function districtAreaId(districtId: string): string {
  const key = districtId.startsWith(DISTRICT_ID_PREFIX)
    ? districtId.slice(DISTRICT_ID_PREFIX.length)
    : districtId.replace(/[^A-Za-z0-9._-]/g, '-');
  return `${DISTRICT_AREA_PREFIX}${key}`;
}

const isAreaId = (id: string) => id === CITY_AREA_ID || id.startsWith(DISTRICT_AREA_PREFIX);

// ---- Pure part ----

/** What the job reads of a station. */
export interface StationSnapshot {
  id: string;
  /** Its District's id, if any. */
  district?: string;
  hourly?: { hour: string; observedAt: string; concentrations: Partial<Record<Pollutant, number>> };
  daily?: { date: string; observedAt: string; concentrations: Partial<Record<Pollutant, number>> };
}

/** One area's index in one averaging. */
export interface AreaIndex {
  aqi: number;
  level: string;
  observedAt: string;
  stations: number;
  details: Record<string, unknown>;
}

/** The arithmetic mean per pollutant over the stations that have it, and how many had it. */
export function meanConcentrations(list: Partial<Record<Pollutant, number>>[]): {
  means: Partial<Record<Pollutant, number>>;
  stations: Partial<Record<Pollutant, number>>;
} {
  const means: Partial<Record<Pollutant, number>> = {};
  const stations: Partial<Record<Pollutant, number>> = {};
  for (const p of POLLUTANTS) {
    const v = list.map((c) => c[p]).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
    if (v.length === 0) continue;
    means[p] = v.reduce((a, b) => a + b, 0) / v.length;
    stations[p] = v.length;
  }
  return { means, stations };
}

/**
 * The area's index in one averaging from its stations' snapshots of it: the newest period (hour
 * or date) among them, the stations on that period, their mean concentrations indexed.
 */
export function areaIndex(
  choice: AqiStandardChoice,
  averaging: Averaging,
  snapshots: {
    period: string;
    periodStart: number;
    observedAt: string;
    concentrations: Partial<Record<Pollutant, number>>;
  }[],
): AreaIndex | undefined {
  if (snapshots.length === 0) return undefined;
  const newest = snapshots.reduce((a, b) => (b.periodStart > a.periodStart ? b : a));
  const on = snapshots.filter((s) => s.period === newest.period);
  const { means, stations } = meanConcentrations(on.map((s) => s.concentrations));
  const standard = standardFor(choice, newest.periodStart);
  const result = computeAqi(standard, averaging, means);
  if (result.aqi === null || !result.category) return undefined;
  const observedAt = on.map((s) => s.observedAt).reduce((a, b) => (Date.parse(b) > Date.parse(a) ? b : a));
  return {
    aqi: result.aqi,
    level: result.category.en,
    observedAt,
    stations: on.length,
    details: {
      standard,
      averaging,
      [averaging === '1h' ? 'hour' : 'date']: newest.period,
      iaqi: result.iaqi,
      primaryPollutants: result.primaryPollutants,
      level: result.level,
      category: { zh: result.category.zh, en: result.category.en },
      color: result.category.hex,
      concentrations: Object.fromEntries(Object.entries(means).map(([p, c]) => [p, round3(c)])),
      stations: on.length,
      stationsPerPollutant: stations,
    },
  };
}

/** The hourly and daily indexes of a set of stations. */
export function indexesOf(
  choice: AqiStandardChoice,
  stations: StationSnapshot[],
): { hourly?: AreaIndex; daily?: AreaIndex } {
  const hourly = areaIndex(
    choice,
    '1h',
    stations.flatMap((s) =>
      s.hourly ? [{ period: s.hourly.hour, periodStart: Date.parse(s.hourly.hour), ...s.hourly }] : [],
    ),
  );
  const daily = areaIndex(
    choice,
    '24h',
    stations.flatMap((s) =>
      s.daily ? [{ period: s.daily.date, periodStart: Date.parse(s.daily.observedAt), ...s.daily }] : [],
    ),
  );
  return { ...(hourly ? { hourly } : {}), ...(daily ? { daily } : {}) };
}

// ---- Reading stations and districts ----

const localName = (iri: string) => iri.slice(Math.max(iri.lastIndexOf('/'), iri.lastIndexOf('#')) + 1);

/** The default instance of the attribute whose local name is `name`. */
function attrNamed(e: StoredEntity, name: string): StoredAttribute | undefined {
  for (const [iri, list] of Object.entries(e.attrs))
    if (localName(iri) === name) {
      const inst = list.find((i) => i.datasetId === undefined) ?? list[0];
      if (inst) return inst;
    }
  return undefined;
}

export interface District {
  id: string;
  name?: string;
  alternateName?: string;
  polygon?: GeoJsonGeometry;
}

function textOf(a: StoredAttribute | undefined): string | undefined {
  if (!a) return undefined;
  if (typeof a.value === 'string') return a.value;
  const lm = a.languageMap;
  if (lm) for (const v of Object.values(lm)) if (typeof v === 'string') return v;
  return undefined;
}

export function districtOf(e: StoredEntity): District {
  const loc = e.attrs[LOCATION]?.[0]?.value as GeoJsonGeometry | undefined;
  const name = textOf(attrNamed(e, 'name'));
  const alternateName = textOf(attrNamed(e, 'alternateName'));
  return {
    id: e.id,
    ...(name !== undefined ? { name } : {}),
    ...(alternateName !== undefined ? { alternateName } : {}),
    ...(loc && (loc.type === 'Polygon' || loc.type === 'MultiPolygon') ? { polygon: loc } : {}),
  };
}

/** The District of a station: refDistrict, else areaServed, else point in polygon (see the header). */
export function stationDistrict(e: StoredEntity, districts: District[]): string | undefined {
  const ref = attrNamed(e, 'refDistrict')?.object;
  const refId = Array.isArray(ref) ? ref[0] : ref;
  if (refId && districts.some((d) => d.id === refId)) return refId;
  const served = textOf(attrNamed(e, 'areaServed'));
  if (served !== undefined) {
    const d = districts.find((x) => x.id === served || x.name === served || x.alternateName === served);
    if (d) return d.id;
  }
  const loc = e.attrs[LOCATION]?.[0]?.value as GeoJsonGeometry | undefined;
  if (loc?.type === 'Point') {
    const p: Position = loc.coordinates;
    return districts.find((d) => d.polygon && distanceToGeometry(p, d.polygon) === 0)?.id;
  }
  return undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function concentrationsOf(json: Record<string, unknown>): Partial<Record<Pollutant, number>> {
  const c = json.concentrations;
  const out: Partial<Record<Pollutant, number>> = {};
  if (!isObject(c)) return out;
  for (const p of POLLUTANTS) if (typeof c[p] === 'number') out[p] = c[p];
  return out;
}

/** A station's snapshot from its current state. */
export function snapshotOf(e: StoredEntity, districts: District[]): StationSnapshot {
  const out: StationSnapshot = { id: e.id };
  const d = stationDistrict(e, districts);
  if (d) out.district = d;
  const h = e.attrs[AQI_ATTRIBUTES.details]?.[0];
  if (h && isObject(h.json) && typeof h.json.hour === 'string' && h.observedAt)
    out.hourly = { hour: h.json.hour, observedAt: h.observedAt, concentrations: concentrationsOf(h.json) };
  const dd = e.attrs[DAILY_AQI_ATTRIBUTES.details]?.[0];
  if (dd && isObject(dd.json) && typeof dd.json.date === 'string' && dd.observedAt)
    out.daily = { date: dd.json.date, observedAt: dd.observedAt, concentrations: concentrationsOf(dd.json) };
  return out;
}

// ---- The job ----

export interface AreaAqiDeps {
  listTenants(): Promise<string[]>;
  /** Entities as stored, unfiltered (the kernel's view). */
  queryEntities(tenant: string, query: EntityQuery): Promise<QueryResult>;
  getEntity(tenant: string, id: string): Promise<StoredEntity | undefined>;
  create(tenant: string, body: Record<string, unknown>, ctx: ActiveContext): Promise<void>;
  merge(tenant: string, id: string, body: Record<string, unknown>, ctx: ActiveContext): Promise<void>;
  coreContext(): Promise<ActiveContext>;
  standard: AqiStandardChoice;
  /** How often the areas are recomputed (ms); default {@link DEFAULT_AREA_INTERVAL_MS}. */
  intervalMs?: number;
}

const PAGE = 1000;

async function queryAll(
  deps: AreaAqiDeps,
  tenant: string,
  q: Omit<EntityQuery, 'limit' | 'offset' | 'count'>,
) {
  const out: StoredEntity[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const r = await deps.queryEntities(tenant, {
      ...q,
      limit: PAGE,
      offset,
      count: false,
      orderBy: [{ column: 'id', desc: false }],
    });
    out.push(...r.entities);
    if (r.entities.length < PAGE) return out;
  }
}

type Attr = Record<string, unknown> & { type: string };

/** The attributes of an area entity from its indexes. */
function areaBody(index: { hourly?: AreaIndex; daily?: AreaIndex }): Record<string, Attr> {
  const out: Record<string, Attr> = {};
  const h = index.hourly;
  if (h) {
    out[AQI_ATTRIBUTES.index] = { type: 'Property', value: h.aqi, observedAt: h.observedAt };
    out[AQI_ATTRIBUTES.level] = { type: 'Property', value: h.level, observedAt: h.observedAt };
    out[AQI_ATTRIBUTES.details] = { type: 'JsonProperty', json: h.details, observedAt: h.observedAt };
    out[AREA_ATTRIBUTES.stationCount] = { type: 'Property', value: h.stations, observedAt: h.observedAt };
  }
  const d = index.daily;
  if (d) {
    out[DAILY_AQI_ATTRIBUTES.index] = { type: 'Property', value: d.aqi, observedAt: d.observedAt };
    out[DAILY_AQI_ATTRIBUTES.level] = { type: 'Property', value: d.level, observedAt: d.observedAt };
    out[DAILY_AQI_ATTRIBUTES.details] = { type: 'JsonProperty', json: d.details, observedAt: d.observedAt };
  }
  return out;
}

/** The attributes of `body` that differ from what the entity holds. */
function changed(held: StoredEntity, body: Record<string, Attr>): Record<string, Attr> {
  const out: Record<string, Attr> = {};
  for (const [iri, attr] of Object.entries(body)) {
    const h = held.attrs[iri]?.[0];
    const same =
      h !== undefined &&
      h.type === attr.type &&
      h.observedAt === attr.observedAt &&
      canonicalJson(h.value ?? null) === canonicalJson(attr.value ?? null) &&
      canonicalJson(h.json ?? null) === canonicalJson(attr.json ?? null) &&
      canonicalJson(h.object ?? null) === canonicalJson(attr.object ?? null);
    if (!same) out[iri] = attr;
  }
  return out;
}

/** Recomputes and publishes one tenant's district and city indexes; returns the ids written. */
export async function publishAreaAqi(deps: AreaAqiDeps, tenant: string): Promise<string[]> {
  const districts = (await queryAll(deps, tenant, { type: { kind: 'type', name: DISTRICT_TYPE } })).map(
    districtOf,
  );
  const stations = (
    await queryAll(deps, tenant, {
      type: { kind: 'type', name: AIR_QUALITY_OBSERVED },
      withAnyAttr: [AQI_ATTRIBUTES.details, DAILY_AQI_ATTRIBUTES.details],
    })
  )
    .filter((e) => !isAreaId(e.id))
    .map((e) => snapshotOf(e, districts));
  if (stations.length === 0) return [];
  const areas: { id: string; fixed: Record<string, Attr>; members: StationSnapshot[] }[] = [];
  for (const d of districts) {
    const members = stations.filter((s) => s.district === d.id);
    if (members.length === 0) continue;
    const label = d.name ?? d.alternateName ?? d.id;
    areas.push({
      id: districtAreaId(d.id),
      members,
      fixed: {
        [AREA_ATTRIBUTES.name]: { type: 'Property', value: `${label} air quality` },
        [AREA_ATTRIBUTES.areaServed]: { type: 'Property', value: label },
        [AREA_ATTRIBUTES.refDistrict]: { type: 'Relationship', object: d.id },
        ...(d.polygon ? { [LOCATION]: { type: 'GeoProperty', value: d.polygon } } : {}),
      },
    });
  }
  const polygons = districts.flatMap((d) =>
    d.polygon?.type === 'Polygon'
      ? [d.polygon.coordinates]
      : d.polygon?.type === 'MultiPolygon'
        ? d.polygon.coordinates
        : [],
  );
  areas.push({
    id: CITY_AREA_ID,
    members: stations,
    fixed: {
      [AREA_ATTRIBUTES.name]: { type: 'Property', value: 'City air quality' },
      ...(polygons.length > 0
        ? { [LOCATION]: { type: 'GeoProperty', value: { type: 'MultiPolygon', coordinates: polygons } } }
        : {}),
    },
  });
  const written: string[] = [];
  for (const a of areas)
    try {
      if (await publishArea(deps, tenant, a.id, indexesOf(deps.standard, a.members), a.fixed))
        written.push(a.id);
    } catch (err) {
      // The area's own trouble (a District polygon the model refuses…) skips it, as the station
      // consumers do; a database failure fails the run, which the kernel starts again.
      if (!(err instanceof HubError && err.cause === undefined)) throw err;
    }
  return written;
}

/** Creates or updates one area entity; false when it already held this result. */
async function publishArea(
  deps: AreaAqiDeps,
  tenant: string,
  id: string,
  indexes: { hourly?: AreaIndex; daily?: AreaIndex },
  fixed: Record<string, Attr>,
): Promise<boolean> {
  if (!indexes.hourly && !indexes.daily) return false;
  const body = { ...fixed, ...areaBody(indexes) };
  const held = await deps.getEntity(tenant, id);
  if (!held) {
    await deps.create(tenant, { id, type: AIR_QUALITY_OBSERVED, ...body }, await deps.coreContext());
    return true;
  }
  const diff = changed(held, body);
  if (Object.keys(diff).length === 0) return false;
  await deps.merge(tenant, id, diff, await deps.coreContext());
  return true;
}

/** The singleton job `environment.area-aqi`: every tenant's areas, then a pause of one period. */
export function areaAqiJob(deps: AreaAqiDeps): SingletonJob {
  const interval = deps.intervalMs ?? DEFAULT_AREA_INTERVAL_MS;
  return {
    name: 'environment.area-aqi',
    async run(signal) {
      while (!signal.aborted) {
        for (const tenant of new Set(['', ...(await deps.listTenants())])) {
          if (signal.aborted) return;
          await publishAreaAqi(deps, tenant);
        }
        try {
          await sleep(interval, undefined, { signal });
        } catch {
          return; // aborted
        }
      }
    },
  };
}
