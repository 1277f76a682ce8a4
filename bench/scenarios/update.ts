/**
 * update: PATCH one attribute (partial attribute update, NGSI-LD §6.7.3.1) of 10,000 entities at 50
 * connections, durable (fsync on, synchronous commit), against a bare pg client upserting the same
 * rows (same attrs jsonb, same table shape and indexes, in its own table of the same database) at
 * the same concurrency over a pool as large as the hub's. Once temporal history lands, the hub's
 * figure includes the history row written in the same transaction. Target: ratio >= 0.5.
 *
 * Correctness: every write acknowledged to either side must be in its table afterwards (each write
 * carries a value larger than any earlier one for that entity, so the stored value must be at least
 * the largest acknowledged one).
 */
import type pg from 'pg';
import type { HttpPlanFactory } from '../lib/http-load.js';
import type { PgPlanFactory } from '../lib/pg-load.js';
import { alternate, ratioRow } from '../lib/repeat.js';
import type { BenchContext, Scenario } from '../lib/scenario.js';
import { baselineTableSql, coreContext, ENTITY_ROW_COLUMNS, ID_PREFIX } from '../lib/city-entities.js';
import { seedThroughHub } from '../lib/seed.js';
import { DEFAULT_POOL_SIZE } from '../../src/store/database.js';

const ENTITIES = 10_000;
const CONNECTIONS = 50;
/** The hub's pool size (its one pool, src/store/database.ts), for the baseline's pool. */
const HUB_POOL = DEFAULT_POOL_SIZE;
const TARGET = 0.5;
const TABLE = 'bench_update_baseline';
/** Each run writes values from its own band, larger than every earlier band. */
const BAND = 100_000_000;

interface PlanArgs {
  count: number;
  start: number;
  attrIri: string;
}

const indexOf = (seq: number, count: number) => seq % count;

/** Hub side (runs in the load child): PATCH …/attrs/temperature {"value": start + seq}. */
export const patchPlan: HttpPlanFactory<PlanArgs> = ({ count, start }) => {
  const acked = new Array<number>(count).fill(-1);
  return {
    method: 'PATCH',
    headers: { 'content-type': 'application/json' },
    request(seq) {
      const id = encodeURIComponent(`${ID_PREFIX}${indexOf(seq, count)}`);
      return { path: `/ngsi-ld/v1/entities/${id}/attrs/temperature`, body: `{"value":${start + seq}}` };
    },
    onResponse(seq, status) {
      const i = indexOf(seq, count);
      if (status === 204 && start + seq > (acked[i] ?? -1)) acked[i] = start + seq;
    },
    summary: () => acked,
  };
};

interface HeldRow {
  id: string;
  types: string[];
  scopes: string[] | null;
  created_at: string;
  attrs: Record<string, { value?: unknown; modifiedAt?: string }[]>;
  attr_names: string[];
}

/** Baseline side (runs in the pg child): upsert the whole row with the new value, as the hub writes it. */
export const upsertPlan: PgPlanFactory<PlanArgs> = async ({ count, start, attrIri }, pool: pg.Pool) => {
  const { rows } = await pool.query<HeldRow>(
    `SELECT id, types, scopes, created_at::text AS created_at, attrs, attr_names FROM ${TABLE}`,
  );
  const byIndex = new Array<HeldRow>(count);
  for (const r of rows) byIndex[Number(r.id.slice(ID_PREFIX.length))] = r;
  const acked = new Array<number>(count).fill(-1);
  const text = `INSERT INTO ${TABLE} (${ENTITY_ROW_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
    ON CONFLICT (tenant, id) DO UPDATE SET types = EXCLUDED.types, scopes = EXCLUDED.scopes,
      modified_at = EXCLUDED.modified_at, attrs = EXCLUDED.attrs, attr_names = EXCLUDED.attr_names`;
  return {
    query(seq) {
      const row = byIndex[indexOf(seq, count)];
      if (!row) throw new Error(`baseline row ${indexOf(seq, count)} is missing`);
      const now = new Date().toISOString();
      const inst = row.attrs[attrIri]?.[0];
      if (inst) {
        inst.value = start + seq;
        inst.modifiedAt = now;
      }
      const values = [
        '',
        row.id,
        row.types,
        row.scopes,
        row.created_at,
        now,
        JSON.stringify(row.attrs),
        row.attr_names,
      ];
      return { text, values };
    },
    onResult(seq) {
      const i = indexOf(seq, count);
      if (start + seq > (acked[i] ?? -1)) acked[i] = start + seq;
    },
    summary: () => acked,
  };
};

