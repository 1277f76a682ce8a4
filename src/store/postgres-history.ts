/**
 * The PostgreSQL adapter of the history port: instances in the time-partitioned
 * `attribute_history`, entity facts in `history_entities`, and the per-minute and per-hour
 * `history_rollups` kept in step in the same statement batch as the instances.
 */
import type pg from 'pg';
import type { QueryResultRow } from 'pg';
import type {
  AggregateRow,
  HistoryEntity,
  HistoryInstance,
  HistoryStore,
  HistoryTx,
  InstanceSelection,
  RollupGrain,
} from '../core/history-store.js';
import type { StoredAttribute } from '../core/entity-model.js';
import type { AggrMethod } from '../core/temporal/temporal-query.js';
import { buildEntityFilter } from './entity-filter.js';
import { createHistoryMaintenance } from './history-maintenance.js';

export type Run = <R extends QueryResultRow>(sql: string, params?: unknown[]) => Promise<pg.QueryResult<R>>;

interface InstanceRow extends QueryResultRow {
  entity_id: string;
  attr: string;
  dataset_id: string;
  instance_id: string;
  observed_at: string | null;
  created_at: string;
  modified_at: string;
  deleted_at: string | null;
  instance: StoredAttribute;
}

interface EntityRow extends QueryResultRow {
  id: string;
  types: string[];
  scopes: string[] | null;
  created_at: string;
  modified_at: string;
  deleted_at: string | null;
}

const INSTANCE_COLUMNS =
  'entity_id, attr, dataset_id, instance_id, observed_at, created_at, modified_at, deleted_at, instance';

/** The column a timeproperty reads (NGSI-LD §4.11 timeproperty). */
const TIME_COLUMN = {
  observedAt: 'observed_at',
  createdAt: 'created_at',
  modifiedAt: 'modified_at',
  deletedAt: 'deleted_at',
} as const;

const iso = (s: string): string => new Date(s).toISOString();

/** Rollup upsert of the rows of a jsonb recordset: one row per key and grain, summed in. */
const ROLLUP_UPSERT = `
  INSERT INTO history_rollups AS r (tenant, entity_id, attr, dataset_id, grain, bucket, n, n_num, sum, sumsq, min, max)
  SELECT $1, x.e, x.a, x.d, g.grain, date_trunc(g.grain, x.o, 'UTC'),
         count(*), count(x.n), coalesce(sum(x.n), 0), coalesce(sum(x.n * x.n), 0), min(x.n), max(x.n)
  FROM jsonb_to_recordset($2::jsonb) AS x(e text, a text, d text, o timestamptz, n float8, del boolean)
  CROSS JOIN (VALUES ('minute'), ('hour')) AS g(grain)
  WHERE x.o IS NOT NULL AND NOT x.del
  GROUP BY 1, 2, 3, 4, 5, 6
  ON CONFLICT (tenant, entity_id, attr, dataset_id, grain, bucket) DO UPDATE SET
    n = r.n + EXCLUDED.n, n_num = r.n_num + EXCLUDED.n_num, sum = r.sum + EXCLUDED.sum,
    sumsq = r.sumsq + EXCLUDED.sumsq, min = least(r.min, EXCLUDED.min), max = greatest(r.max, EXCLUDED.max)`;

/**
 * Recomputes the rollups of some (entity, attribute) series from the raw instances. `filter` is a
 * SQL condition on `h`; with none, every series of the tenant (or all tenants) is rebuilt.
 */
