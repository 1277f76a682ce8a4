/**
 * Each road segment's traffic, kept up to date from the change feed (`transport.segment-tpi`):
 * when a `TrafficFlowObserved` detector's speed or flow changes, the segment it measures
 * (`refRoadSegment`) gets from all its detectors `averageVehicleSpeed` (km/h), `intensity`
 * (vehicles/h), `freeFlowSpeed` (km/h, see below), `delayTimeProportion`,
 * `trafficPerformanceIndex` and `congestionLevel` (GB/T 33171-2016, tpi.ts), observed at the
 * newest reading, merged through the write queue (so history and subscriptions see them).
 *
 * - Detectors of one segment measure the same road: the segment's flow is their mean flow, its
 *   speed their flow-weighted mean speed (plain mean when no vehicle passed). A detector whose
 *   newest reading is more than `staleAfterMs` older than the segment's newest is left out (a
 *   silent detector must not hold the segment at an old speed).
 * - Free-flow speed, in order: a `freeFlowSpeed` on the segment without `derivedFrom` (configured
 *   by the city) wins; else one learned from history (`derivedFrom: "history"`, traffic-free-flow.ts);
 *   else the segment's `maximumAllowedSpeed`, written as its `freeFlowSpeed` with
 *   `derivedFrom: "maximumAllowedSpeed"` so that the routes read one attribute.
 * - Cost: a segment is written at most once per `minIntervalMs` of reading time (default 60 s),
 *   except when its congestion level changes (a jam shows at once); an unchanged result is not
 *   written. So a segment's attributes are at most a minute behind its detectors (the readings
 *   of a detector that then falls silent within the minute are not published), and a city of
 *   6,000 detectors reporting every 10 s (600 readings/s) writes its ~900 segments about 15
 *   times a second, not 600. A batch (up to 1,000 changes) costs a few reads whatever the
 *   number of segments it touches: the segments by id, their detectors by one q list per 100
 *   segments (a detector's segment is kept in memory); the writes go to the queue together.
 *
 * Its own writes are to RoadSegment entities, which it does not read from the feed: no loop.
 */
import type { ChangeConsumer, FeedChange } from '../core/change-feed.js';
import type { ActiveContext } from '../core/context/active-context.js';
import { HubError } from '../core/errors.js';
import type { StoredAttribute, StoredEntity } from '../core/entity-model.js';
import type { QueryResult } from '../core/store.js';
import type { EntityQuery } from '../core/query/entity-query.js';
import { ROAD_SEGMENT, TRAFFIC, TRAFFIC_FLOW_OBSERVED, type FreeFlowSource } from './traffic-attributes.js';
import { linkTpi } from './tpi.js';
import { PAGE } from './traffic-jobs.js';

export interface SegmentTpiDeps {
  /** An entity as stored (the kernel's view, unfiltered). */
  getEntity(tenant: string, id: string): Promise<StoredEntity | undefined>;
  queryEntities(tenant: string, query: EntityQuery): Promise<QueryResult>;
  /** Merges attributes into an entity (through the hub's write queue). */
  merge(tenant: string, id: string, body: Record<string, unknown>, ctx: ActiveContext): Promise<void>;
  /** The core context (the attribute names written are full IRIs). */
  coreContext(): Promise<ActiveContext>;
  /** Reading time between two writes of a segment whose level is unchanged (ms; default 60 s). */
  minIntervalMs?: number;
  /** A detector this much older than the segment's newest reading is left out (ms; default 15 min). */
  staleAfterMs?: number;
  /** The clock (how long a detector's segment is trusted from memory). */
  now?: () => number;
}

/** The default instance of an attribute. */
export function attrOf(e: StoredEntity, iri: string): StoredAttribute | undefined {
  return e.attrs[iri]?.find((a) => a.datasetId === undefined);
}

/** A numeric Property's value, when a finite number of 0 or more. */
export function numberOf(e: StoredEntity, iri: string): number | undefined {
  const v = attrOf(e, iri)?.value;
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
}

