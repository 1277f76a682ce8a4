/**
 * Temporal consumption (NGSI-LD §5.7.3 retrieve, §5.7.4 query): selects the entities with
 * history, reads their instances within the asked window and cuts them at the hub's instance
 * limit (temporal pagination, §6.3.10), or hands them to the aggregation.
 */
import type { ActiveContext } from '../core/context/active-context.js';
import { notFound } from '../core/errors.js';
import type { HistoryEntity, HistoryEntityQuery, InstanceSelection } from '../core/history-store.js';
import type { EntityQuery, Store } from '../core/store.js';
import type { TemporalSpec } from '../core/temporal/temporal-query.js';
import { windowOf } from '../core/temporal/temporal-query.js';
import type { PageRange } from '../core/temporal/temporal-pagination.js';
import { paginateInstances } from '../core/temporal/temporal-pagination.js';
import { renderTemporalEntity } from '../core/temporal/temporal-output.js';
import type { TemporalRenderOptions } from '../core/temporal/temporal-output.js';
import { renderAggregated } from './temporal-aggregation.js';

/** Instances per attribute in one response before temporal pagination cuts (NGSI-LD §6.3.10). */
export const DEFAULT_MAX_INSTANCES = 1000;
/** Entities matched on their current state (q, geo-queries, orderBy) in one query. */
const MAX_MATCHED = 10_000;

export interface TemporalQuery {
  /** Entity selection: ids, idPattern, type, scopeQ, q, geo (q and geo match the current state). */
  entities: EntityQuery;
  spec: TemporalSpec;
  /** Attributes to show; an empty list shows none (pick on core members only). */
  attrs?: string[];
  /** Attributes left out (omit). */
  omit?: string[];
  datasetIds?: string[];
  hideId?: boolean;
  hideType?: boolean;
  hideScope?: boolean;
}

export interface TemporalResult {
  bodies: Record<string, unknown>[];
  count?: number;
  /** Set when some attribute was cut at the instance limit: the time range returned. */
  range?: PageRange;
}

/** The instance selection of a temporal query. */
export function selectionOf(tq: TemporalQuery): InstanceSelection {
  const w = windowOf(tq.spec.time);
  return {
    timeproperty: tq.spec.timeproperty,
    ...(tq.attrs ? { attrs: tq.attrs } : {}),
    ...(tq.omit ? { omitAttrs: tq.omit } : {}),
    ...(tq.datasetIds ? { datasetIds: tq.datasetIds } : {}),
    ...(w.from !== undefined ? { from: w.from } : {}),
    ...(w.to !== undefined ? { to: w.to } : {}),
    ...(w.fromExclusive ? { fromExclusive: true } : {}),
  };
}

