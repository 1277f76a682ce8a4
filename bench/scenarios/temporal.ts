/**
 * temporal: aggregation over one million points of one attribute (pm25 every minute for about two
 * years) of one entity among the shared city dataset's 100,000, per day, over HTTP (`/temporal/entities/{id}?options=aggregatedValues&aggrMethods=
 * avg,min,max,totalCount&aggrPeriodDuration=P1D`), against the equivalent hand-written SQL over the
 * raw points in the same tables (`date_trunc('day', ts)`, `GROUP BY`). Target: ratio >= 0.5.
 *
 * The points are loaded with SQL into the hub's history table (as the history writer stores them),
 * then the hub's own rollups are rebuilt with `citypivot history rollups rebuild` — the maintained
 * per-hour rollups are what lets the hub answer without reading every point.
 *
 * Correctness: the hub's daily count, min, max and average must equal the SQL's for every day.
 */
import { spawn } from 'node:child_process';
import { alternate, ratioRow } from '../lib/repeat.js';
import type { BenchContext, Scenario } from '../lib/scenario.js';
import { HUB_BIN } from '../lib/paths.js';
import { cityDataset } from '../lib/city-dataset.js';

const TARGET = 0.5;
const START = Date.parse('2024-01-01T00:00:00Z');
const ENTITY = 'urn:ngsi-ld:AirQualityObserved:bench-temporal';
const ATTR = 'https://uri.etsi.org/ngsi-ld/default-context/pm25';

type Aggregate = { avg: number; min: number; max: number; count: number };

function run(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HUB_BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`citypivot ${args.join(' ')}: ${err}`)),
    );
  });
}

export const scenario: Scenario = {
  name: 'temporal',
  order: 70,
  summary:
    'daily avg/min/max/count over 1,000,000 points of one attribute, vs hand-written SQL on the raw points',
  async run(ctx: BenchContext) {
    // Whole days (a report "per day over the last N days"): 695 days of minutes is 1,000,800 points.
    const points = (ctx.settings.quick ? 140 : 695) * 1440;
    const end = new Date(START + points * 60_000).toISOString();
    // The series lives beside the shared city dataset (100,000 entities in a full run), as a city's
    // busiest station would: the history table and its indexes hold the other entities too.
    const db = await cityDataset(ctx);
    const hub = await ctx.startHub(db.url);
    const created = await fetch(`${hub.url}/ngsi-ld/v1/entities`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: ENTITY, type: 'AirQualityObserved', pm25: { type: 'Property', value: 0 } }),
    });
    if (created.status !== 201) throw new Error(`temporal: create answered ${created.status}`);
    // Only the loaded points: the value written at creation has no observedAt in the window anyway.
    await db.pool.query(`DELETE FROM attribute_history WHERE entity_id = $1`, [ENTITY]);
    const t0 = performance.now();
    await db.pool.query(
      `INSERT INTO attribute_history (tenant, entity_id, attr, dataset_id, instance_id, ts, observed_at, created_at, modified_at, num, instance)
       SELECT '', $1, $2, '', 'urn:ngsi-ld:Instance:b' || i, t, t, t, t, v,
              jsonb_build_object('type', 'Property', 'value', v, 'observedAt', to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
       FROM generate_series(0, $3::int - 1) AS i,
            LATERAL (SELECT $4::timestamptz + make_interval(mins => i) AS t,
                            round((50 + 40 * sin(i / 720.0) + (i % 17))::numeric, 1)::float8 AS v) x`,
      [ENTITY, ATTR, points, new Date(START).toISOString()],
    );
    await db.pool.query('ANALYZE attribute_history');
    await run(['history', 'rollups', 'rebuild', '--db', db.url]);
    ctx.log(
      `  temporal: loaded ${points.toLocaleString('en-US')} points and rebuilt the rollups in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );

    const url =
      `${hub.url}/ngsi-ld/v1/temporal/entities/${encodeURIComponent(ENTITY)}?attrs=pm25&options=aggregatedValues` +
      `&aggrMethods=avg,min,max,totalCount&aggrPeriodDuration=P1D&timerel=between` +
      `&timeAt=${new Date(START).toISOString()}&endTimeAt=${end}`;
    const sql = `SELECT date_trunc('day', ts, 'UTC') AS day, avg(num) AS avg, min(num) AS min, max(num) AS max, count(*) AS n
       FROM attribute_history WHERE tenant = '' AND entity_id = $1 AND attr = $2 AND ts >= $3 AND ts < $4
       GROUP BY 1 ORDER BY 1`;
    const viaHub = async (): Promise<Map<string, Aggregate>> => {
      const res = await fetch(url);
      if (res.status !== 200)
        throw new Error(`temporal: aggregation answered ${res.status}: ${await res.text()}`);
      const body = (await res.json()) as { pm25: Record<string, [number, string, string][]> };
      const days = new Map<string, Aggregate>();
      const put = (method: keyof Aggregate, rows: [number, string, string][] | undefined) => {
        for (const [v, from] of rows ?? []) {
          const d = days.get(from) ?? { avg: NaN, min: NaN, max: NaN, count: NaN };
          d[method] = Number(v);
          days.set(from, d);
        }
      };
      put('avg', body.pm25.avg);
      put('min', body.pm25.min);
      put('max', body.pm25.max);
      put('count', body.pm25.totalCount);
      return days;
    };
    const viaSql = async (): Promise<Map<string, Aggregate>> => {
      const r = await db.pool.query<{ day: Date; avg: number; min: number; max: number; n: string }>(sql, [
        ENTITY,
        ATTR,
        new Date(START).toISOString(),
        end,
      ]);
      return new Map(
        r.rows.map((x) => [
          x.day.toISOString(),
          { avg: Number(x.avg), min: Number(x.min), max: Number(x.max), count: Number(x.n) },
        ]),
      );
    };
    // Correctness first: every day agrees.
    const [h, s] = [await viaHub(), await viaSql()];
    if (h.size !== s.size) throw new Error(`temporal: hub has ${h.size} days, SQL ${s.size}`);
    for (const [day, want] of s) {
      const got = [...h.entries()].find(([k]) => Date.parse(k) === Date.parse(day))?.[1];
      const close = (a: number, b: number) => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));
      if (
        !got ||
        got.count !== want.count ||
        !close(got.min, want.min) ||
        !close(got.max, want.max) ||
        !close(got.avg, want.avg)
      )
        throw new Error(`temporal: day ${day}: hub ${JSON.stringify(got)} vs SQL ${JSON.stringify(want)}`);
    }
    const rate = async (f: () => Promise<unknown>) => {
      const until = performance.now() + ctx.settings.seconds * 1000;
      let n = 0;
      while (performance.now() < until || n === 0) {
        await f();
        n++;
      }
      return n / ctx.settings.seconds;
    };
    const runs = await alternate(
      ctx,
      'temporal',
      { hub: () => rate(viaHub), baseline: () => rate(viaSql) },
      (r) => r,
      'queries/s',
    );
    await hub.stop();
    return {
      results: [
        ratioRow(
          `temporal: P1D over ${points >= 1_000_000 ? '1M' : `${Math.round(points / 1000)}k`} points`,
          runs.hub,
          runs.baseline,
          TARGET,
          'queries/s',
        ),
      ],
      notes: [
        `temporal: the hub's ${s.size} daily aggregates (count, min, max, avg) equal the SQL's over the raw points`,
      ],
    };
  },
};
