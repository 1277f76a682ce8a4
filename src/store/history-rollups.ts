/**
 * The per-minute and per-hour rollups of the attribute history: summed in as instances are
 * appended, recomputed from the raw instances when instances are replaced or deleted.
 */
import type { Run } from './history-sql.js';

/** Rollup upsert of the rows of a jsonb recordset: one row per key and grain, summed in. */
export const ROLLUP_UPSERT = `
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
