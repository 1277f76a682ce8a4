/**
 * query: the hub's GET /ngsi-ld/v1/entities over the shared city dataset (100,000 entities in a full
 * run), against hand-written SQL on the same tables run by a bare pg client, both 10 at a time:
 * - type + q: `type=T&q=temperature>X;status=="S"` (first page of 20, creation order) against
 *   `types @> … AND attrs @> {status} AND (attrs->temperature->0->value)::float8 > X ORDER BY created_at, id`;
 * - geo near: `type=T&georel=near;maxDistance==1000&geometry=Point&coordinates=[…]` (first 20 by id)
 *   against the GiST box join on entity_geo plus a haversine test in SQL.
 * Each side cycles through the same list of parameter sets. Target: ratio >= 0.5 for each.
 *
 * Correctness: for the first parameter set of each query, the hub's ids and the SQL's ids are compared.
 */
import type pg from 'pg';
import type { HttpPlanFactory } from '../lib/http-load.js';
import type { PgPlanFactory } from '../lib/pg-load.js';
import { alternate, ratioRow } from '../lib/repeat.js';
import type { BenchContext, Scenario, ScenarioResult } from '../lib/scenario.js';
import { CITY_BOX, CITY_TYPES, cityIris, STATUSES, type CityIris } from '../lib/city-entities.js';
import { cityDataset } from '../lib/city-dataset.js';
import { seededRandom } from '../lib/stats.js';

const CONNECTIONS = 10;
const TARGET = 0.5;
const LIMIT = 20;
const NEAR_METRES = 1000;
const KINDS = ['type+q', 'geo near'] as const;
type Kind = (typeof KINDS)[number];

interface Variant {
  path: string;
  text: string;
  values: unknown[];
}

interface PlanArgs {
  kind: Kind;
  iris: CityIris;
}

const THRESHOLDS = [10, 15, 20, 25, 30, 35];
const POINTS = (() => {
  const rnd = seededRandom(7);
  const [w, s, e, n] = CITY_BOX;
  return Array.from({ length: 50 }, () => [
    +(w + rnd() * (e - w)).toFixed(5),
    +(s + rnd() * (n - s)).toFixed(5),
  ]);
})();

const COLUMNS = 'e.id, e.types, e.scopes, e.created_at, e.modified_at, e.attrs';

/** The parameter sets of a query kind, as an HTTP path for the hub and SQL for the baseline. */
function variants({ kind, iris }: PlanArgs): Variant[] {
  const out: Variant[] = [];
  if (kind === 'type+q') {
    for (const type of CITY_TYPES)
      for (const t of THRESHOLDS)
        for (const s of STATUSES) {
          const q = encodeURIComponent(`temperature>${t};status=="${s}"`);
          out.push({
            path: `/ngsi-ld/v1/entities?type=${type}&q=${q}`,
            text: `SELECT ${COLUMNS} FROM entities e
              WHERE e.tenant = '' AND e.types @> ARRAY[$1::text] AND e.attrs @> $2::jsonb
                AND (e.attrs -> $3::text -> 0 -> 'value')::float8 > $4
              ORDER BY e.created_at, e.id LIMIT ${LIMIT}`,
            values: [
              iris.types[type],
              JSON.stringify({ [iris.status]: [{ value: s }] }),
              iris.temperature,
              t,
            ],
          });
        }
    return out;
  }
  for (const [lon, lat] of POINTS as [number, number][]) {
    const dLat = (NEAR_METRES / 6_371_008.8) * (180 / Math.PI) * 1.0001;
    const dLon = dLat / Math.cos((lat * Math.PI) / 180);
    const coords = encodeURIComponent(`[${lon},${lat}]`);
    const lonOf = `(e.attrs -> $1::text -> 0 -> 'value' -> 'coordinates' ->> 0)::float8`;
    const latOf = `(e.attrs -> $1::text -> 0 -> 'value' -> 'coordinates' ->> 1)::float8`;
    out.push({
      path: `/ngsi-ld/v1/entities?type=${CITY_TYPES[0]}&georel=${encodeURIComponent(`near;maxDistance==${NEAR_METRES}`)}&geometry=Point&coordinates=${coords}`,
      text: `SELECT ${COLUMNS} FROM entities e
        JOIN entity_geo g ON g.tenant = e.tenant AND g.entity_id = e.id AND g.attr = $1
        WHERE e.tenant = '' AND e.types @> ARRAY[$2::text] AND g.bbox && box(point($3, $4), point($5, $6))
          AND 2 * 6371008.8 * asin(sqrt(sin(radians(${latOf} - $7) / 2) ^ 2
            + cos(radians($7)) * cos(radians(${latOf})) * sin(radians(${lonOf} - $8) / 2) ^ 2)) <= $9
        ORDER BY e.id LIMIT ${LIMIT}`,
      values: [
        iris.location,
        iris.types[CITY_TYPES[0]],
        lon - dLon,
        lat - dLat,
        lon + dLon,
        lat + dLat,
        lat,
        lon,
        NEAR_METRES,
      ],
    });
  }
  return out;
}

