/**
 * The large dataset of the query and memory scenarios: `datasetSize` city entities (100,000 in a
 * full run) upserted through a hub in 1,000-entity batches, built once per run and shared.
 */
import type pg from 'pg';
import type { BenchContext } from './scenario.js';
import { seedThroughHub } from './seed.js';

export interface CityDataset {
  url: string;
  pool: pg.Pool;
  size: number;
  seedSeconds: number;
  /** Peak RSS of the hub process that upserted the dataset, MiB. */
  seedPeakRssMiB: number;
}

export function cityDataset(ctx: BenchContext): Promise<CityDataset> {
  return ctx.shared('city-dataset', async () => {
    const size = ctx.settings.datasetSize;
    const db = await ctx.createDatabase('city');
    const hub = await ctx.startHub(db.url);
    ctx.log(
      `  building the dataset: ${size.toLocaleString('en-US')} entities through the hub's batch upsert`,
    );
    const t0 = Date.now();
    await seedThroughHub(hub.url, size);
    const seedSeconds = (Date.now() - t0) / 1000;
    const seedPeakRssMiB = hub.peakRssMiB();
    await hub.stop();
    await db.pool.query('VACUUM ANALYZE');
    ctx.log(`  dataset ready in ${seedSeconds.toFixed(0)} s`);
    return { url: db.url, pool: db.pool, size, seedSeconds, seedPeakRssMiB };
  });
}
