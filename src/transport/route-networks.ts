/**
 * The road networks held in memory, one per tenant, kept up to date by a short-lived refresh
 * rather than a change-feed consumer: a feed consumer runs on one hub instance at a time, and
 * every instance that answers routes needs its own graph current.
 *
 * A tenant's segments are read in full once (pages of 1,000), then, when a route asks and the
 * last look is older than `refreshMs` (5 s), only the segments modified since the newest
 * modification seen (less an overlap for transactions that commit late) are read back, newest
 * first: a new speed or flow updates the segment in place (the next route's costs use it, no
 * rebuild); a segment created, moved, made one-way or deleted rebuilds the graph from the
 * segments in memory (not from the database). Deletions show as a count that no longer matches;
 * that reloads everything, as does a full reload every `fullReloadMs` (10 min) as a safety net.
 * A route therefore never reads all segments per request: at most one small query every 5 s, run
 * beside the routes (only a tenant's first route waits for its load).
 */
import type { StoredEntity } from '../core/entity-model.js';
import type { EntityQuery } from '../core/query/entity-query.js';
import type { TypeExpr } from '../core/query/type-expr.js';
import type { QueryResult } from '../core/store.js';
import {
  ROAD_SEGMENT_TYPES,
  buildRoadNetwork,
  roadSegmentOf,
  type RoadNetwork,
  type RoadSegmentData,
} from './road-graph.js';

export interface RoadNetworksDeps {
  queryEntities(tenant: string, query: EntityQuery): Promise<QueryResult>;
  now?: () => number;
  /** How old the last look may be before a route looks again (ms, default 5,000). */
  refreshMs?: number;
  /** A full reload at least this often (ms, default 600,000). */
  fullReloadMs?: number;
  /** A background refresh that failed (the next route tries again). */
  onError?: (err: unknown) => void;
}

/**
 * Modifications this much older than the newest seen are read again: `modifiedAt` is the writing
 * transaction's start, and a write transaction (a group commit of at most 200 writes) that began
 * before the newest seen may commit after the look.
 */
const OVERLAP_MS = 5_000;
const PAGE = 1000;

export const typeExprOf = (iris: string[]): TypeExpr => ({
  kind: 'or',
  items: iris.map((name) => ({ kind: 'type', name })),
});

interface TenantNetwork {
  segments: Map<string, RoadSegmentData>;
  /** Ids of RoadSegments that have no usable line (they still count). */
  unusable: Set<string>;
  network?: RoadNetwork;
  newestModified: number;
  /** When the last look began (hub clock, as modifiedAt is). */
  lookedAt: number;
  checkedAt: number;
  loadedAt: number;
  refreshing?: Promise<void>;
}

/** Geometry and direction: what the graph's shape depends on. */
const shapeOf = (s: RoadSegmentData) => JSON.stringify([s.coordinates, s.oneWay]);

export class RoadNetworks {
  private readonly tenants = new Map<string, TenantNetwork>();
  private readonly now: () => number;
  private readonly refreshMs: number;
  private readonly fullReloadMs: number;

  constructor(private readonly deps: RoadNetworksDeps) {
    this.now = deps.now ?? Date.now;
    this.refreshMs = deps.refreshMs ?? 5_000;
    this.fullReloadMs = deps.fullReloadMs ?? 600_000;
  }

  /** The tenant's network, current within `refreshMs`; undefined when it has no road segment. */
  async network(tenant: string): Promise<RoadNetwork | undefined> {
    let t = this.tenants.get(tenant);
    if (!t) {
      t = {
        segments: new Map(),
        unusable: new Set(),
        newestModified: 0,
        lookedAt: 0,
        checkedAt: 0,
        loadedAt: 0,
      };
      this.tenants.set(tenant, t);
    }
    if (this.now() - t.checkedAt >= this.refreshMs) {
      const state = t;
      state.refreshing ??= this.refresh(tenant, state).finally(() => delete state.refreshing);
      // Only the first load is waited for; afterwards a route is answered on the network held
      // while the look runs (stale by at most one refresh), so no route waits on the database.
      if (t.loadedAt === 0) await state.refreshing;
      else state.refreshing.catch((err: unknown) => this.deps.onError?.(err));
    }
    if (t.segments.size === 0) {
      // Not kept: a tenant header naming nothing must not grow the memory (asked again next time).
      if (t.unusable.size === 0 && !t.refreshing) this.tenants.delete(tenant);
      return undefined;
    }
    t.network ??= buildRoadNetwork([...t.segments.values()]);
    return t.network;
  }