const timeOf = (a: StoredAttribute | undefined) => (a?.observedAt ? Date.parse(a.observedAt) : NaN);

/** The segment a detector measures. */
function segmentOf(detector: StoredEntity): string | undefined {
  const o = attrOf(detector, TRAFFIC.refRoadSegment)?.object;
  return typeof o === 'string' ? o : undefined;
}

export interface FreeFlow {
  speed: number;
  /** Undefined: configured by the city. */
  derivedFrom?: FreeFlowSource;
}

/** The segment's free-flow speed by the rule above; undefined when it has none and no limit. */
export function freeFlowOf(segment: StoredEntity): FreeFlow | undefined {
  const held = attrOf(segment, TRAFFIC.freeFlowSpeed);
  const speed = numberOf(segment, TRAFFIC.freeFlowSpeed);
  const from = held?.sub?.[TRAFFIC.derivedFrom]?.value;
  if (speed !== undefined && speed > 0) {
    if (from === undefined) return { speed };
    if (from === 'history') return { speed, derivedFrom: 'history' };
  }
  const limit = numberOf(segment, TRAFFIC.maximumAllowedSpeed);
  return limit !== undefined && limit > 0 ? { speed: limit, derivedFrom: 'maximumAllowedSpeed' } : undefined;
}

interface Reading {
  speed: number;
  intensity: number;
  at: number;
}

/** The newest reading of each detector that has a speed. */
function readingsOf(detectors: StoredEntity[]): Reading[] {
  const out: Reading[] = [];
  for (const d of detectors) {
    const speed = numberOf(d, TRAFFIC.averageVehicleSpeed);
    if (speed === undefined) continue;
    const at = Math.max(
      timeOf(attrOf(d, TRAFFIC.averageVehicleSpeed)),
      timeOf(attrOf(d, TRAFFIC.intensity)) || 0,
    );
    if (!Number.isFinite(at)) continue;
    out.push({ speed, intensity: numberOf(d, TRAFFIC.intensity) ?? 0, at });
  }
  return out;
}

export interface SegmentTraffic {
  speed: number;
  intensity: number;
  at: number;
  detectors: number;
}

/** What the detectors say of their segment (see the header); undefined without a reading. */
export function combineReadings(readings: Reading[], staleAfterMs: number): SegmentTraffic | undefined {
  if (readings.length === 0) return undefined;
  const newest = Math.max(...readings.map((r) => r.at));
  const fresh = readings.filter((r) => newest - r.at <= staleAfterMs);
  const flow = fresh.reduce((s, r) => s + r.intensity, 0);
  const speed =
    flow > 0
      ? fresh.reduce((s, r) => s + r.speed * r.intensity, 0) / flow
      : fresh.reduce((s, r) => s + r.speed, 0) / fresh.length;
  return { speed, intensity: flow / fresh.length, at: newest, detectors: fresh.length };
}

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;

/** Segments per query of their detectors (one q list of ids). */
const SEGMENTS_PER_QUERY = 100;
/** How long a detector's segment is trusted from memory (another instance may have seen it move). */
const SEGMENT_OF_TTL_MS = 5 * 60_000;

const byIds = (type: string, ids: string[]): EntityQuery => ({
  ids,
  type: { kind: 'type', name: type },
  limit: ids.length,
  offset: 0,
  count: false,
});

/** Detectors of these segments: `refRoadSegment == "a","b",…`, page by page. */
async function detectorsOf(
  deps: SegmentTpiDeps,
  tenant: string,
  segments: string[],
): Promise<StoredEntity[]> {
  const out: StoredEntity[] = [];
  for (let i = 0; i < segments.length; i += SEGMENTS_PER_QUERY) {
    const items = segments
      .slice(i, i + SEGMENTS_PER_QUERY)
      .map((value) => ({ type: 'string' as const, value }));
    for (let offset = 0; ; offset += PAGE) {
      const { entities } = await deps.queryEntities(tenant, {
        type: { kind: 'type', name: TRAFFIC_FLOW_OBSERVED },
        q: {
          expr: {
            kind: 'term',
            path: { attr: TRAFFIC.refRoadSegment, sub: [] },
            op: '==',
            value: { type: 'list', items },
          },
          expandAttr: (t) => t,
          expandValue: (t) => t,
        },
        orderBy: [{ column: 'id', desc: false }],
        limit: PAGE,
        offset,
        count: false,
      });
      out.push(...entities);
      if (entities.length < PAGE) break;
    }
  }
  return out;
}

