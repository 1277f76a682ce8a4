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
 *   written. So a segment's attributes are at most a minute behind its detectors, and a city of
 *   6,000 detectors reporting every 10 s (600 readings/s) writes its few hundred segments a few
 *   times a minute, not 600 times a second.
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

/** Detectors of a segment: `refRoadSegment == segment`. */
function detectorsQuery(segment: string): EntityQuery {
  return {
    type: { kind: 'type', name: TRAFFIC_FLOW_OBSERVED },
    q: {
      expr: {
        kind: 'term',
        path: { attr: TRAFFIC.refRoadSegment, sub: [] },
        op: '==',
        value: { type: 'string', value: segment },
      },
      expandAttr: (t) => t,
      expandValue: (t) => t,
    },
    limit: 1000,
    offset: 0,
    count: false,
  };
}

/** The change-feed consumer `transport.segment-tpi`. */
export function segmentTpiConsumer(deps: SegmentTpiDeps): ChangeConsumer {
  const minInterval = deps.minIntervalMs ?? 60_000;
  const staleAfter = deps.staleAfterMs ?? 15 * 60_000;
  // Detector → segment, so that a reading needs no read of its detector: a Relationship that
  // rarely moves. A change that touches refRoadSegment (or creates or deletes) reads it again.
  const segmentOfDetector = new Map<string, string | undefined>();

  async function update(tenant: string, id: string): Promise<void> {
    const segment = await deps.getEntity(tenant, id);
    if (!segment?.types.includes(ROAD_SEGMENT)) return;
    const found = await deps.queryEntities(tenant, detectorsQuery(id));
    const traffic = combineReadings(readingsOf(found.entities), staleAfter);
    if (!traffic) return;
    const observedAt = new Date(traffic.at).toISOString();
    const freeFlow = freeFlowOf(segment);
    const tpi = freeFlow ? linkTpi(traffic.speed, freeFlow.speed) : undefined;
    const held = attrOf(segment, TRAFFIC.averageVehicleSpeed);
    const heldAt = timeOf(held);
    const heldLevel = numberOf(segment, TRAFFIC.congestionLevel);
    const heldFreeFlow = attrOf(segment, TRAFFIC.freeFlowSpeed);
    const freeFlowToWrite =
      freeFlow?.derivedFrom === 'maximumAllowedSpeed' &&
      (heldFreeFlow?.value !== freeFlow.speed ||
        heldFreeFlow.sub?.[TRAFFIC.derivedFrom]?.value !== 'maximumAllowedSpeed')
        ? freeFlow.speed
        : undefined;
    // Never back in time: a change handled late must not undo a newer result.
    if (Number.isFinite(heldAt) && traffic.at < heldAt) return;
    // Written already (a change handled again), or too soon after the last write to say more
    // than a level change would.
    if (
      Number.isFinite(heldAt) &&
      traffic.at - heldAt < minInterval &&
      heldLevel === tpi?.level &&
      freeFlowToWrite === undefined
    )
      return;
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
    if (heldAt === traffic.at && sameValues(segment, body)) return;
    await deps.merge(tenant, id, body, await deps.coreContext());
  }

  /** The segments a batch touches: each once. */
  async function segmentsOf(changes: FeedChange[]): Promise<Map<string, { tenant: string; id: string }>> {
    const out = new Map<string, { tenant: string; id: string }>();
    const add = (tenant: string, id: string | undefined) => {
      if (id !== undefined) out.set(`${tenant}\u0000${id}`, { tenant, id });
    };
    for (const c of changes) {
      const key = `${c.tenant}\u0000${c.id}`;
      const moved = c.kind !== 'updated' || c.attributes.includes(TRAFFIC.refRoadSegment);
      const reads =
        c.attributes.includes(TRAFFIC.averageVehicleSpeed) || c.attributes.includes(TRAFFIC.intensity);
      if (!moved && !reads) continue;
      // The segment it leaves (moved or deleted) has one detector less.
      if (moved) add(c.tenant, segmentOfDetector.get(key));
      if (moved || !segmentOfDetector.has(key)) {
        const d = c.kind === 'deleted' ? undefined : await deps.getEntity(c.tenant, c.id);
        segmentOfDetector.set(key, d && segmentOf(d));
        if (!d) segmentOfDetector.delete(key);
      }
      add(c.tenant, segmentOfDetector.get(key));
    }
    return out;
  }

  return {
    name: 'transport.segment-tpi',
    types: [TRAFFIC_FLOW_OBSERVED],
    batchSize: 1000,
    async handle(changes: FeedChange[]) {
      for (const { tenant, id } of (await segmentsOf(changes)).values())
        try {
          await update(tenant, id);
        } catch (err) {
          // The segment's own trouble (deleted meanwhile, a value the model refuses) skips it;
          // a database failure fails the batch, which comes again.
          if (!(err instanceof HubError && err.cause === undefined)) throw err;
        }
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
