/**
 * indicators: the cost of keeping the city's indicators (station, district and city AQI, water
 * classes, noise, traffic index, parking, energy) up to date from the change feed while the demo
 * city publishes. The hub with indicators is measured against the same hub started with
 * `--no-indicators` (its calculators only), each on its own database provisioned with the same
 * city, alternately; the figure is stored readings per second. Target (issue 18): ratio >= 0.8.
 *
 * The demo city runs in the hub's process (as `citypivot demo` does), on an accelerated clock so
 * that its sensors offer more readings than the hub stores. The publisher's work is the same on
 * both sides. At the end of each run with indicators, the slowest consumer's lag (changes not yet
 * handled) is reported: indicators that kept up have a lag of about one poll's worth of changes.
 */
import { join } from 'node:path';
import { runChild } from '../lib/child-process.js';
import { COMPILED_LIB_DIR } from '../lib/paths.js';
import { alternate, ratioRow } from '../lib/repeat.js';
import type { BenchContext, Scenario } from '../lib/scenario.js';
import type { DemoCityResult, DemoCityRun } from '../lib/demo-city-child.js';

const TARGET = 0.8;

export const scenario: Scenario = {
  name: 'indicators',
  order: 85,
  summary: 'demo city readings stored per second with the indicators kept up to date vs without them',
  async run(ctx: BenchContext) {
    const sensors = ctx.settings.quick ? 2_000 : 20_000;
    const on = await ctx.createDatabase('indicators_on');
    const off = await ctx.createDatabase('indicators_off');
    const script = join(COMPILED_LIB_DIR, 'demo-city-child.js');
    const lags: number[] = [];
    let consumers: string[] = [];
    const side = (databaseUrl: string, indicators: boolean, warmupSeconds: number) =>
      runChild<DemoCityResult>('server', script, {
        databaseUrl,
        sensors,
        indicators,
        // 20,000 sensors offer about 1,330 readings/s on the wall clock: 20 times that saturates.
        acceleration: Math.max(20, Math.round((20 * 20_000) / sensors)),
        // The first readings of each device warm the IoT agent's caches: measure past them.
        warmupSeconds: Math.max(10, warmupSeconds),
        seconds: Math.max(10, ctx.settings.seconds),
      } satisfies DemoCityRun);
    // The first run of each side provisions its database (the city's map and devices).
    const t0 = performance.now();
    await side(on.url, true, ctx.settings.warmupSeconds);
    await side(off.url, false, ctx.settings.warmupSeconds);
    ctx.log(
      `  indicators: provisioned ${sensors.toLocaleString('en-US')} sensors twice and warmed up in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
    );
    const runs = await alternate(
      ctx,
      'indicators',
      {
        hub: async () => {
          const r = await side(on.url, true, 3);
          lags.push(r.lag);
          consumers = r.consumers;
          return r;
        },
        baseline: () => side(off.url, false, 3),
      },
      (r) => r.rate,
      'readings/s',
    );
    const failed = [...runs.hub, ...runs.baseline].reduce((n, r) => n + r.failed, 0);
    return {
      results: [
        ratioRow(
          'indicators: readings stored with indicators vs without',
          runs.hub.map((r) => r.rate),
          runs.baseline.map((r) => r.rate),
          TARGET,
          'readings/s',
        ),
        {
          scenario: 'indicators: slowest consumer lag at the end of a run',
          value: Math.max(...lags),
          baseline: null,
          ratio: null,
          target: null,
          unit: 'changes',
        },
      ],
      notes: [
        `indicators: ${sensors.toLocaleString('en-US')} demo sensors; consumers running: ${consumers.join(', ') || 'none'}; readings refused or failed: ${failed}`,
      ],
    };
  },
};