/** What to merge into a segment, or undefined when nothing is to be written (see the header). */
export function segmentUpdate(
  segment: StoredEntity,
  traffic: SegmentTraffic,
  minIntervalMs: number,
): Record<string, unknown> | undefined {
  const observedAt = new Date(traffic.at).toISOString();
  const freeFlow = freeFlowOf(segment);
  const tpi = freeFlow ? linkTpi(traffic.speed, freeFlow.speed) : undefined;
  const heldAt = timeOf(attrOf(segment, TRAFFIC.averageVehicleSpeed));
  const heldLevel = numberOf(segment, TRAFFIC.congestionLevel);
  const heldFreeFlow = attrOf(segment, TRAFFIC.freeFlowSpeed);
  const freeFlowToWrite =
    freeFlow?.derivedFrom === 'maximumAllowedSpeed' &&
    (heldFreeFlow?.value !== freeFlow.speed ||
      heldFreeFlow.sub?.[TRAFFIC.derivedFrom]?.value !== 'maximumAllowedSpeed')
      ? freeFlow.speed
      : undefined;
  // Never back in time: a change handled late must not undo a newer result.
  if (Number.isFinite(heldAt) && traffic.at < heldAt) return undefined;
  // Too soon after the last write to say more than a level change would (this also skips a
  // change handled again).
  if (
    Number.isFinite(heldAt) &&
    traffic.at - heldAt < minIntervalMs &&
    heldLevel === tpi?.level &&
    freeFlowToWrite === undefined
  )
    return undefined;
  const at = { observedAt };
  const body: Record<string, unknown> = {
    [TRAFFIC.averageVehicleSpeed]: {
      type: 'Property',
      value: round(traffic.speed, 1),
      unitCode: 'KMH',
      ...at,
    },
    [TRAFFIC.intensity]: { type: 'Property', value: Math.round(traffic.intensity), unitCode: 'E50', ...at },
  };
  if (freeFlowToWrite !== undefined)
    body[TRAFFIC.freeFlowSpeed] = {
      type: 'Property',
      value: freeFlowToWrite,
      unitCode: 'KMH',
      [TRAFFIC.derivedFrom]: { type: 'Property', value: 'maximumAllowedSpeed' },
    };
  if (tpi) {
    body[TRAFFIC.delayTimeProportion] = { type: 'Property', value: round(tpi.dtp, 4), ...at };
    body[TRAFFIC.trafficPerformanceIndex] = { type: 'Property', value: tpi.tpi, ...at };
    body[TRAFFIC.congestionLevel] = { type: 'Property', value: tpi.level, ...at };
  }
  // Written already (same values at the same reading).
  if (heldAt === traffic.at && sameValues(segment, body)) return undefined;
  return body;
}

