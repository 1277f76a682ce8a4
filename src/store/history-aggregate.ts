/**
 * Aggregation of the attribute history per period in SQL (NGSI-LD §4.5.19): from the raw
 * instances, or from the rollups of a grain when the caller found that every bound falls on it.
 */
import type { AggregateRow, InstanceSelection, RollupGrain } from '../core/history-store.js';
import type { AggrMethod } from '../core/temporal/temporal-query.js';
import type { ExpiryFilter } from './history-expiry.js';
import type { Run } from './history-sql.js';
import { TIME_COLUMN, selectionSql } from './history-sql.js';

/**
 * Aggregates the selection per period [bounds[k], bounds[k+1]); rows carry the period index k.
 * With an expiry filter whose policies may have expired part of the range, the raw instances
 * are read even when a grain is given: a rollup bucket cannot leave out part of itself.
 */
export async function aggregateHistory(
  run: Run,
  tenant: string,
  entityIds: string[],
  sel: InstanceSelection,
  bounds: number[],
  methods: AggrMethod[],
  grain: RollupGrain | undefined,
  expiry?: ExpiryFilter,
  now: number = Date.now(),
): Promise<AggregateRow[]> {
  if (entityIds.length === 0 || bounds.length < 2) return [];
  if (expiry && (bounds[0] ?? 0) < now - expiry.minKeepMs) grain = undefined;
  const params: unknown[] = [tenant, entityIds];
  const b = params.push(bounds.map((x) => new Date(x).toISOString()));
  const first = `($${b}::timestamptz[])[1]`;
  const last = `($${b}::timestamptz[])[array_length($${b}::timestamptz[], 1)]`;
  let sql: string;
  if (grain) {
    const conds = ['tenant = $1', 'entity_id = ANY($2::text[])', `grain = $${params.push(grain)}`];
    if (sel.attrs) conds.push(`attr = ANY($${params.push(sel.attrs)}::text[])`);
    if (sel.omitAttrs) conds.push(`attr <> ALL($${params.push(sel.omitAttrs)}::text[])`);
    if (sel.datasetIds)
      conds.push(
        `dataset_id = ANY($${params.push(sel.datasetIds.map((d) => (d === '@none' ? '' : d)))}::text[])`,
      );
    // The service only picks a grain on which the window bounds fall, so whole buckets are exact.
    if (sel.from !== undefined)
      conds.push(`bucket >= $${params.push(new Date(sel.from).toISOString())}::timestamptz`);
    if (sel.to !== undefined)
      conds.push(`bucket < $${params.push(new Date(sel.to).toISOString())}::timestamptz`);
    sql = `SELECT entity_id, attr, dataset_id, width_bucket(bucket, $${b}::timestamptz[]) AS k,
               sum(n) AS n, NULL::bigint AS dc, sum(n_num) AS nn, sum(sum) AS s, sum(sumsq) AS ss, min(min) AS mn, max(max) AS mx
             FROM history_rollups WHERE ${conds.join(' AND ')} AND bucket >= ${first} AND bucket < ${last}
             GROUP BY 1, 2, 3, 4`;
  } else {
    const col = TIME_COLUMN[sel.timeproperty];
    const conds = [
      'tenant = $1',
      'entity_id = ANY($2::text[])',
      'deleted_at IS NULL',
      ...selectionSql(sel, params),
      ...(expiry ? [expiry.sql(params)] : []),
    ];
    const distinct = methods.includes('distinctCount')
      ? `count(DISTINCT coalesce(instance -> 'value', instance -> 'object', instance -> 'languageMap', instance -> 'vocab', instance -> 'json', instance -> 'valueList', instance -> 'objectList'))`
      : 'NULL::bigint';
    sql = `SELECT entity_id, attr, dataset_id, width_bucket(${col}, $${b}::timestamptz[]) AS k,
               count(*) AS n, ${distinct} AS dc, count(num) AS nn, coalesce(sum(num), 0) AS s,
               coalesce(sum(num * num), 0) AS ss, min(num) AS mn, max(num) AS mx
             FROM attribute_history WHERE ${conds.join(' AND ')} AND ${col} >= ${first} AND ${col} < ${last}
             ${sel.timeproperty === 'observedAt' ? `AND ts >= ${first} AND ts < ${last}` : ''}
             GROUP BY 1, 2, 3, 4`;
  }
  const r = await run<{
    entity_id: string;
    attr: string;
    dataset_id: string;
    k: number;
    n: string;
    dc: string | null;
    nn: string;
    s: number;
    ss: number;
    mn: number | null;
    mx: number | null;
  }>(sql, params);
  return r.rows.map((row): AggregateRow => {
    const out: AggregateRow = {
      entityId: row.entity_id,
      attr: row.attr,
      period: row.k - 1,
      count: Number(row.n),
      numCount: Number(row.nn),
      sum: Number(row.s),
      sumsq: Number(row.ss),
      min: row.mn === null ? null : Number(row.mn),
      max: row.mx === null ? null : Number(row.mx),
    };
    if (row.dataset_id !== '') out.datasetId = row.dataset_id;
    if (row.dc !== null) out.distinctCount = Number(row.dc);
    return out;
  });
}
