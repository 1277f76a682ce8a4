/**
 * The traffic performance index of each district and of the city (GB/T 33171-2016, tpi.ts):
 * the singleton job `transport.area-tpi` reads every road segment's published
 * `delayTimeProportion`, `intensity`, `averageVehicleSpeed` and `length` once a period (60 s by
 * default), weights the segments by vehicle-kilometres (vehicles = intensity × the period, the
 * same period for every segment, so intensity × length weights them) and writes one entity per
 * district and one for the city, of type `TrafficPerformanceIndex`:
 * `urn:ngsi-ld:TrafficPerformanceIndex:district-<areaServed>` and `…:city`, with
 * `trafficPerformanceIndex`, `congestionLevel`, `delayTimeProportion`, `averageVehicleSpeed`
 * (ΣVKT / ΣVKT/v: distance over time), `segmentCount` and `vehicleKilometres` (per hour), observed
 * at the newest reading they include. Kept in history, so "the TPI at 8:30 on weekdays last
 * month" is a temporal query on these entities.
 *
 * Why a job and not on each reading: the city index is a sum over all segments, and readings
 * arrive hundreds a second at 20,000 sensors; recomputing it per reading would cost a scan of
 * the segments each time. A job costs one paged read of the segments and at most
 * districts + 1 writes per period, whatever the reading rate, and GB/T 33171 publishes the index
 * per period anyway. A segment whose reading is older than `staleAfterMs` (15 min) than the
 * newest of the city is left out (a road without a working detector must not freeze the index).
 */
import type { ActiveContext } from '../core/context/active-context.js';
import type { StoredEntity } from '../core/entity-model.js';
import type { SingletonJob } from '../core/module.js';
import type { EntityQuery } from '../core/query/entity-query.js';
import type { QueryResult } from '../core/store.js';
import { ROAD_SEGMENT, TRAFFIC, TRAFFIC_PERFORMANCE_INDEX_TYPE } from './traffic-attributes.js';
import { abortableSleep, eachPage } from './traffic-jobs.js';
import { attrOf, numberOf } from './traffic-segments.js';
import { networkTpi, type NetworkLink } from './tpi.js';

export interface AreaTpiDeps {
  listTenants(): Promise<string[]>;
  getEntity(tenant: string, id: string): Promise<StoredEntity | undefined>;
  queryEntities(tenant: string, query: EntityQuery): Promise<QueryResult>;
  create(tenant: string, body: Record<string, unknown>, ctx: ActiveContext): Promise<unknown>;
  merge(tenant: string, id: string, body: Record<string, unknown>, ctx: ActiveContext): Promise<void>;
  coreContext(): Promise<ActiveContext>;
  /** Between two runs (ms; default 60 s). */
  intervalMs?: number;
  /** A segment this much older than the newest is left out (ms; default 15 min). */
  staleAfterMs?: number;
}

export const CITY_TPI_ID = 'urn:ngsi-ld:TrafficPerformanceIndex:city';
export const districtTpiId = (district: string) =>
  `urn:ngsi-ld:TrafficPerformanceIndex:district-${encodeURIComponent(district)}`;

interface SegmentLink extends NetworkLink {
  district?: string;
  at: number;
}

/** A segment's length in km: metres when its unitCode says MTR; km otherwise (Smart Data Models). */
function lengthKm(segment: StoredEntity): number {
  const a = attrOf(segment, TRAFFIC.length);
  const v = numberOf(segment, TRAFFIC.length) ?? 0;
  return a?.unitCode === 'MTR' ? v / 1000 : v;
}

function linkOf(segment: StoredEntity): SegmentLink | undefined {
  const dtpAttr = attrOf(segment, TRAFFIC.delayTimeProportion);
  const dtp = numberOf(segment, TRAFFIC.delayTimeProportion);
  const at = dtpAttr?.observedAt ? Date.parse(dtpAttr.observedAt) : NaN;
  if (dtp === undefined || !Number.isFinite(at)) return undefined;
  const district = attrOf(segment, TRAFFIC.areaServed)?.value;
  const speed = numberOf(segment, TRAFFIC.averageVehicleSpeed);
  return {
    dtp: Math.min(1, dtp),
    vehicles: numberOf(segment, TRAFFIC.intensity) ?? 0,
    length: lengthKm(segment),
    at,
    ...(speed === undefined ? {} : { speed }),
    ...(typeof district === 'string' && district !== '' ? { district } : {}),
  };
}

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;