export const queryHttpPlan: HttpPlanFactory<PlanArgs> = (args) => {
  const list = variants(args);
  return { method: 'GET', request: (seq) => ({ path: (list[seq % list.length] as Variant).path }) };
};

export const querySqlPlan: PgPlanFactory<PlanArgs> = (args) => {
  const list = variants(args);
  return {
    query(seq) {
      const v = list[seq % list.length] as Variant;
      return { text: v.text, values: v.values };
    },
  };
};

async function compareFirst(hubUrl: string, pool: pg.Pool, args: PlanArgs): Promise<string> {
  const v = variants(args)[0] as Variant;
  const res = await fetch(`${hubUrl}${v.path}`);
  const hubIds = ((await res.json()) as { id: string }[]).map((e) => e.id);
  const sqlIds = (await pool.query<{ id: string }>(v.text, v.values)).rows.map((r) => r.id);
  if (hubIds.join() !== sqlIds.join())
    throw new Error(
      `${args.kind}: the hub and the SQL answer differ:\n hub ${hubIds.join()}\n sql ${sqlIds.join()}`,
    );
  return `${args.kind}: hub and SQL return the same ${hubIds.length} ids for the first parameter set`;
}

export const scenario: Scenario = {
  name: 'query',
  order: 40,
  summary: `GET entities by type+q and geo near over the city dataset, ${CONNECTIONS} at a time, vs hand-written SQL`,
  async run(ctx: BenchContext) {
    const data = await cityDataset(ctx);
    const iris = await cityIris();
    const hub = await ctx.startHub(data.url);
    const results: ScenarioResult[] = [];
    const notes: string[] = [];
    if (ctx.settings.quick)
      notes.push(
        `query: QUICK run on ${data.size.toLocaleString('en-US')} entities, not the 100,000 of record`,
      );
    for (const kind of KINDS) {
      const args: PlanArgs = { kind, iris };
      notes.push(await compareFirst(hub.url, data.pool, args));
      const hubRun = async (seconds: number) => {
        const r = await ctx.httpLoad({
          url: hub.url,
          connections: CONNECTIONS,
          seconds,
          request: { module: import.meta.url, export: 'queryHttpPlan', args },
        });
        if (r.non2xx > 0 || r.errors > 0)
          throw new Error(`hub: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
        return r.rate;
      };
      const sqlRun = async (seconds: number) => {
        const r = await ctx.pgLoad({
          databaseUrl: data.url,
          concurrency: CONNECTIONS,
          seconds,
          plan: { module: import.meta.url, export: 'querySqlPlan', args },
        });
        if (r.errors > 0) throw new Error(`baseline: ${r.errors} errors, first: ${r.firstError}`);
        return r.rate;
      };
      await hubRun(ctx.settings.warmupSeconds);
      await sqlRun(ctx.settings.warmupSeconds);
      const runs = await alternate(
        ctx,
        `query ${kind}`,
        { hub: () => hubRun(ctx.settings.seconds), baseline: () => sqlRun(ctx.settings.seconds) },
        (r) => r,
        'queries/s',
      );
      results.push(
        ratioRow(`query: ${kind} @${data.size / 1000}k`, runs.hub, runs.baseline, TARGET, 'queries/s'),
      );
    }
    await hub.stop();
    return { results, notes };
  },
};
