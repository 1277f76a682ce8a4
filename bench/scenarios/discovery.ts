/**
 * discovery: NGSI-LD discovery (§5.7.1-5.7.4) over 100,000 entities (quick: the dataset size) of
 * 10 types with 10,000 distinct attribute names (quick: a tenth of the entities), one request at a
 * time: `GET /types?details=true`, `/types/{type}`, `/attributes`, `/attributes?details=true` and
 * `/attributes/{attrId}`, each reported as milliseconds per request. Target: at most 100 ms each.
 * Baseline, measured alternately in the same run: a plain single-row SELECT by primary key on the
 * same entities table, one at a time (what any read of the database costs at least).
 *
 * Each entity has 4 attributes every entity has (a Property, a GeoProperty, a Relationship, a
 * VocabProperty) and 2 of the long tail: `x{i mod N}` (a Property) and `x{(i+1) mod N}` (a
 * Relationship), so that each long-tail name is held by 20 entities of 2 types with 2 kinds, and
 * each type has about N/5 attribute names: 2N (type, attribute) pairs.
 *
 * Then the same endpoints right after a change of names: each request follows the creation of an
 * entity with an attribute name never seen before (the hub then brings the names it keeps up to
 * date from the log of changes), 20 times each, timed from this process; reported as the median.
 *
 * Correctness: the hub's entityCount of a type and attributeCount of an attribute equal counts
 * made by SQL on the entities, and the attribute list has every name.
 */
import type pg from 'pg';
import type { HttpPlanFactory } from '../lib/http-load.js';
import type { PgPlanFactory } from '../lib/pg-load.js';
import { formatNumber } from '../lib/repeat.js';
import type { BenchContext, Scenario, ScenarioResult } from '../lib/scenario.js';
import { median } from '../lib/stats.js';
import { seedThroughHub } from '../lib/seed.js';

const TYPES = 10;
/** The longest acceptable answer time, ms per request. */
const LIMIT_MS = 100;
const ID_PREFIX = 'urn:ngsi-ld:DiscoveryThing:';
/** Requests timed right after a change of names, per endpoint. */
const CHURN_SAMPLES = 20;
const BASE = '/ngsi-ld/v1';
const ENDPOINTS = [
  'types?details=true',
  'types/{type}',
  'attributes',
  'attributes?details=true',
  'attributes/{attrId}',
] as const;
type Endpoint = (typeof ENDPOINTS)[number];

interface PlanArgs {
  endpoint: Endpoint;
  names: number;
}

const typeName = (t: number) => `DiscoveryThing${t}`;

/** Entity `i` of a dataset with `names` long-tail attribute names. */
function discoveryEntity(i: number, names: number) {
  return {
    id: `${ID_PREFIX}${i}`,
    type: typeName(i % TYPES),
    name: { type: 'Property', value: `thing ${i}` },
    location: {
      type: 'GeoProperty',
      value: { type: 'Point', coordinates: [113.5 + (i % 317) / 1000, 34.6 + (i % 331) / 1000] },
    },
    refDevice: { type: 'Relationship', object: `urn:ngsi-ld:Device:${i}` },
    category: { type: 'VocabProperty', vocab: 'sensor' },
    [`x${i % names}`]: { type: 'Property', value: i },
    [`x${(i + 1) % names}`]: { type: 'Relationship', object: `urn:ngsi-ld:Thing:${i}` },
  };
}

/** Request `seq` of an endpoint: one type or attribute lookups cycle over many names. */
function discoveryPath(endpoint: Endpoint, names: number, seq: number): string {
  if (endpoint === 'types/{type}') return `${BASE}/types/${typeName(seq % TYPES)}`;
  if (endpoint === 'attributes/{attrId}') return `${BASE}/attributes/x${(seq * 7919) % names}`;
  return `${BASE}/${endpoint}`;
}

/** Hub side. */
export const discoveryPlan: HttpPlanFactory<PlanArgs> = ({ endpoint, names }) => ({
  method: 'GET',
  request: (seq) => ({ path: discoveryPath(endpoint, names, seq) }),
});

interface BaselineArgs {
  size: number;
}