/** An area's entity body (without id and type), or undefined without a segment. */
export function areaBody(links: SegmentLink[]): Record<string, unknown> | undefined {
  const n = networkTpi(links);
  if (!n) return undefined;
  const observedAt = new Date(Math.max(...links.map((l) => l.at))).toISOString();
  const p = (value: unknown, extra: Record<string, unknown> = {}) => ({
    type: 'Property',
    value,
    observedAt,
    ...extra,
  });
  return {
    [TRAFFIC.trafficPerformanceIndex]: p(n.tpi),
    [TRAFFIC.congestionLevel]: p(n.level),
    [TRAFFIC.delayTimeProportion]: p(round(n.dtp, 4)),
    ...(n.speed === undefined
      ? {}
      : { [TRAFFIC.averageVehicleSpeed]: p(round(n.speed, 1), { unitCode: 'KMH' }) }),
    [TRAFFIC.segmentCount]: p(links.length),
    [TRAFFIC.vehicleKilometres]: p(round(n.vehicleKilometres, 1)),
  };
}

/** Whether the entity holds these values already (same value, same observedAt). */
function holds(e: StoredEntity, body: Record<string, unknown>): boolean {
  return Object.entries(body).every(([iri, v]) => {
    const want = v as { value: unknown; observedAt?: string };
    const held = attrOf(e, iri);
    return held !== undefined && held.value === want.value && held.observedAt === want.observedAt;
  });
}

/** Computes and writes one tenant's district and city indexes; returns the entities written. */
export async function computeAreaTpi(deps: AreaTpiDeps, tenant: string): Promise<number> {
  const staleAfter = deps.staleAfterMs ?? 15 * 60_000;
  const all: SegmentLink[] = [];
  await eachPage(
    (t, q) => deps.queryEntities(t, q),
    tenant,
    ROAD_SEGMENT,
    [TRAFFIC.delayTimeProportion],
    (page) => {
      for (const s of page) {
        const l = linkOf(s);
        if (l) all.push(l);
      }
      return Promise.resolve();
    },
  );
  if (all.length === 0) return 0;
  const newest = Math.max(...all.map((l) => l.at));
  const fresh = all.filter((l) => newest - l.at <= staleAfter);
  const areas = new Map<string, { district?: string; links: SegmentLink[] }>();
  for (const l of fresh) {
    if (l.district === undefined) continue;
    const id = districtTpiId(l.district);
    const a = areas.get(id) ?? { district: l.district, links: [] };
    a.links.push(l);
    areas.set(id, a);
  }
  // The city last: a reader that sees the city's new index sees its districts' too.
  areas.set(CITY_TPI_ID, { links: fresh });
  const ctx = await deps.coreContext();
  let written = 0;
  for (const [id, area] of areas) {
    const body = areaBody(area.links);
    if (!body) continue;
    if (area.district !== undefined) body[TRAFFIC.areaServed] = { type: 'Property', value: area.district };
    const held = await deps.getEntity(tenant, id);
    if (held && holds(held, body)) continue;
    if (held) await deps.merge(tenant, id, body, ctx);
    else await deps.create(tenant, { id, type: TRAFFIC_PERFORMANCE_INDEX_TYPE, ...body }, ctx);
    written++;
  }
  return written;
}

/** The singleton job `transport.area-tpi`. */
export function areaTpiJob(deps: AreaTpiDeps): SingletonJob {
  const interval = deps.intervalMs ?? 60_000;
  return {
    name: 'transport.area-tpi',
    async run(signal) {
      while (!signal.aborted) {
        for (const tenant of await deps.listTenants()) {
          if (signal.aborted) return;
          await computeAreaTpi(deps, tenant);
        }
        await abortableSleep(interval, signal);
      }
    },
  };
}
