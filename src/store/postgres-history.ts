/**
 * The PostgreSQL adapter of the history port: instances in the time-partitioned
 * `attribute_history`, entity facts in `history_entities`, rollups in `history_rollups`. This
 * file holds the reads; writes are in history-writes.ts, aggregation in history-aggregate.ts,
 * operator work in history-maintenance.ts.
 */
import type pg from 'pg';
import type { HistoryEntity, HistoryStore, InstanceSelection } from '../core/history-store.js';
import { buildEntityFilter } from './entity-filter.js';
import { aggregateHistory } from './history-aggregate.js';
import { createExpiryFilters } from './history-expiry.js';
import { createHistoryMaintenance } from './history-maintenance.js';
import type { EntityRow, InstanceRow, Run } from './history-sql.js';
import { INSTANCE_COLUMNS, TIME_COLUMN, selectionSql, toEntity, toInstance } from './history-sql.js';
import { historyTxOps } from './history-writes.js';

export type { Run } from './history-sql.js';
export { historyTxOps } from './history-writes.js';
export { recomputeRollups } from './history-rollups.js';

/** The history store on the pool: the transaction operations plus queries and maintenance. */
export function createPostgresHistory(pool: pg.Pool, run: Run): HistoryStore {
  const expiry = createExpiryFilters(run);
  const maintenance = createHistoryMaintenance(pool, run);
  return {
    ...historyTxOps(run),

    async queryEntities(tenant, q) {
      const params: unknown[] = [tenant];
      const { where } = buildEntityFilter(
        {
          ...(q.ids ? { ids: q.ids } : {}),
          ...(q.idPattern !== undefined ? { idPattern: q.idPattern } : {}),
          ...(q.type ? { type: q.type } : {}),
          ...(q.scopeQ ? { scopeQ: q.scopeQ } : {}),
          ...(q.anyOf ? { anyOf: q.anyOf } : {}),
          limit: 0,
          offset: 0,
          count: false,
        },
        params,
      );
      const conds = [where];
      if (q.withAnyAttr || q.withDatasetIds || q.window) {
        const sub = [`h.tenant = e.tenant`, `h.entity_id = e.id`];
        const sel: InstanceSelection = {
          timeproperty: q.window?.timeproperty ?? 'observedAt',
          ...(q.withAnyAttr ? { attrs: q.withAnyAttr } : {}),
          ...(q.withDatasetIds ? { datasetIds: q.withDatasetIds } : {}),
          ...(q.window?.from !== undefined ? { from: q.window.from } : {}),
          ...(q.window?.to !== undefined ? { to: q.window.to } : {}),
          ...(q.window?.fromExclusive ? { fromExclusive: true } : {}),
        };
        sub.push(...selectionSql(sel, params).map((c) => `h.${c}`));
        const expired = await expiry.forTenant(tenant);
        if (expired) sub.push(expired.sql(params, 'h.'));
        conds.push(`EXISTS (SELECT 1 FROM attribute_history h WHERE ${sub.join(' AND ')})`);
      }
      const w = conds.join(' AND ');
      const countParams = [...params];
      const limitAt = params.push(q.limit);
      const offsetAt = params.push(q.offset);
      const r = await run<EntityRow>(
        `SELECT e.id, e.types, e.scopes, e.created_at, e.modified_at, e.deleted_at FROM history_entities e
         WHERE ${w} ORDER BY e.id LIMIT $${limitAt} OFFSET $${offsetAt}`,
        params,
      );
      const out: { entities: HistoryEntity[]; count?: number } = { entities: r.rows.map(toEntity) };
      if (q.count) {
        const c = await run<{ n: string }>(
          `SELECT count(*) AS n FROM history_entities e WHERE ${w}`,
          countParams,
        );
        out.count = Number(c.rows[0]?.n ?? 0);
      }
      return out;
    },

    async instances(tenant, entityIds, sel, page) {
      if (entityIds.length === 0) return [];
      const params: unknown[] = [tenant, entityIds];
      const conds = ['tenant = $1', 'entity_id = ANY($2::text[])', ...selectionSql(sel, params)];
      const expired = await expiry.forTenant(tenant);
      if (expired) conds.push(expired.sql(params));
      const t = `coalesce(${TIME_COLUMN[sel.timeproperty]}, ts)`;
      const newest = page.lastN !== undefined;
      const n = params.push(newest ? Math.min(page.lastN ?? 0, page.limit) + 1 : page.limit + 1);
      if (sel.attrs && sel.timeproperty === 'observedAt') {
        // Known series: walk the (tenant, entity, attr, ts) index from the right end of each and stop
        // after n rows, instead of numbering every instance in the window. For observedAt,
        // coalesce(observed_at, ts) is ts itself (ts is observedAt where there is one).
        const r = await run<InstanceRow>(
          `SELECT x.* FROM unnest($2::text[]) AS e(id)
             CROSS JOIN unnest($${params.push(sel.attrs)}::text[]) AS a(name)
             CROSS JOIN LATERAL (
               SELECT ${INSTANCE_COLUMNS}, ts FROM attribute_history
               WHERE ${conds.join(' AND ')} AND entity_id = e.id AND attr = a.name
               ORDER BY ts ${newest ? 'DESC' : 'ASC'}, instance_id LIMIT $${n}) x
           ORDER BY x.entity_id, x.attr, x.ts, x.instance_id`,
          params,
        );
        return r.rows.map(toInstance);
      }
      const r = await run<InstanceRow>(
        `SELECT ${INSTANCE_COLUMNS} FROM (
           SELECT *, row_number() OVER (PARTITION BY entity_id, attr ORDER BY ${t} ${newest ? 'DESC' : 'ASC'}, instance_id) AS rn
           FROM attribute_history WHERE ${conds.join(' AND ')}
         ) x WHERE rn <= $${n} ORDER BY entity_id, attr, ${t}, instance_id`,
        params,
      );
      return r.rows.map(toInstance);
    },

    async timeRange(tenant, entityIds, sel) {
      const out = new Map<string, { first: number; last: number }>();
      if (entityIds.length === 0) return out;
      const params: unknown[] = [tenant, entityIds];
      const conds = [
        'tenant = $1',
        'entity_id = ANY($2::text[])',
        'deleted_at IS NULL',
        ...selectionSql(sel, params),
      ];
      const expired = await expiry.forTenant(tenant);
      if (expired) conds.push(expired.sql(params));
      const col = TIME_COLUMN[sel.timeproperty];
      const r = await run<{ entity_id: string; first: number; last: number }>(
        `SELECT entity_id, extract(epoch FROM min(${col})) * 1000 AS first, extract(epoch FROM max(${col})) * 1000 AS last
         FROM attribute_history WHERE ${conds.join(' AND ')} AND ${col} IS NOT NULL GROUP BY entity_id`,
        params,
      );
      for (const row of r.rows) out.set(row.entity_id, { first: Number(row.first), last: Number(row.last) });
      return out;
    },

    aggregate: async (tenant, entityIds, sel, bounds, methods, grain) =>
      aggregateHistory(run, tenant, entityIds, sel, bounds, methods, grain, await expiry.forTenant(tenant)),

    maintenance: {
      ...maintenance,
      // This process sees its own policy changes at once; others within POLICY_CACHE_MS.
      async setRetention(p) {
        await maintenance.setRetention(p);
        expiry.invalidate();
      },
      async removeRetention(tenant, entityType, attr) {
        const removed = await maintenance.removeRetention(tenant, entityType, attr);
        expiry.invalidate();
        return removed;
      },
    },
  };
}