export async function recomputeRollups(
  run: Run,
  scope: { tenant?: string; series?: [string, string][] },
): Promise<number> {
  const params: unknown[] = [];
  const where: string[] = [];
  if (scope.tenant !== undefined) where.push(`tenant = $${params.push(scope.tenant)}`);
  if (scope.series) {
    const e = params.push(scope.series.map((s) => s[0]));
    const a = params.push(scope.series.map((s) => s[1]));
    where.push(`(entity_id, attr) IN (SELECT * FROM unnest($${e}::text[], $${a}::text[]))`);
  }
  const w = where.length > 0 ? where.join(' AND ') : 'true';
  await run(`DELETE FROM history_rollups WHERE ${w}`, params);
  const r = await run(
    `INSERT INTO history_rollups (tenant, entity_id, attr, dataset_id, grain, bucket, n, n_num, sum, sumsq, min, max)
     SELECT tenant, entity_id, attr, dataset_id, g.grain, date_trunc(g.grain, observed_at, 'UTC'),
            count(*), count(num), coalesce(sum(num), 0), coalesce(sum(num * num), 0), min(num), max(num)
     FROM attribute_history CROSS JOIN (VALUES ('minute'), ('hour')) AS g(grain)
     WHERE ${w} AND observed_at IS NOT NULL AND deleted_at IS NULL
     GROUP BY 1, 2, 3, 4, 5, 6`,
    params,
  );
  return r.rowCount ?? 0;
}

/** The numeric value of an instance, if it is a Property holding a finite number. */
function numOf(i: StoredAttribute): number | null {
  return i.type === 'Property' && typeof i.value === 'number' && Number.isFinite(i.value) ? i.value : null;
}

function toRecord(r: HistoryInstance) {
  return {
    e: r.entityId,
    a: r.attr,
    d: r.datasetId ?? '',
    i: r.instanceId,
    ts: r.observedAt ?? r.deletedAt ?? r.modifiedAt,
    o: r.deletedAt === undefined ? (r.observedAt ?? null) : null,
    c: r.createdAt,
    m: r.modifiedAt,
    x: r.deletedAt ?? null,
    n: r.deletedAt === undefined ? numOf(r.instance) : null,
    j: r.instance,
    del: r.deletedAt !== undefined,
  };
}

function toInstance(row: InstanceRow): HistoryInstance {
  const out: HistoryInstance = {
    entityId: row.entity_id,
    attr: row.attr,
    instanceId: row.instance_id,
    createdAt: iso(row.created_at),
    modifiedAt: iso(row.modified_at),
    instance: row.instance,
  };
  if (row.dataset_id !== '') out.datasetId = row.dataset_id;
  if (row.observed_at !== null) out.observedAt = iso(row.observed_at);
  if (row.deleted_at !== null) out.deletedAt = iso(row.deleted_at);
  return out;
}

function toEntity(row: EntityRow): HistoryEntity {
  const e: HistoryEntity = {
    id: row.id,
    types: row.types,
    createdAt: iso(row.created_at),
    modifiedAt: iso(row.modified_at),
  };
  if (row.scopes && row.scopes.length > 0) e.scopes = row.scopes;
  if (row.deleted_at !== null) e.deletedAt = iso(row.deleted_at);
  return e;
}

/** WHERE conditions of an instance selection over `attribute_history` (no alias). */
function selectionSql(sel: InstanceSelection, params: unknown[]): string[] {
  const out: string[] = [];
  if (sel.attrs) out.push(`attr = ANY($${params.push(sel.attrs)}::text[])`);
  if (sel.omitAttrs) out.push(`attr <> ALL($${params.push(sel.omitAttrs)}::text[])`);
  if (sel.datasetIds)
    out.push(
      `dataset_id = ANY($${params.push(sel.datasetIds.map((d) => (d === '@none' ? '' : d)))}::text[])`,
    );
  const col = TIME_COLUMN[sel.timeproperty];
  // Deletions are instances of the deletedAt timeline only (NGSI-LD §4.5.7 deletedAt).
  out.push(sel.timeproperty === 'deletedAt' ? 'deleted_at IS NOT NULL' : 'deleted_at IS NULL');
  // observedAt is the partition key where present: the same bound on ts lets PostgreSQL prune partitions.
  const cols = sel.timeproperty === 'observedAt' ? [col, 'ts'] : [col];
  if (sel.from !== undefined) {
    const at = params.push(new Date(sel.from).toISOString());
    for (const c of cols) out.push(`${c} ${sel.fromExclusive ? '>' : '>='} $${at}::timestamptz`);
  }
  if (sel.to !== undefined) {
    const at = params.push(new Date(sel.to).toISOString());
    for (const c of cols) out.push(`${c} < $${at}::timestamptz`);
  }
  return out;
}

