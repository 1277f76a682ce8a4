/**
 * The free-flow speed of road segments learned from their history, as DiDi's traffic index does
 * (DOMAIN.md §3.2, didi/TrafficIndex: "the average of the fastest cumulative 4-hour sample speed
 * in one month"): the singleton job `transport.free-flow` reads each segment's
 * `averageVehicleSpeed` over the last 30 days in hourly buckets (the history's rollups), takes the
 * 4 fastest hours and publishes their mean (weighted by samples) as `freeFlowSpeed` with
 * `derivedFrom: "history"`; every hour by default.
 *
 * Hours stand for the "cumulative 4 h": a segment's speed is written about once a minute, so an
 * hour is one bucket of samples, and 4 buckets are 4 h of them. A segment with fewer than
 * `minHours` (default 24) hours of readings keeps its speed limit as free flow (a day covers the
 * quiet night hours; fewer, mostly rush-hour hours would learn a congested speed as free flow).
 * A free-flow speed the city configured (no `derivedFrom`) is never replaced.
 */
import type { ActiveContext } from '../core/context/active-context.js';
import type { StoredEntity } from '../core/entity-model.js';
import type { HistoryStore } from '../core/history-store.js';
import type { SingletonJob } from '../core/module.js';
import type { EntityQuery } from '../core/query/entity-query.js';
import type { QueryResult } from '../core/store.js';
import { ROAD_SEGMENT, TRAFFIC } from './traffic-attributes.js';
import { attrOf, numberOf } from './traffic-segments.js';
import { abortableSleep, eachPage } from './traffic-jobs.js';

export interface FreeFlowDeps {
  history: Pick<HistoryStore, 'aggregate'>;
  listTenants(): Promise<string[]>;
  queryEntities(tenant: string, query: EntityQuery): Promise<QueryResult>;
  merge(tenant: string, id: string, body: Record<string, unknown>, ctx: ActiveContext): Promise<void>;
  coreContext(): Promise<ActiveContext>;
  /** Between two runs (ms; default 1 h). */
  intervalMs?: number;
  /** Hours with readings a segment needs before its free flow is learned (default 24). */
  minHours?: number;
  /** The clock (tests). */
  now?: () => number;
}

const HOUR = 3_600_000;
/** DiDi's month. */
export const FREE_FLOW_WINDOW_DAYS = 30;
/** DiDi's "fastest cumulative 4 h". */
export const FASTEST_HOURS = 4;

/** One hour of a segment's speeds. */
export interface HourOfSpeeds {
  sum: number;
  count: number;
}

/** The mean of the fastest `FASTEST_HOURS` hours; undefined with fewer than `minHours` hours. */
export function freeFlowFromHours(hours: readonly HourOfSpeeds[], minHours: number): number | undefined {
  const filled = hours.filter((h) => h.count > 0);
  if (filled.length < Math.max(minHours, FASTEST_HOURS)) return undefined;
  const fastest = [...filled].sort((a, b) => b.sum / b.count - a.sum / a.count).slice(0, FASTEST_HOURS);
  const n = fastest.reduce((s, h) => s + h.count, 0);
  return fastest.reduce((s, h) => s + h.sum, 0) / n;
}

/** Whether the city set this segment's free flow (a `freeFlowSpeed` without `derivedFrom`). */
function configured(segment: StoredEntity): boolean {
  const held = attrOf(segment, TRAFFIC.freeFlowSpeed);
  return held !== undefined && held.sub?.[TRAFFIC.derivedFrom] === undefined;
}

/** Learns and publishes the free flow of one tenant's segments; returns how many were written. */
export async function learnFreeFlow(deps: FreeFlowDeps, tenant: string): Promise<number> {
  const minHours = deps.minHours ?? 24;
  const now = (deps.now ?? Date.now)();
  const to = Math.ceil(now / HOUR) * HOUR;
  const from = to - FREE_FLOW_WINDOW_DAYS * 24 * HOUR;
  const bounds: number[] = [];
  for (let t = from; t <= to; t += HOUR) bounds.push(t);
  let written = 0;
  await eachPage(
    (t, q) => deps.queryEntities(t, q),
    tenant,
    ROAD_SEGMENT,
    [TRAFFIC.averageVehicleSpeed],
    async (segments) => {
      const learnable = segments.filter((s) => !configured(s));
      if (learnable.length === 0) return;
      const hoursOf = new Map<string, HourOfSpeeds[]>();
      // 100 segments × 720 hours at most per answer.
      for (let i = 0; i < learnable.length; i += 100) {
        const rows = await deps.history.aggregate(
          tenant,
          learnable.slice(i, i + 100).map((s) => s.id),
          { attrs: [TRAFFIC.averageVehicleSpeed], timeproperty: 'observedAt', from, to },
          bounds,
          ['avg', 'totalCount'],
          'hour',
        );
        for (const r of rows) {
          if (r.datasetId !== undefined) continue;
          const list = hoursOf.get(r.entityId) ?? [];
          list.push({ sum: r.sum, count: r.numCount });
          hoursOf.set(r.entityId, list);
        }
      }
      let ctx: ActiveContext | undefined;
      for (const s of learnable) {
        const speed = freeFlowFromHours(hoursOf.get(s.id) ?? [], minHours);
        if (speed === undefined) continue;
        const value = Math.round(speed * 10) / 10;
        const held = attrOf(s, TRAFFIC.freeFlowSpeed);
        if (
          numberOf(s, TRAFFIC.freeFlowSpeed) === value &&
          held?.sub?.[TRAFFIC.derivedFrom]?.value === 'history'
        )
          continue;
        ctx ??= await deps.coreContext();
        await deps.merge(
          tenant,
          s.id,
          {
            [TRAFFIC.freeFlowSpeed]: {
              type: 'Property',
              value,
              unitCode: 'KMH',
              observedAt: new Date(now).toISOString(),
              [TRAFFIC.derivedFrom]: { type: 'Property', value: 'history' },
            },
          },
          ctx,
        );
        written++;
      }
    },
  );
  return written;
}

/** The singleton job `transport.free-flow`. */
export function freeFlowJob(deps: FreeFlowDeps): SingletonJob {
  const interval = deps.intervalMs ?? HOUR;
  return {
    name: 'transport.free-flow',
    async run(signal) {
      while (!signal.aborted) {
        for (const tenant of await deps.listTenants()) {
          if (signal.aborted) return;
          await learnFreeFlow(deps, tenant);
        }
        await abortableSleep(interval, signal);
      }
    },
  };
}
