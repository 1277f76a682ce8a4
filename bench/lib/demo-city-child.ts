/**
 * Child process of the indicators scenario: the hub (in-process, embedded MQTT broker) with the
 * demo city publishing into it, indicators on or off. The city's clock runs `acceleration` times
 * faster than the wall clock, so its sensors offer far more readings than the hub can store and
 * the stored rate is the hub's throughput; the city's own hours pass as fast, so the hourly and
 * daily indicators see their periods turn. Answers the acknowledged (stored) readings per second
 * over the measured window and, with indicators on, how far their consumers are behind then.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { serveOnce } from './child-process.js';
import { REPO_ROOT } from './paths.js';
import type { IotService } from '../../src/iot/iot-service.js';
import type * as HubFile from '../../src/server/hub.js';
import type * as DemoFile from '../../src/sim/demo-city.js';
import type * as AirFile from '../../src/sim/air-replay.js';

/**
 * The shipped build (dist/, made by `npm run bench`): its files find the bundled contexts, the
 * vendored schemas and the demo's air data beside the package, as `citypivot demo` does.
 */
const shipped = <T>(file: string) => import(pathToFileURL(join(REPO_ROOT, 'dist', file)).href) as Promise<T>;

export interface DemoCityRun {
  databaseUrl: string;
  sensors: number;
  indicators: boolean;
  /** City seconds per real second. */
  acceleration: number;
  warmupSeconds: number;
  seconds: number;
}

export interface DemoCityResult {
  rate: number;
  published: number;
  stored: number;
  failed: number;
  /** Changes not yet handled by the slowest consumer at the end of the window. */
  lag: number;
  consumers: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function run(input: DemoCityRun): Promise<DemoCityResult> {
  const { startHub } = await shipped<typeof HubFile>('server/hub.js');
  const { startDemoCity } = await shipped<typeof DemoFile>('sim/demo-city.js');
  const { loadAirReplay } = await shipped<typeof AirFile>('sim/air-replay.js');
  const hub = await startHub({
    port: 0,
    host: '127.0.0.1',
    db: input.databaseUrl,
    fetchContexts: false,
    logger: false,
    dashboardDir: false,
    mqtt: { mode: 'embedded', port: 0, host: '127.0.0.1' },
    indicators: input.indicators,
  });
  const started = Date.now();
  const clock = () => started + (Date.now() - started) * input.acceleration;
  const city = await startDemoCity(
    {
      entities: hub.entities,
      iot: hub.iot as IotService,
      resolveContext: (v) => hub.resolveContext(v),
      mqttUrl: hub.mqttUrl as string,
    },
    {
      sensors: input.sensors,
      seed: 42,
      speed: 1,
      clock,
      incidentEveryS: 0,
      maxInFlight: 1024,
      air: await loadAirReplay(),
    },
  );
  const pool = new pg.Pool({ connectionString: input.databaseUrl, max: 1 });
  try {
    await sleep(input.warmupSeconds * 1000);
    const s0 = city.stats();
    const t0 = performance.now();
    await sleep(input.seconds * 1000);
    const s1 = city.stats();
    const elapsed = (performance.now() - t0) / 1000;
    const lag = await pool.query<{ name: string; lag: string }>(
      `SELECT c.name, (SELECT count(*) FROM change_feed f
                        WHERE (f.key, f.seq) > (c.cursor_key, c.cursor_seq))::text AS lag
       FROM change_feed_consumers c WHERE c.holder IS NOT NULL`,
    );
    return {
      rate: (s1.stored - s0.stored) / elapsed,
      published: s1.published - s0.published,
      stored: s1.stored - s0.stored,
      failed: s1.failed - s0.failed,
      lag: Math.max(0, ...lag.rows.map((r) => Number(r.lag))),
      consumers: lag.rows.map((r) => r.name),
    };
  } finally {
    await pool.end();
    await city.stop();
    await hub.stop();
  }
}

serveOnce(run);