/** History operations on one connection (inside a transaction for writes). */
export function historyTxOps(run: Run): HistoryTx {
  return {
    async append(tenant, entities, rows, opts) {
      if (entities.length > 0) {
        await run(
          `INSERT INTO history_entities AS h (tenant, id, types, scopes, created_at, modified_at, deleted_at)
           SELECT $1, x.id, x.types, x.scopes, x.c, x.m, x.x
           FROM jsonb_to_recordset($2::jsonb) AS x(id text, types text[], scopes text[], c timestamptz, m timestamptz, x timestamptz)
           ON CONFLICT (tenant, id) DO UPDATE SET types = EXCLUDED.types, scopes = EXCLUDED.scopes,
             modified_at = EXCLUDED.modified_at, deleted_at = EXCLUDED.deleted_at`,
          [
            tenant,
            JSON.stringify(
              entities.map((e) => ({
                id: e.id,
                types: e.types,
                scopes: e.scopes ?? null,
                c: e.createdAt,
                m: e.modifiedAt,
                x: e.deletedAt ?? null,
              })),
            ),
          ],
        );
      }
      if (rows.length === 0) return;
      const records = JSON.stringify(rows.map(toRecord));
      let replaced: [string, string][] = [];
      if (opts?.replaceSameObservedAt) {
        const r = await run<{ entity_id: string; attr: string }>(
          `DELETE FROM attribute_history h USING jsonb_to_recordset($2::jsonb) AS x(e text, a text, d text, o timestamptz)
           WHERE h.tenant = $1 AND h.entity_id = x.e AND h.attr = x.a AND h.dataset_id = x.d
             AND x.o IS NOT NULL AND h.ts = x.o AND h.observed_at = x.o
           RETURNING h.entity_id, h.attr`,
          [tenant, records],
        );
        replaced = [...new Set(r.rows.map((x) => `${x.entity_id}\u0000${x.attr}`))].map(
          (k) => k.split('\u0000') as [string, string],
        );
      }
      await run(
        `INSERT INTO attribute_history (tenant, entity_id, attr, dataset_id, instance_id, ts, observed_at, created_at, modified_at, deleted_at, num, instance)
         SELECT $1, x.e, x.a, x.d, x.i, x.ts, x.o, x.c, x.m, x.x, x.n, x.j
         FROM jsonb_to_recordset($2::jsonb) AS x(e text, a text, d text, i text, ts timestamptz, o timestamptz, c timestamptz, m timestamptz, x timestamptz, n float8, j jsonb)`,
        [tenant, records],
      );
      if (replaced.length > 0) await recomputeRollups(run, { tenant, series: replaced });
      else await run(ROLLUP_UPSERT, [tenant, records]);
    },

    async getEntity(tenant, id) {
      const r = await run<EntityRow>(
        'SELECT id, types, scopes, created_at, modified_at, deleted_at FROM history_entities WHERE tenant = $1 AND id = $2',
        [tenant, id],
      );
      return r.rows[0] ? toEntity(r.rows[0]) : undefined;
    },

    async deleteEntity(tenant, id) {
      const a = await run('DELETE FROM attribute_history WHERE tenant = $1 AND entity_id = $2', [tenant, id]);
      await run('DELETE FROM history_rollups WHERE tenant = $1 AND entity_id = $2', [tenant, id]);
      const e = await run('DELETE FROM history_entities WHERE tenant = $1 AND id = $2', [tenant, id]);
      return (a.rowCount ?? 0) + (e.rowCount ?? 0) > 0;
    },

    async deleteAttribute(tenant, id, attr, which) {
      const params: unknown[] = [tenant, id, attr];
      const ds = which.all ? '' : ` AND dataset_id = $${params.push(which.datasetId ?? '')}`;
      const r = await run(
        `DELETE FROM attribute_history WHERE tenant = $1 AND entity_id = $2 AND attr = $3${ds}`,
        params,
      );
      await recomputeRollups(run, { tenant, series: [[id, attr]] });
      return r.rowCount ?? 0;
    },

    async getInstance(tenant, id, attr, instanceId) {
      const r = await run<InstanceRow>(
        `SELECT ${INSTANCE_COLUMNS} FROM attribute_history
         WHERE tenant = $1 AND entity_id = $2 AND attr = $3 AND instance_id = $4`,
        [tenant, id, attr, instanceId],
      );
      return r.rows[0] ? toInstance(r.rows[0]) : undefined;
    },

    async replaceInstance(tenant, row) {
      const del = await run(
        'DELETE FROM attribute_history WHERE tenant = $1 AND entity_id = $2 AND attr = $3 AND instance_id = $4',
        [tenant, row.entityId, row.attr, row.instanceId],
      );
      if ((del.rowCount ?? 0) === 0) return false;
      // Delete and insert: a changed observedAt may move the instance to another partition.
      await run(
        `INSERT INTO attribute_history (tenant, entity_id, attr, dataset_id, instance_id, ts, observed_at, created_at, modified_at, deleted_at, num, instance)
         SELECT $1, x.e, x.a, x.d, x.i, x.ts, x.o, x.c, x.m, x.x, x.n, x.j
         FROM jsonb_to_recordset($2::jsonb) AS x(e text, a text, d text, i text, ts timestamptz, o timestamptz, c timestamptz, m timestamptz, x timestamptz, n float8, j jsonb)`,
        [tenant, JSON.stringify([toRecord(row)])],
      );
      await recomputeRollups(run, { tenant, series: [[row.entityId, row.attr]] });
      return true;
    },

    async deleteInstance(tenant, id, attr, instanceId) {
      const r = await run(
        'DELETE FROM attribute_history WHERE tenant = $1 AND entity_id = $2 AND attr = $3 AND instance_id = $4',
        [tenant, id, attr, instanceId],
      );
      if ((r.rowCount ?? 0) === 0) return false;
      await recomputeRollups(run, { tenant, series: [[id, attr]] });
      return true;
    },
  };
}