/** The change-feed consumer `transport.segment-tpi`. */
export function segmentTpiConsumer(deps: SegmentTpiDeps): ChangeConsumer {
  const minInterval = deps.minIntervalMs ?? 60_000;
  const staleAfter = deps.staleAfterMs ?? 15 * 60_000;
  const now = deps.now ?? Date.now;
  // Detector → segment, so that a reading needs no read of its detector: a Relationship that
  // rarely moves. A change that touches refRoadSegment (or creates or deletes) reads it again;
  // an entry is trusted for a few minutes only, as another instance may have held the consumer
  // (and seen a move) meanwhile.
  const segmentOfDetector = new Map<string, { segment: string | undefined; until: number }>();

  /** The segments a batch touches, per tenant: each once. */
  async function segmentsOf(changes: FeedChange[]): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>();
    const add = (tenant: string, id: string | undefined) => {
      if (id === undefined) return;
      const set = out.get(tenant) ?? new Set<string>();
      set.add(id);
      out.set(tenant, set);
    };
    const unknown = new Map<string, Set<string>>();
    const t = now();
    for (const c of changes) {
      const key = `${c.tenant}\u0000${c.id}`;
      const moved = c.kind !== 'updated' || c.attributes.includes(TRAFFIC.refRoadSegment);
      const reads =
        c.attributes.includes(TRAFFIC.averageVehicleSpeed) || c.attributes.includes(TRAFFIC.intensity);
      if (!moved && !reads) continue;
      const known = segmentOfDetector.get(key);
      // The segment it leaves (moved or deleted) has one detector less.
      if (moved) add(c.tenant, known?.segment);
      if (c.kind === 'deleted') segmentOfDetector.delete(key);
      else if (moved || !known || known.until < t) {
        const set = unknown.get(c.tenant) ?? new Set<string>();
        set.add(c.id);
        unknown.set(c.tenant, set);
      } else add(c.tenant, known.segment);
    }
    for (const [tenant, ids] of unknown) {
      const list = [...ids];
      for (let i = 0; i < list.length; i += PAGE) {
        const { entities } = await deps.queryEntities(
          tenant,
          byIds(TRAFFIC_FLOW_OBSERVED, list.slice(i, i + PAGE)),
        );
        for (const d of entities) {
          const segment = segmentOf(d);
          segmentOfDetector.set(`${tenant}\u0000${d.id}`, { segment, until: t + SEGMENT_OF_TTL_MS });
          add(tenant, segment);
        }
      }
    }
    return out;
  }

  /** Recomputes these segments of a tenant: three reads whatever their number, writes in parallel. */
  async function update(tenant: string, ids: string[]): Promise<void> {
    const segments = new Map<string, StoredEntity>();
    for (let i = 0; i < ids.length; i += PAGE) {
      const { entities } = await deps.queryEntities(tenant, byIds(ROAD_SEGMENT, ids.slice(i, i + PAGE)));
      for (const s of entities) segments.set(s.id, s);
    }
    if (segments.size === 0) return;
    const detectors = new Map<string, StoredEntity[]>();
    for (const d of await detectorsOf(deps, tenant, [...segments.keys()])) {
      const s = segmentOf(d);
      if (s !== undefined) detectors.set(s, [...(detectors.get(s) ?? []), d]);
    }
    const bodies: [string, Record<string, unknown>][] = [];
    for (const [id, segment] of segments) {
      const traffic = combineReadings(readingsOf(detectors.get(id) ?? []), staleAfter);
      const body = traffic && segmentUpdate(segment, traffic, minInterval);
      if (body) bodies.push([id, body]);
    }
    if (bodies.length === 0) return;
    const ctx = await deps.coreContext();
    // Through the write queue together: one group commit rather than one transaction each.
    const writes = bodies.map(([id, body]) => deps.merge(tenant, id, body, ctx));
    for (const r of await Promise.allSettled(writes))
      // A segment's own trouble (deleted meanwhile, a value the model refuses) skips it; a
      // database failure fails the batch, which comes again.
      if (r.status === 'rejected' && !(r.reason instanceof HubError && r.reason.cause === undefined))
        throw r.reason;
  }

  return {
    name: 'transport.segment-tpi',
    types: [TRAFFIC_FLOW_OBSERVED],
    batchSize: 1000,
    async handle(changes: FeedChange[]) {
      for (const [tenant, ids] of await segmentsOf(changes)) await update(tenant, [...ids]);
    },
  };
}

/** Whether the segment holds these values already (same value, same observedAt). */
function sameValues(segment: StoredEntity, body: Record<string, unknown>): boolean {
  return Object.entries(body).every(([iri, v]) => {
    const held = attrOf(segment, iri);
    const want = v as { value: unknown; observedAt?: string };
    return held !== undefined && held.value === want.value && held.observedAt === want.observedAt;
  });
}
