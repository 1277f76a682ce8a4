/**
 * routes: `GET /api/v1/traffic/route` over a synthetic grid of 72 × 72 junctions 100 m apart,
 * 10,224 two-way `RoadSegment` entities (Smart Data Models shape: LineString location, length,
 * maximumAllowedSpeed, roadClass, totalLaneNumber; every 5th line an arterial at 60 km/h, the rest
 * streets at 40 km/h; a seventh of the segments with a live averageVehicleSpeed, another seventh
 * with an intensity only, so that all three cost bases are in play), written through the hub's
 * batch upsert. One request at a time between seeded random pairs of points anywhere on the grid
 * (from and to snapped to the nearest junction); the figure is the p95 answer time in ms, timed
 * from this process. Target (issue 18): p95 under 50 ms.
 *
 * Baseline, alternated in the same run: `GET /ngsi-ld/v1/entities/{id}` of a random segment, one
 * at a time, on the same hub (the cost of any small HTTP answer there); the ratio is reported.
 * The first route after the hub starts loads the network (all segments, once per tenant and
 * instance): its time is a note, not part of the figure.
 */
import type { BenchContext, Scenario, ScenarioResult } from '../lib/scenario.js';
import { formatNumber } from '../lib/repeat.js';
import { median, percentile, seededRandom } from '../lib/stats.js';
import { seedThroughHub } from '../lib/seed.js';

const T = 'https://smartdatamodels.org/dataModel.Transportation/';
/** Junctions per side: 2 × 72 × 71 = 10,224 segments. */
const SIDE = 72;
const SPACING_M = 100;
const LIMIT_MS = 50;
const ORIGIN: [number, number] = [113.5, 34.6];
const M_PER_DEG_LAT = 111_195;
const M_PER_DEG_LON = M_PER_DEG_LAT * Math.cos((ORIGIN[1] * Math.PI) / 180);

const junction = (i: number, j: number): [number, number] => [
  ORIGIN[0] + (i * SPACING_M) / M_PER_DEG_LON,
  ORIGIN[1] + (j * SPACING_M) / M_PER_DEG_LAT,
];
const segmentCount = () => 2 * SIDE * (SIDE - 1);
const segmentId = (k: number) => `urn:ngsi-ld:RoadSegment:bench-${k}`;

/** Segment k: first the east-west ones (row by row), then the north-south ones. */
function segmentEntity(k: number, observedAt: string) {
  const half = SIDE * (SIDE - 1);
  const ew = k < half;
  const n = ew ? k : k - half;
  const line = Math.floor(n / (SIDE - 1));
  const step = n % (SIDE - 1);
  const [a, b] = ew
    ? [junction(step, line), junction(step + 1, line)]
    : [junction(line, step), junction(line, step + 1)];
  const arterial = line % 5 === 0;
  const speed = arterial ? 60 : 40;
  return {
    id: segmentId(k),
    type: `${T}RoadSegment`,
    [`${T}length`]: { type: 'Property', value: SPACING_M, unitCode: 'MTR' },
    [`${T}maximumAllowedSpeed`]: { type: 'Property', value: speed, unitCode: 'KMH' },
    [`${T}roadClass`]: { type: 'Property', value: arterial ? 'arterial' : 'street' },
    [`${T}totalLaneNumber`]: { type: 'Property', value: arterial ? 6 : 2 },
    ...(k % 7 === 0
      ? { [`${T}averageVehicleSpeed`]: { type: 'Property', value: 5 + (k % 11) * 4, observedAt } }
      : {}),
    ...(k % 7 === 1
      ? { [`${T}intensity`]: { type: 'Property', value: 200 + (k % 13) * 150, observedAt } }
      : {}),
    location: { type: 'GeoProperty', value: { type: 'LineString', coordinates: [a, b] } },
  };
}

async function timedGet(url: string): Promise<number> {
  const t = performance.now();
  const res = await fetch(url);
  const body = await res.text();
  const ms = performance.now() - t;
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${body.slice(0, 300)}`);
  return ms;
}

export const scenario: Scenario = {
  name: 'routes',
  order: 47,
  summary: `GET /api/v1/traffic/route over ${segmentCount().toLocaleString('en-US')} road segments, one at a time, p95 vs GET of one entity; target p95 <= ${LIMIT_MS} ms`,
  async run(ctx: BenchContext) {
    const db = await ctx.createDatabase('routes');
    const hub = await ctx.startHub(db.url);
    const count = segmentCount();
    const t0 = Date.now();
    const observedAt = new Date().toISOString();
    await seedThroughHub(hub.url, count, { entityOf: (k) => segmentEntity(k, observedAt) });
    await db.pool.query('VACUUM ANALYZE');
    ctx.log(
      `  ${count.toLocaleString('en-US')} road segments written in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );

    const rnd = seededRandom(18);
    const pick = () => Math.floor(rnd() * SIDE);
    // Points a little off the junctions, so that snapping is part of each request.
    const point = () => {
      const [lon, lat] = junction(pick(), pick());
      return `${(lon + (rnd() - 0.5) / 5000).toFixed(6)},${(lat + (rnd() - 0.5) / 5000).toFixed(6)}`;
    };
    const routeUrl = () => `${hub.url}/api/v1/traffic/route?from=${point()}&to=${point()}`;
    const entityUrl = () =>
      `${hub.url}/ngsi-ld/v1/entities/${encodeURIComponent(segmentId(Math.floor(rnd() * count)))}`;

    const cold = await timedGet(routeUrl());
    const requests = ctx.settings.quick ? 200 : 1000;
    const p95Of = async (url: () => string, n: number) => {
      const ms: number[] = [];
      for (let i = 0; i < n; i++) ms.push(await timedGet(url()));
      ms.sort((a, b) => a - b);
      return { p95: percentile(ms, 0.95), p50: percentile(ms, 0.5), max: ms[ms.length - 1] ?? NaN };
    };
    await p95Of(routeUrl, 50);
    await p95Of(entityUrl, 50);

    const hubP95: number[] = [];
    const hubP50: number[] = [];
    const baseP95: number[] = [];
    const measureBase = async (rep: number) => {
      const b = await p95Of(entityUrl, requests);
      baseP95.push(b.p95);
      ctx.log(`  routes #${rep + 1} baseline GET entity p95 ${formatNumber(b.p95)} ms`);
    };
    for (let rep = 0; rep < ctx.settings.repetitions; rep++) {
      if (rep % 2 === 0) await measureBase(rep);
      const r = await p95Of(routeUrl, requests);
      hubP95.push(r.p95);
      hubP50.push(r.p50);
      ctx.log(
        `  routes #${rep + 1} route p95 ${formatNumber(r.p95)} ms (p50 ${formatNumber(r.p50)}, max ${formatNumber(r.max)})`,
      );
      if (rep % 2 === 1) await measureBase(rep);
    }
    await hub.stop();

    const value = median(hubP95);
    const baseline = median(baseP95);
    const results: ScenarioResult[] = [
      {
        scenario: `routes: p95 @${(count / 1000).toFixed(1)}k segments`,
        value,
        baseline,
        ratio: value / baseline,
        target: null,
        maxValue: LIMIT_MS,
        unit: 'ms',
      },
    ];
    const notes = [
      `routes: ${requests} requests per repetition between random points of a ${SIDE} x ${SIDE} grid; ` +
        `route p50 ${formatNumber(median(hubP50))} ms; first route (loads the network) ${formatNumber(cold)} ms; ` +
        `ratio = route p95 / p95 of GET one entity on the same hub`,
    ];
    return { results, notes };
  },
};