/** The history store on the pool: the transaction operations plus queries and maintenance. */
export function createPostgresHistory(pool: pg.Pool, run: Run): HistoryStore {
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
      if (q.withAnyAttr || q.window) {
        const sub = [`h.tenant = e.tenant`, `h.entity_id = e.id`];
        const sel: InstanceSelection = {
          timeproperty: q.window?.timeproperty ?? 'observedAt',
          ...(q.withAnyAttr ? { attrs: q.withAnyAttr } : {}),
          ...(q.window?.from !== undefined ? { from: q.window.from } : {}),
          ...(q.window?.to !== undefined ? { to: q.window.to } : {}),
          ...(q.window?.fromExclusive ? { fromExclusive: true } : {}),
        };
        sub.push(...selectionSql(sel, params).map((c) => `h.${c}`));
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
      const t = `coalesce(${TIME_COLUMN[sel.timeproperty]}, ts)`;
      const newest = page.lastN !== undefined;
      const n = params.push(newest ? Math.min(page.lastN ?? 0, page.limit) + 1 : page.limit + 1);
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
      const col = TIME_COLUMN[sel.timeproperty];
      const r = await run<{ entity_id: string; first: number; last: number }>(
        `SELECT entity_id, extract(epoch FROM min(${col})) * 1000 AS first, extract(epoch FROM max(${col})) * 1000 AS last
         FROM attribute_history WHERE ${conds.join(' AND ')} AND ${col} IS NOT NULL GROUP BY entity_id`,
        params,
      );
      for (const row of r.rows) out.set(row.entity_id, { first: Number(row.first), last: Number(row.last) });
      return out;
    },

    async aggregate(tenant, entityIds, sel, bounds, methods, grain) {
      if (entityIds.length === 0 || bounds.length < 2) return [];
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
    },

    maintenance: createHistoryMaintenance(pool, run),
  };
}

export type { RollupGrain, AggrMethod };
