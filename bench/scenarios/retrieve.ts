/**
 * retrieve: GET one entity by id over HTTP at 50 connections, against a bare node:http server
 * answering the same status, content type, Link header and bytes. Target: ratio >= 0.5.
 */
import type { PgPlanFactory } from '../lib/pg-load.js';
import { alternate, formatNumber, ratioRow } from '../lib/repeat.js';
import type { Scenario } from '../lib/scenario.js';
import { cityEntity } from '../lib/city-entities.js';
import { DEFAULT_POOL_SIZE } from '../../src/store/database.js';

const CONNECTIONS = 50;
const TARGET = 0.5;
/** The hub's pool size (its one pool, src/store/database.ts). */
const HUB_POOL = DEFAULT_POOL_SIZE;

/**
 * For the notes only: the statement the hub runs per GET, from a bare pg client at the same
 * concurrency over a pool as large as the hub's, the ceiling the database alone puts on the hub.
 */
export const selectPlan: PgPlanFactory<{ id: string }> = ({ id }) => ({
  query: () => ({
    text: 'SELECT e.id, e.types, e.scopes, e.created_at, e.modified_at, e.attrs FROM entities e WHERE e.tenant = $1 AND e.id = $2',
    values: ['', id],
  }),
});

export const scenario: Scenario = {
  name: 'retrieve',
  order: 10,
  summary: `GET /ngsi-ld/v1/entities/{id}, ${CONNECTIONS} connections, vs bare node:http returning the same bytes`,
  async run(ctx) {
    const db = await ctx.createDatabase('retrieve');
    const hub = await ctx.startHub(db.url);
    const entity = cityEntity(1);
    const created = await fetch(`${hub.url}/ngsi-ld/v1/entities`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(entity),
    });
    if (created.status !== 201) throw new Error(`creating the entity answered ${created.status}`);
    const path = `/ngsi-ld/v1/entities/${encodeURIComponent(entity.id)}`;
    const sample = await fetch(`${hub.url}${path}`);
    const body = await sample.text();
    if (sample.status !== 200) throw new Error(`GET answered ${sample.status}: ${body}`);
    const headers: Record<string, string> = {};
    for (const name of ['content-type', 'link']) {
      const v = sample.headers.get(name);
      if (v !== null) headers[name] = v;
    }
    const bare = await ctx.startStaticServer({ status: 200, headers, body });

    const load = (url: string, seconds: number) =>
      ctx.httpLoad({ url, connections: CONNECTIONS, seconds, request: { method: 'GET', path } });
    await load(hub.url, ctx.settings.warmupSeconds);
    await load(bare.url, ctx.settings.warmupSeconds);
    const runs = await alternate(
      ctx,
      'retrieve',
      {
        hub: () => load(hub.url, ctx.settings.seconds),
        baseline: () => load(bare.url, ctx.settings.seconds),
      },
      (r) => r.rate,
      'req/s',
    );
    for (const r of [...runs.hub, ...runs.baseline]) {
      if (r.non2xx > 0 || r.errors > 0)
        throw new Error(`retrieve: ${r.non2xx} non-2xx answers and ${r.errors} errors in a run`);
    }
    const p99 = runs.hub.map((r) => r.latencyP99Ms).join(', ');
    const select = await ctx.pgLoad({
      databaseUrl: db.url,
      concurrency: CONNECTIONS,
      poolSize: HUB_POOL,
      seconds: ctx.settings.seconds,
      plan: { module: import.meta.url, export: 'selectPlan', args: { id: entity.id } },
    });
    await hub.stop();
    await bare.stop();
    return {
      results: [
        ratioRow(
          'retrieve',
          runs.hub.map((r) => r.rate),
          runs.baseline.map((r) => r.rate),
          TARGET,
          'req/s',
        ),
      ],
      notes: [
        `retrieve: ${body.length} bytes per answer; hub p99 latency per run (ms): ${p99}`,
        `retrieve: for reference, the hub's one SELECT per GET from a bare pg client (${CONNECTIONS} in flight, pool ${HUB_POOL}): ${formatNumber(select.rate)} statements/s`,
      ],
    };
  },
};