  private async refresh(tenant: string, t: TenantNetwork): Promise<void> {
    const started = this.now();
    if (started - t.loadedAt >= this.fullReloadMs || t.loadedAt === 0) await this.reload(tenant, t);
    else if (!(await this.applyChanges(tenant, t))) await this.reload(tenant, t);
    t.checkedAt = started;
    t.lookedAt = started;
  }

  private baseQuery(): Omit<EntityQuery, 'limit' | 'offset' | 'count'> {
    return { type: typeExprOf(ROAD_SEGMENT_TYPES) };
  }

  private async reload(tenant: string, t: TenantNetwork): Promise<void> {
    const segments = new Map<string, RoadSegmentData>();
    const unusable = new Set<string>();
    let newest = 0;
    for (let offset = 0; ; offset += PAGE) {
      const { entities } = await this.deps.queryEntities(tenant, {
        ...this.baseQuery(),
        orderBy: [{ column: 'id', desc: false }],
        limit: PAGE,
        offset,
        count: false,
      });
      for (const e of entities) {
        newest = Math.max(newest, modifiedOf(e));
        const s = roadSegmentOf(e);
        if (s) segments.set(e.id, s);
        else unusable.add(e.id);
      }
      if (entities.length < PAGE) break;
    }
    t.segments = segments;
    t.unusable = unusable;
    t.newestModified = newest;
    t.loadedAt = this.now();
    delete t.network;
  }

  /** Reads what changed since the last look; false when only a full reload can tell (deletions). */
  private async applyChanges(tenant: string, t: TenantNetwork): Promise<boolean> {
    // What began before the last look, less the overlap, was seen then (without new writes the
    // window does not stay on the last burst of writes).
    const since = Math.max(t.newestModified, t.lookedAt) - OVERLAP_MS;
    let total: number | undefined;
    let reshaped = false;
    for (let offset = 0; ; offset += PAGE) {
      const { entities, count } = await this.deps.queryEntities(tenant, {
        ...this.baseQuery(),
        orderBy: [{ column: 'modifiedAt', desc: true }],
        limit: PAGE,
        offset,
        count: offset === 0,
      });
      total ??= count;
      let older = false;
      for (const e of entities) {
        const m = modifiedOf(e);
        if (m < since) {
          older = true;
          break;
        }
        t.newestModified = Math.max(t.newestModified, m);
        const s = roadSegmentOf(e);
        const held = t.segments.get(e.id);
        if (!s) {
          if (held) reshaped = true;
          t.segments.delete(e.id);
          t.unusable.add(e.id);
        } else if (!held || shapeOf(held) !== shapeOf(s)) {
          reshaped = true;
          t.unusable.delete(e.id);
          t.segments.set(e.id, s);
        } else replaceInPlace(held, s); // same edges: the graph holds `held`, whose costs move
      }
      if (older || entities.length < PAGE) break;
    }
    if (reshaped) delete t.network;
    return total === undefined || total === t.segments.size + t.unusable.size;
  }
}

/** `held` becomes `next` (the graph keeps its reference); members `next` lacks are dropped. */
function replaceInPlace(held: RoadSegmentData, next: RoadSegmentData): void {
  for (const k of Object.keys(held) as (keyof RoadSegmentData)[]) if (!(k in next)) delete held[k];
  Object.assign(held, next);
}

function modifiedOf(e: StoredEntity): number {
  const m = Date.parse(e.modifiedAt ?? '');
  return Number.isFinite(m) ? m : 0;
}