/** Checks every acknowledged value is stored (or a later one); returns the number checked. */
async function verify(pool: pg.Pool, table: string, attrIri: string, acked: number[]): Promise<number> {
  const { rows } = await pool.query<{ id: string; v: number | null }>(
    `SELECT id, (attrs -> $1::text -> 0 -> 'value')::float8 AS v FROM ${table}`,
    [attrIri],
  );
  if (rows.length !== acked.length)
    throw new Error(`${table}: ${rows.length} rows, expected ${acked.length}`);
  let lost = 0;
  for (const r of rows) {
    const want = acked[Number(r.id.slice(ID_PREFIX.length))] ?? -1;
    if (want >= 0 && (r.v === null || r.v < want)) lost++;
  }
  if (lost > 0) throw new Error(`${table}: ${lost} acknowledged writes are not in the store`);
  return acked.filter((v) => v >= 0).length;
}

export const scenario: Scenario = {
  name: 'update',
  order: 20,
  summary: `PATCH one attribute of ${ENTITIES.toLocaleString('en-US')} entities, ${CONNECTIONS} connections, durable, vs bare pg upserts of the same rows`,
  async run(ctx: BenchContext) {
    const db = await ctx.createDatabase('update');
    const hub = await ctx.startHub(db.url);
    await seedThroughHub(hub.url, ENTITIES);
    await db.pool.query(baselineTableSql(TABLE));
    await db.pool.query(`INSERT INTO ${TABLE} SELECT * FROM entities`);
    await db.pool.query(`ANALYZE entities; ANALYZE ${TABLE}`);
    const attrIri = (await coreContext()).expand('temperature');

    let band = 0;
    const ackedHub = new Array<number>(ENTITIES).fill(-1);
    const ackedBase = new Array<number>(ENTITIES).fill(-1);
    const merge = (into: number[], from: unknown) => {
      (from as number[]).forEach((v, i) => {
        if (v > (into[i] ?? -1)) into[i] = v;
      });
    };
    const args = (): PlanArgs => ({ count: ENTITIES, start: ++band * BAND, attrIri });
    const hubRun = async (seconds: number) => {
      const r = await ctx.httpLoad({
        url: hub.url,
        connections: CONNECTIONS,
        seconds,
        request: { module: import.meta.url, export: 'patchPlan', args: args() },
      });
      if (r.non2xx > 0 || r.errors > 0)
        throw new Error(`hub: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
      merge(ackedHub, r.summary);
      return r.rate;
    };
    const baseRun = async (seconds: number) => {
      const r = await ctx.pgLoad({
        databaseUrl: db.url,
        concurrency: CONNECTIONS,
        poolSize: HUB_POOL,
        seconds,
        plan: { module: import.meta.url, export: 'upsertPlan', args: args() },
      });
      if (r.errors > 0) throw new Error(`baseline: ${r.errors} errors, first: ${r.firstError}`);
      merge(ackedBase, r.summary);
      return r.rate;
    };
    await hubRun(ctx.settings.warmupSeconds);
    await baseRun(ctx.settings.warmupSeconds);
    const runs = await alternate(
      ctx,
      'update',
      { hub: () => hubRun(ctx.settings.seconds), baseline: () => baseRun(ctx.settings.seconds) },
      (r) => r,
      'writes/s',
    );
    await hub.stop();
    const checkedHub = await verify(db.pool, 'entities', attrIri, ackedHub);
    const checkedBase = await verify(db.pool, TABLE, attrIri, ackedBase);
    return {
      results: [ratioRow('update', runs.hub, runs.baseline, TARGET, 'writes/s')],
      notes: [
        `update: verified the last acknowledged write of ${checkedHub} (hub) and ${checkedBase} (baseline) entities is stored`,
      ],
    };
  },
};