/** Baseline side: one entity row by primary key, cycling over the entities. */
export const selectOnePlan: PgPlanFactory<BaselineArgs> = ({ size }) => ({
  query: (seq) => ({
    text: `SELECT id, types, scopes, created_at, modified_at, attrs FROM entities WHERE tenant = '' AND id = $1`,
    values: [`${ID_PREFIX}${(seq * 7919) % size}`],
  }),
});

const seed = (hubUrl: string, size: number, names: number) =>
  seedThroughHub(hubUrl, size, { entityOf: (i) => discoveryEntity(i, names) });

/** Compares the hub's counts with SQL on the entities; returns the note. */
async function verify(hubUrl: string, pool: pg.Pool, names: number): Promise<string> {
  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${hubUrl}${BASE}/${path}`);
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status}`);
    return (await res.json()) as T;
  };
  const type = await get<{ id: string; entityCount: number; attributeDetails: unknown[] }>(
    `types/${typeName(3)}`,
  );
  const attr = await get<{ id: string; attributeCount: number; typeNames: string[] }>('attributes/x5');
  const list = await get<{ attributeList: string[] }>('attributes');
  const byType = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM entities WHERE tenant = '' AND types @> ARRAY[$1]`,
    [type.id],
  );
  const byAttr = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM entities WHERE tenant = '' AND attr_names @> ARRAY[$1]`,
    [attr.id],
  );
  if (type.entityCount !== byType.rows[0]?.n)
    throw new Error(`${typeName(3)}: the hub counts ${type.entityCount}, SQL ${byType.rows[0]?.n}`);
  if (attr.attributeCount !== byAttr.rows[0]?.n)
    throw new Error(`x5: the hub counts ${attr.attributeCount}, SQL ${byAttr.rows[0]?.n}`);
  if (list.attributeList.length !== names + 4)
    throw new Error(`the hub lists ${list.attributeList.length} attributes, not ${names + 4}`);
  return (
    `discovery: entityCount of ${typeName(3)} (${type.entityCount}, ${type.attributeDetails.length} attributes) and ` +
    `attributeCount of x5 (${attr.attributeCount}, types ${attr.typeNames.join(' ')}) equal SQL counts; ` +
    `${list.attributeList.length.toLocaleString('en-US')} attributes listed`
  );
}

