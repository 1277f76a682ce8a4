/**
 * Operator and background work on the history: monthly partitions created ahead (and rows that
 * landed in the default partition filed into their month), retention policies applied by
 * dropping whole expired partitions, rollup rebuilds, and advisory locks for singleton jobs.
 */
import type pg from 'pg';
import type { HistoryMaintenance, RetentionPolicy, RollupGrain } from '../core/history-store.js';
import type { Run } from './history-sql.js';
import { recomputeRollups } from './history-rollups.js';
import { withTransaction } from './database.js';

const PARENT = 'attribute_history';
const DEFAULT_PARTITION = 'attribute_history_default';

function monthStart(y: number, m: number): Date {
  return new Date(Date.UTC(y, m, 1));
}

function partitionName(d: Date): string {
  return `${PARENT}_p${d.getUTCFullYear()}_${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

/**
 * Creates the partition of the month starting at `from`, moving rows of that month out of the
 * default partition first (an attach would fail on them). One transaction; a no-op if it exists.
 */
async function createMonth(pool: pg.Pool, from: Date): Promise<string | undefined> {
  const name = partitionName(from);
  const to = monthStart(from.getUTCFullYear(), from.getUTCMonth() + 1);
  try {
    return await withTransaction(pool, async (client) => {
      const exists = await client.query('SELECT 1 FROM pg_class WHERE relname = $1', [name]);
      if ((exists.rowCount ?? 0) > 0) return undefined;
      const f = from.toISOString();
      const t = to.toISOString();
      // Names and bounds are generated here from dates, never from input.
      await client.query(`CREATE TABLE ${name} (LIKE ${PARENT} INCLUDING DEFAULTS)`);
      await client.query(
        `WITH moved AS (DELETE FROM ${DEFAULT_PARTITION} WHERE ts >= '${f}' AND ts < '${t}' RETURNING *)
       INSERT INTO ${name} SELECT * FROM moved`,
      );
      await client.query(
        `ALTER TABLE ${PARENT} ATTACH PARTITION ${name} FOR VALUES FROM ('${f}') TO ('${t}')`,
      );
      return name;
    });
  } catch (err) {
    // Another instance created it at the same moment: that is the outcome we wanted.
    if ((err as { code?: string }).code === '42P07') return undefined;
    throw err;
  }
}

/** Bounds of a partition from its FOR VALUES expression. */
function boundsOf(expr: string): { from: string | null; to: string | null } {
  const m = /FROM \('([^']+)'\) TO \('([^']+)'\)/.exec(expr);
  return m
    ? { from: new Date(m[1] as string).toISOString(), to: new Date(m[2] as string).toISOString() }
    : { from: null, to: null };
}

export function createHistoryMaintenance(pool: pg.Pool, run: Run): HistoryMaintenance {
  async function listPartitions() {
    const r = await run<{ name: string; bound: string }>(
      `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
       WHERE p.relname = $1 ORDER BY c.relname`,
      [PARENT],
    );
    const out = [];
    for (const row of r.rows) {
      const n = await run<{ n: string }>(`SELECT count(*) AS n FROM ${row.name}`);
      out.push({ name: row.name, ...boundsOf(row.bound), rows: Number(n.rows[0]?.n ?? 0) });
    }
    return out;
  }

  return {
    async ensurePartitions(now, monthsBack, monthsAhead) {
      const created: string[] = [];
      const months = new Set<number>();
      for (let i = -monthsBack; i <= monthsAhead; i++)
        months.add(monthStart(now.getUTCFullYear(), now.getUTCMonth() + i).getTime());
      // Rows written outside the prepared window (back-filled history) get their month too, so
      // that retention can drop them with it.
      const stray = await run<{ m: string }>(
        `SELECT DISTINCT date_trunc('month', ts, 'UTC') AS m FROM ${DEFAULT_PARTITION}`,
      );
      for (const row of stray.rows) months.add(new Date(row.m).getTime());
      for (const m of [...months].sort((a, b) => a - b)) {
        const name = await createMonth(pool, new Date(m));
        if (name) created.push(name);
      }
      return created;
    },

    listPartitions,

    async setRetention(p) {
      await run(
        `INSERT INTO history_retention (tenant, entity_type, attr, keep, keep_seconds) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant, entity_type, attr) DO UPDATE SET keep = EXCLUDED.keep, keep_seconds = EXCLUDED.keep_seconds`,
        [p.tenant, p.entityType, p.attr, p.keep, p.keepSeconds],
      );
    },

    async removeRetention(tenant, entityType, attr) {
      const r = await run(
        'DELETE FROM history_retention WHERE tenant = $1 AND entity_type = $2 AND attr = $3',
        [tenant, entityType, attr],
      );
      return (r.rowCount ?? 0) > 0;
    },

    async listRetention() {
      const r = await run<{
        tenant: string;
        entity_type: string;
        attr: string;
        keep: string;
        keep_seconds: string;
      }>('SELECT * FROM history_retention ORDER BY tenant, entity_type, attr');
      return r.rows.map((x): RetentionPolicy => ({
        tenant: x.tenant,
        entityType: x.entity_type,
        attr: x.attr,
        keep: x.keep,
        keepSeconds: Number(x.keep_seconds),
      }));
    },

    async applyRetention(now) {
      const policies = await this.listRetention();
      const dropped: string[] = [];
      let deletedRows = 0;
      const global = policies.find((p) => p.tenant === '*' && p.entityType === '*' && p.attr === '*');
      if (global) {
        // A longer narrower policy protects a partition: drop only what every policy has expired.
        const longest = Math.max(...policies.map((p) => p.keepSeconds));
        const dropBefore = now.getTime() - longest * 1000;
        for (const part of await listPartitions()) {
          if (part.to === null || Date.parse(part.to) > dropBefore) continue;
          await run(`DROP TABLE ${part.name}`);
          dropped.push(part.name);
        }
        await run('DELETE FROM history_rollups WHERE bucket < $1::timestamptz', [
          new Date(dropBefore).toISOString(),
        ]);
      }
      // Narrower policies expire part of a partition: those rows go in one bulk delete per policy,
      // unless a more specific policy covers them.
      const spec = (p: { tenant: string; entityType: string; attr: string }) =>
        (p.attr !== '*' ? 4 : 0) + (p.entityType !== '*' ? 2 : 0) + (p.tenant !== '*' ? 1 : 0);
      for (const p of policies) {
        if (p === global) continue;
        const cutoff = new Date(now.getTime() - p.keepSeconds * 1000).toISOString();
        const params: unknown[] = [cutoff, spec(p)];
        const conds = ['h.ts < $1::timestamptz'];
        if (p.tenant !== '*') conds.push(`h.tenant = $${params.push(p.tenant)}`);
        if (p.attr !== '*') conds.push(`h.attr = $${params.push(p.attr)}`);
        if (p.entityType !== '*')
          conds.push(
            `EXISTS (SELECT 1 FROM history_entities he WHERE he.tenant = h.tenant AND he.id = h.entity_id AND he.types @> ARRAY[$${params.push(p.entityType)}::text])`,
          );
        const moreSpecific = `NOT EXISTS (SELECT 1 FROM history_retention q
            WHERE ((q.attr <> '*')::int * 4 + (q.entity_type <> '*')::int * 2 + (q.tenant <> '*')::int) > $2
              AND (q.tenant = '*' OR q.tenant = h.tenant) AND (q.attr = '*' OR q.attr = h.attr)
              AND (q.entity_type = '*' OR EXISTS (SELECT 1 FROM history_entities he2
                   WHERE he2.tenant = h.tenant AND he2.id = h.entity_id AND he2.types @> ARRAY[q.entity_type])))`;
        const r = await run<{ tenant: string; entity_id: string; attr: string }>(
          `DELETE FROM attribute_history h WHERE ${conds.join(' AND ')} AND ${moreSpecific}
           RETURNING h.tenant, h.entity_id, h.attr`,
          params,
        );
        deletedRows += r.rowCount ?? 0;
        const series = new Map<string, [string, string][]>();
        for (const row of r.rows) {
          const list = series.get(row.tenant) ?? [];
          if (!list.some((s) => s[0] === row.entity_id && s[1] === row.attr))
            list.push([row.entity_id, row.attr]);
          series.set(row.tenant, list);
        }
        for (const [tenant, list] of series) await recomputeRollups(run, { tenant, series: list });
      }
      return { droppedPartitions: dropped, deletedRows };
    },

    rebuildRollups(tenant) {
      return withTransaction(pool, (client) =>
        recomputeRollups((sql, params) => client.query(sql, params), tenant === undefined ? {} : { tenant }),
      );
    },

    async rollupStats() {
      const r = await run<{ grain: RollupGrain; rows: string; first: string | null; last: string | null }>(
        `SELECT g.grain, count(r.*) AS rows, min(r.bucket) AS first, max(r.bucket) AS last
         FROM (VALUES ('minute'), ('hour')) AS g(grain) LEFT JOIN history_rollups r ON r.grain = g.grain
         GROUP BY g.grain ORDER BY g.grain`,
      );
      return r.rows.map((x) => ({
        grain: x.grain,
        rows: Number(x.rows),
        first: x.first === null ? null : new Date(x.first).toISOString(),
        last: x.last === null ? null : new Date(x.last).toISOString(),
      }));
    },

    async withJobLock(key, fn) {
      const client = await pool.connect();
      try {
        const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [key]);
        if (!r.rows[0]?.ok) return undefined;
        try {
          return await fn();
        } finally {
          await client.query('SELECT pg_advisory_unlock($1)', [key]).catch(() => undefined);
        }
      } finally {
        client.release();
      }
    },
  };
}
