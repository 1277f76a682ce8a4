/** Child process of pg-load.ts: runs a plan's statements at a concurrency for a time or an amount. */
import pg from 'pg';
import { serveOnce } from './child-process.js';
import type { PgLoadOptions, PgLoadResult, PgPlanFactory } from './pg-load.js';
import { percentile } from './stats.js';

async function run(opts: PgLoadOptions): Promise<PgLoadResult> {
  const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: opts.poolSize ?? opts.concurrency });
  pool.on('error', () => undefined);
  try {
    const mod = (await import(opts.plan.module)) as Record<string, unknown>;
    const factory = mod[opts.plan.export] as PgPlanFactory<unknown> | undefined;
    if (typeof factory !== 'function')
      throw new Error(`${opts.plan.module} exports no plan ${opts.plan.export}`);
    const plan = await factory(opts.plan.args, pool);
    // Open every connection before the clock starts, as autocannon does for HTTP.
    const warm = await Promise.all(
      Array.from({ length: opts.poolSize ?? opts.concurrency }, () => pool.connect()),
    );
    for (const c of warm) c.release();

    const latencies: number[] = [];
    let next = 0;
    let ok = 0;
    let errors = 0;
    let firstError: string | undefined;
    const started = process.hrtime.bigint();
    const deadline =
      opts.amount === undefined ? started + BigInt(Math.round((opts.seconds ?? 10) * 1e9)) : 0n;
    const more = () => (opts.amount === undefined ? process.hrtime.bigint() < deadline : next < opts.amount);
    const loop = async () => {
      while (more()) {
        const seq = next++;
        const q = plan.query(seq);
        const t0 = process.hrtime.bigint();
        try {
          const result = await pool.query(q.text, q.values);
          latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
          ok++;
          plan.onResult?.(seq, result);
        } catch (err) {
          errors++;
          firstError ??= (err as Error).message;
        }
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, loop));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    latencies.sort((a, b) => a - b);
    return {
      ok,
      errors,
      ...(firstError !== undefined ? { firstError } : {}),
      seconds,
      rate: ok / seconds,
      latencyP50Ms: percentile(latencies, 0.5),
      latencyP99Ms: percentile(latencies, 0.99),
      ...(plan.summary ? { summary: plan.summary() } : {}),
    };
  } finally {
    await pool.end();
  }
}

serveOnce(run);
