/**
 * The aggregated temporal representation (NGSI-LD §4.5.19): period bounds per entity from the
 * window (or the entity's first instance) and aggrPeriodDuration, aggregated in SQL, from the
 * per-hour or per-minute rollups when every bound falls on that grain and the methods compose.
 */
import type { ActiveContext } from '../core/context/active-context.js';
import { HubError } from '../core/errors.js';
import type { AggregateRow, HistoryEntity, InstanceSelection, RollupGrain } from '../core/history-store.js';
import type { Store } from '../core/store.js';
import { periodBounds } from '../core/temporal/duration.js';
import type { TemporalSpec } from '../core/temporal/temporal-query.js';
import { COMPOSABLE_METHODS } from '../core/temporal/temporal-query.js';
import { renderTemporalEntity } from '../core/temporal/temporal-output.js';
import type { TemporalRenderOptions } from '../core/temporal/temporal-output.js';

/** Aggregation periods per series in one response. */
const MAX_PERIODS = 100_000;
const GRAIN_MS: Record<RollupGrain, number> = { hour: 3_600_000, minute: 60_000 };

/** The coarsest rollup grain on which every period bound (and the window's end) falls. */
export function grainFor(bounds: number[], to: number | undefined): RollupGrain | undefined {
  for (const g of ['hour', 'minute'] as const) {
    const ms = GRAIN_MS[g];
    if (bounds.every((b) => b % ms === 0) && (to === undefined || to % ms === 0)) return g;
  }
  return undefined;
}

/**
 * Renders the entities in the aggregated representation. Periods start at the window's start
 * (timeAt), else at the entity's first instance; without aggrPeriodDuration one period covers
 * the whole range. Entities sharing the same bounds are aggregated in one statement.
 */
export async function renderAggregated(
  store: Store,
  tenant: string,
  list: HistoryEntity[],
  sel: InstanceSelection,
  spec: TemporalSpec,
  ctx: ActiveContext,
  ro: TemporalRenderOptions,
): Promise<Record<string, unknown>[]> {
  const ids = list.map((e) => e.id);
  const methods = spec.aggrMethods ?? [];
  // The newest instance of each series tells its kind; series with nothing in range still show.
  const latest = await store.history.instances(tenant, ids, sel, { lastN: 1, limit: 1 });
  // A closed window fixes the periods: only whether an entity has data in it matters, and its newest
  // instance tells that (no pass over every point of a long series).
  const ranges =
    sel.from !== undefined && sel.to !== undefined
      ? new Map(
          [...new Set(latest.map((i) => i.entityId))].map((id) => [
            id,
            { first: sel.from as number, last: (sel.to as number) - 1 },
          ]),
        )
      : await store.history.timeRange(tenant, ids, sel);
  const bounds = new Map<string, number[]>();
  const groups = new Map<string, string[]>();
  for (const id of ids) {
    const r = ranges.get(id);
    if (!r) continue;
    const start = sel.from ?? r.first;
    const end = sel.to ?? r.last + 1;
    let b: number[];
    try {
      b = spec.aggrPeriod ? periodBounds(start, end - 1, spec.aggrPeriod, MAX_PERIODS) : [start, end];
    } catch (err) {
      if (err instanceof RangeError)
        throw new HubError('TooComplexQuery', `The aggregation asks for ${err.message}`);
      throw err;
    }
    bounds.set(id, b);
    const key = b.join(',');
    groups.set(key, [...(groups.get(key) ?? []), id]);
  }
  const composable = methods.every((m) => COMPOSABLE_METHODS.includes(m));
  const rows: AggregateRow[] = [];
  for (const [key, group] of groups) {
    const b = key.split(',').map(Number);
    // Rollups hold observedAt buckets; an exclusive start (timerel=after) splits a bucket.
    const grain =
      composable && spec.timeproperty === 'observedAt' && !sel.fromExclusive
        ? grainFor(b, sel.to)
        : undefined;
    rows.push(...(await store.history.aggregate(tenant, group, sel, b, methods, grain)));
  }
  return list.map((e) => renderTemporalEntity(e, latest, rows, ctx, { ...ro, methods, bounds }));
}