export const scenario: Scenario = {
  name: 'discovery',
  order: 45,
  summary: `GET /types, /types/{t}, /attributes, /attributes/{a} over 100,000 entities with 10,000 attribute names, one at a time, vs a single-row SELECT; target <= ${LIMIT_MS} ms`,
  async run(ctx: BenchContext) {
    const size = ctx.settings.datasetSize;
    const names = Math.max(10, Math.round(size / 10));
    const db = await ctx.createDatabase('discovery');
    const hub = await ctx.startHub(db.url);
    ctx.log(
      `  building the dataset: ${size.toLocaleString('en-US')} entities, ${names.toLocaleString('en-US')} long-tail attribute names, through the hub's batch upsert`,
    );
    const t0 = Date.now();
    await seed(hub.url, size, names);
    await db.pool.query('VACUUM ANALYZE');
    ctx.log(`  dataset ready in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    const notes = [await verify(hub.url, db.pool, names)];
    if (ctx.settings.quick)
      notes.push(
        `discovery: QUICK run on ${size.toLocaleString('en-US')} entities and ${names.toLocaleString('en-US')} names, not the 100,000 and 10,000 of record`,
      );

    // Per-request figures are steady: shorter runs than the throughput scenarios.
    const seconds = Math.min(ctx.settings.seconds, 5);
    const hubRun = async (endpoint: Endpoint, s: number) => {
      const r = await ctx.httpLoad({
        url: hub.url,
        connections: 1,
        seconds: s,
        request: { module: import.meta.url, export: 'discoveryPlan', args: { endpoint, names } },
      });
      if (r.non2xx > 0 || r.errors > 0 || r.ok === 0)
        throw new Error(`hub ${endpoint}: ${r.ok} answers, ${r.non2xx} non-2xx, ${r.errors} errors`);
      return { ms: 1000 / r.rate, p99: r.latencyP99Ms };
    };
    const baseRun = async (s: number) => {
      const r = await ctx.pgLoad({
        databaseUrl: db.url,
        concurrency: 1,
        seconds: s,
        plan: { module: import.meta.url, export: 'selectOnePlan', args: { size } },
      });
      if (r.errors > 0) throw new Error(`baseline: ${r.errors} errors, first: ${r.firstError}`);
      return 1000 / r.rate;
    };
    for (const e of ENDPOINTS) await hubRun(e, ctx.settings.warmupSeconds);
    await baseRun(ctx.settings.warmupSeconds);

    // Each repetition measures the baseline and every endpoint, the baseline first in even
    // repetitions and last in odd ones.
    const hubMs = new Map<Endpoint, number[]>(ENDPOINTS.map((e) => [e, []]));
    const hubP99 = new Map<Endpoint, number[]>(ENDPOINTS.map((e) => [e, []]));
    const baseMs: number[] = [];
    const measureBase = async (rep: number) => {
      baseMs.push(await baseRun(seconds));
      ctx.log(`  discovery #${rep + 1} baseline ${formatNumber(baseMs[baseMs.length - 1]!)} ms per SELECT`);
    };
    for (let rep = 0; rep < ctx.settings.repetitions; rep++) {
      if (rep % 2 === 0) await measureBase(rep);
      for (const e of ENDPOINTS) {
        const r = await hubRun(e, seconds);
        hubMs.get(e)!.push(r.ms);
        hubP99.get(e)!.push(r.p99);
        ctx.log(
          `  discovery #${rep + 1} ${e.padEnd(23)} ${formatNumber(r.ms)} ms per request (p99 ${r.p99} ms)`,
        );
      }
      if (rep % 2 === 1) await measureBase(rep);
    }

    // After a change of names: a new attribute name, then the request.
    const churnMs = new Map<Endpoint, number[]>(ENDPOINTS.map((e) => [e, []]));
    let fresh = 0;
    for (const e of ENDPOINTS)
      for (let i = 0; i < CHURN_SAMPLES; i++) {
        const n = fresh++;
        const res = await fetch(`${hub.url}${BASE}/entities`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            id: `urn:ngsi-ld:DiscoveryChurn:${n}`,
            type: typeName(n % TYPES),
            [`fresh${n}`]: { type: 'Property', value: n },
          }),
        });
        if (res.status !== 201) throw new Error(`creating a new name: ${res.status} ${await res.text()}`);
        const path = discoveryPath(e, names, n);
        const t = performance.now();
        const got = await fetch(`${hub.url}${path}`);
        await got.arrayBuffer();
        churnMs.get(e)!.push(performance.now() - t);
        if (got.status !== 200) throw new Error(`GET ${path} after a new name: ${got.status}`);
      }
    for (const e of ENDPOINTS)
      ctx.log(
        `  discovery after a new name ${e.padEnd(23)} ${formatNumber(median(churnMs.get(e)!))} ms (median of ${CHURN_SAMPLES})`,
      );
    await hub.stop();

    const baseline = median(baseMs);
    const results: ScenarioResult[] = ENDPOINTS.map((e) => {
      const value = median(hubMs.get(e)!);
      return {
        scenario: `discovery: ${e} @${size / 1000}k`,
        value,
        baseline,
        ratio: value / baseline,
        target: null,
        maxValue: LIMIT_MS,
        unit: 'ms',
      };
    });
    for (const e of ENDPOINTS)
      results.push({
        scenario: `discovery: ${e} after a new name @${size / 1000}k`,
        value: median(churnMs.get(e)!),
        baseline: null,
        ratio: null,
        target: null,
        maxValue: LIMIT_MS,
        unit: 'ms',
      });
    notes.push(
      `discovery: ratio = hub ms per request / ms per single-row SELECT; the target is the ${LIMIT_MS} ms answer time. ` +
        `p99 (ms): ${ENDPOINTS.map((e) => `${e} ${median(hubP99.get(e)!)}`).join(', ')}`,
    );
    return { results, notes };
  },
};
