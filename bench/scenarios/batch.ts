/**
 * batch: batch upsert (POST /ngsi-ld/v1/entityOperations/upsert) of 1,000-entity batches of new
 * entities, two batches in flight, against a bare pg client inserting the same rows (the rows the
 * hub's parser makes of the same entities) with one multi-row INSERT … ON CONFLICT DO UPDATE per
 * batch into a table of the same shape and indexes, also two in flight. Target: ratio >= 0.3.
 *
 * Correctness: after the runs, every entity of every acknowledged batch is in its table.
 */
import type { HttpPlanFactory } from '../lib/http-load.js';
import type { PgPlanFactory } from '../lib/pg-load.js';
import { alternate, ratioRow } from '../lib/repeat.js';
import type { BenchContext, Scenario } from '../lib/scenario.js';
import {
  baselineTableSql,
  cityEntity,
  coreContext,
  ENTITY_ROW_COLUMNS,
  storedRow,
} from '../lib/city-entities.js';
import { UPSERT_PATH } from '../lib/seed.js';

const BATCH = 1000;
const IN_FLIGHT = 2;
const TARGET = 0.3;
const TABLE = 'bench_batch_baseline';
const COLUMNS = 8;

interface PlanArgs {
  /** Id prefix of this run's entities, so that every run creates new ones. */
  prefix: string;
  batches: number;
}

const entitiesOf = (prefix: string, b: number) =>
  Array.from({ length: BATCH }, (_, k) => cityEntity(b * BATCH + k, prefix));

/** Hub side: batch `seq` is entities seq*1000 … seq*1000+999 of the run's prefix. */
export const upsertBatchPlan: HttpPlanFactory<PlanArgs> = ({ prefix, batches }) => {
  const bodies = Array.from({ length: batches }, (_, b) => JSON.stringify(entitiesOf(prefix, b)));
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    request: (seq) => ({ path: UPSERT_PATH, body: bodies[seq % batches] as string }),
  };
};

/** Baseline side: one multi-row INSERT of the stored rows of the same batch. */
export const insertBatchPlan: PgPlanFactory<PlanArgs> = async ({ prefix, batches }) => {
  const ctx = await coreContext();
  const now = new Date().toISOString();
  const params = Array.from({ length: batches }, (_, b) =>
    entitiesOf(prefix, b).flatMap((e) => {
      const r = storedRow(e, ctx, now);
      return [r.tenant, r.id, r.types, r.scopes, r.created_at, r.modified_at, r.attrs, r.attr_names];
    }),
  );
  const tuples = Array.from(
    { length: BATCH },
    (_, k) => `(${Array.from({ length: COLUMNS }, (_, c) => `$${k * COLUMNS + c + 1}`).join(', ')})`,
  );
  const text = `INSERT INTO ${TABLE} (${ENTITY_ROW_COLUMNS}) VALUES ${tuples.join(', ')}
    ON CONFLICT (tenant, id) DO UPDATE SET types = EXCLUDED.types, scopes = EXCLUDED.scopes,
      modified_at = EXCLUDED.modified_at, attrs = EXCLUDED.attrs, attr_names = EXCLUDED.attr_names`;
  return { query: (seq) => ({ text, values: params[seq % batches] as unknown[] }) };
};

export const scenario: Scenario = {
  name: 'batch',
  order: 30,
  summary: `batch upsert of ${BATCH.toLocaleString('en-US')}-entity batches, ${IN_FLIGHT} in flight, vs multi-row INSERT of the same rows`,
  async run(ctx: BenchContext) {
    const db = await ctx.createDatabase('batch');
    const hub = await ctx.startHub(db.url);
    await db.pool.query(baselineTableSql(TABLE));
    const batches = ctx.settings.quick ? 6 : 20;
    let run = 0;
    const expected: { table: string; prefix: string; count: number }[] = [];
    const hubRun = async (n: number) => {
      const prefix = `urn:ngsi-ld:BenchBatch:h${++run}:`;
      const r = await ctx.httpLoad({
        url: hub.url,
        connections: IN_FLIGHT,
        amount: n,
        request: { module: import.meta.url, export: 'upsertBatchPlan', args: { prefix, batches: n } },
      });
      if (r.ok !== n || r.errors > 0)
        throw new Error(`hub: ${r.ok} of ${n} batches acknowledged, ${r.errors} errors`);
      expected.push({ table: 'entities', prefix, count: n * BATCH });
      return (r.ok * BATCH) / r.seconds;
    };
    const baseRun = async (n: number) => {
      const prefix = `urn:ngsi-ld:BenchBatch:b${++run}:`;
      const r = await ctx.pgLoad({
        databaseUrl: db.url,
        concurrency: IN_FLIGHT,
        amount: n,
        plan: { module: import.meta.url, export: 'insertBatchPlan', args: { prefix, batches: n } },
      });
      if (r.ok !== n) throw new Error(`baseline: ${r.ok} of ${n} batches, first error: ${r.firstError}`);
      expected.push({ table: TABLE, prefix, count: n * BATCH });
      return (r.ok * BATCH) / r.seconds;
    };
    await hubRun(2);
    await baseRun(2);
    const runs = await alternate(
      ctx,
      'batch',
      { hub: () => hubRun(batches), baseline: () => baseRun(batches) },
      (r) => r,
      'entities/s',
    );
    await hub.stop();
    let verified = 0;
    for (const e of expected) {
      const { rows } = await db.pool.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${e.table} WHERE tenant = '' AND id LIKE $1`,
        [`${e.prefix}%`],
      );
      const n = Number(rows[0]?.n);
      if (n !== e.count) throw new Error(`${e.table}: ${n} of ${e.count} entities of ${e.prefix} are stored`);
      verified += n;
    }
    return {
      results: [ratioRow('batch', runs.hub, runs.baseline, TARGET, 'entities/s')],
      notes: [
        `batch: ${batches} batches per run; verified all ${verified.toLocaleString('en-US')} upserted entities are stored`,
      ],
    };
  },
};