export function createTemporalReader(opts: { store: Store; maxInstances?: number }) {
  const { store } = opts;
  const maxInstances = opts.maxInstances ?? DEFAULT_MAX_INSTANCES;

  async function render(
    tenant: string,
    list: HistoryEntity[],
    tq: TemporalQuery,
    ctx: ActiveContext,
  ): Promise<Omit<TemporalResult, 'count'>> {
    const ids = list.map((e) => e.id);
    const sel = selectionOf(tq);
    const ro: TemporalRenderOptions = {
      format: tq.spec.format,
      timeproperty: tq.spec.timeproperty,
      sysAttrs: tq.spec.sysAttrs,
      ...(tq.hideId ? { hideId: true } : {}),
      ...(tq.hideType ? { hideType: true } : {}),
      ...(tq.hideScope ? { hideScope: true } : {}),
    };
    if (tq.spec.format === 'aggregatedValues')
      return { bodies: await renderAggregated(store, tenant, list, sel, tq.spec, ctx, ro) };
    const { lastN } = tq.spec;
    const read = await store.history.instances(tenant, ids, sel, {
      limit: maxInstances,
      ...(lastN !== undefined ? { lastN } : {}),
    });
    const page = paginateInstances(read, {
      limit: maxInstances,
      timeproperty: tq.spec.timeproperty,
      ...(lastN !== undefined ? { lastN } : {}),
      ...(sel.from !== undefined ? { from: sel.from } : {}),
      ...(sel.to !== undefined ? { to: sel.to } : {}),
    });
    const bodies = list.map((e) =>
      renderTemporalEntity(e, page.kept, [], ctx, { ...ro, emptied: page.emptied }),
    );
    return page.range ? { bodies, range: page.range } : { bodies };
  }

  /** Ids matched on the current state (q, geo-query, orderBy), in order; undefined if not asked. */
  async function currentIds(tenant: string, q: EntityQuery): Promise<string[] | undefined> {
    if (!q.q && !q.geo && !q.orderBy) return undefined;
    const r = await store.queryEntities(tenant, {
      ...q,
      anyOf: q.anyOf ?? [],
      limit: MAX_MATCHED,
      offset: 0,
      count: false,
    });
    return r.entities.map((e) => e.id);
  }

  return {
    /** NGSI-LD §5.7.4 Query Temporal Evolution of Entities. */
    async query(tenant: string, tq: TemporalQuery, ctx: ActiveContext): Promise<TemporalResult> {
      const q = tq.entities;
      // q and geo-queries select by the current state; orderBy only orders (NGSI-LD §4.23).
      const selects = q.q !== undefined || q.geo !== undefined;
      const current = await currentIds(tenant, q);
      const ids = selects && current ? (q.ids ? q.ids.filter((i) => current.includes(i)) : current) : q.ids;
      if (ids && ids.length === 0) return { bodies: [], ...(q.count ? { count: 0 } : {}) };
      const w = windowOf(tq.spec.time);
      const withAttrs = tq.attrs && tq.attrs.length > 0 ? tq.attrs : undefined;
      const ordered = q.orderBy !== undefined && current !== undefined;
      const hq: HistoryEntityQuery = {
        ...(ids ? { ids } : {}),
        ...(q.idPattern !== undefined ? { idPattern: q.idPattern } : {}),
        ...(q.type ? { type: q.type } : {}),
        ...(q.scopeQ ? { scopeQ: q.scopeQ } : {}),
        ...(q.anyOf ? { anyOf: q.anyOf } : {}),
        ...(withAttrs ? { withAnyAttr: withAttrs } : {}),
        ...(tq.datasetIds ? { withDatasetIds: tq.datasetIds } : {}),
        ...(tq.spec.time
          ? {
              window: {
                timeproperty: tq.spec.timeproperty,
                ...(w.from !== undefined ? { from: w.from } : {}),
                ...(w.to !== undefined ? { to: w.to } : {}),
                ...(w.fromExclusive ? { fromExclusive: true } : {}),
              },
            }
          : {}),
        // Ordered on the current state: every match is read, then ordered and paged here.
        limit: ordered ? MAX_MATCHED : q.limit,
        offset: ordered ? 0 : q.offset,
        count: q.count,
      };
      const found = await store.history.queryEntities(tenant, hq);
      let list = found.entities;
      if (ordered) {
        const rank = new Map(current.map((id, i) => [id, i]));
        // Entities deleted since (history only) follow the ordered ones, by id.
        const r = (e: HistoryEntity) => rank.get(e.id) ?? Number.MAX_SAFE_INTEGER;
        list = [...list].sort((a, b) => r(a) - r(b) || a.id.localeCompare(b.id));
        list = list.slice(q.offset, q.offset + q.limit);
      }
      const out = await render(tenant, list, tq, ctx);
      return { ...out, ...(found.count !== undefined ? { count: found.count } : {}) };
    },

    /** NGSI-LD §5.7.3 Retrieve Temporal Evolution of an Entity. */
    async retrieve(
      tenant: string,
      id: string,
      tq: TemporalQuery,
      ctx: ActiveContext,
    ): Promise<TemporalResult> {
      const e = await store.history.getEntity(tenant, id);
      if (!e) throw notFound(`No temporal evolution of entity ${id}`, id);
      if (tq.attrs && tq.attrs.length > 0) {
        const any = await store.history.instances(
          tenant,
          [id],
          { timeproperty: 'observedAt', attrs: tq.attrs },
          { limit: 1 },
        );
        if (any.length === 0) throw notFound(`Entity ${id} has no history of the requested attributes`, id);
      }
      return render(tenant, [e], tq, ctx);
    },
  };
}
