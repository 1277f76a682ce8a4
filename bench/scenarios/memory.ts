/**
 * memory: peak resident set size (VmHWM) of the hub process at the size of the city dataset
 * (100,000 entities in a full run): the hub that upserted the dataset, and a fresh hub that pages
 * through all of it (limit=1000) and then answers the query scenario's mix for a few seconds.
 * Reported only: there is no baseline ratio.
 */
import type { Scenario } from '../lib/scenario.js';
import { cityDataset } from '../lib/city-dataset.js';
import { CITY_TYPES, cityIris } from '../lib/city-entities.js';

export const scenario: Scenario = {
  name: 'memory',
  order: 60,
  summary: 'peak RSS of the hub process while upserting and while reading the city dataset',
  async run(ctx) {
    const data = await cityDataset(ctx);
    const hub = await ctx.startHub(data.url);
    const idle = hub.peakRssMiB();
    let read = 0;
    for (let offset = 0; offset < data.size; offset += 1000) {
      const res = await fetch(
        `${hub.url}/ngsi-ld/v1/entities?type=${CITY_TYPES.join(',')}&limit=1000&offset=${offset}`,
      );
      if (res.status !== 200) throw new Error(`paging answered ${res.status}`);
      read += ((await res.json()) as unknown[]).length;
    }
    if (read !== data.size) throw new Error(`paging read ${read} entities of ${data.size}`);
    await ctx.httpLoad({
      url: hub.url,
      connections: 10,
      seconds: ctx.settings.warmupSeconds * 2,
      request: {
        module: new URL('./query.js', import.meta.url).href,
        export: 'queryHttpPlan',
        args: { kind: 'geo near', iris: await cityIris() },
      },
    });
    const peak = hub.peakRssMiB();
    await hub.stop();
    const k = `${data.size / 1000}k`;
    return {
      results: [
        {
          scenario: `memory: upserting ${k}`,
          value: data.seedPeakRssMiB,
          baseline: null,
          ratio: null,
          target: null,
          unit: 'MiB',
        },
        {
          scenario: `memory: reading ${k}`,
          value: peak,
          baseline: null,
          ratio: null,
          target: null,
          unit: 'MiB',
        },
      ],
      notes: [
        `memory: hub RSS after start ${idle.toFixed(0)} MiB; peak while upserting ${data.seedPeakRssMiB.toFixed(0)} MiB ` +
          `(${data.seedSeconds.toFixed(0)} s); peak while paging ${read.toLocaleString('en-US')} entities and querying ${peak.toFixed(0)} MiB` +
          (ctx.settings.quick ? ' (QUICK run: smaller dataset)' : ''),
      ],
    };
  },
};
