/** Child process of http-load.ts: runs autocannon with the options it is sent and reports back. */
import autocannon from 'autocannon';
import type { Options, Request } from 'autocannon';
import { serveOnce } from './child-process.js';
import type { HttpLoadOptions, HttpLoadResult, HttpPlan, HttpPlanFactory } from './http-load.js';

async function run(opts: HttpLoadOptions): Promise<HttpLoadResult> {
  const base: Options = {
    url: opts.url,
    connections: opts.connections,
    // Batches of 1,000 entities can take seconds under load.
    timeout: 120,
    ...(opts.amount !== undefined ? { amount: opts.amount } : { duration: opts.seconds ?? 10 }),
  };
  let plan: HttpPlan | undefined;
  let requests: Request[];
  // autocannon notices that `amount` requests are done only at its next one-second tick, so a
  // counted run ends at its last answer, not when autocannon returns.
  const counted = opts.amount !== undefined;
  let last = process.hrtime.bigint();
  const answered = () => {
    last = process.hrtime.bigint();
  };
  if ('module' in opts.request) {
    const mod = (await import(opts.request.module)) as Record<string, unknown>;
    const factory = mod[opts.request.export] as HttpPlanFactory<unknown> | undefined;
    if (typeof factory !== 'function')
      throw new Error(`${opts.request.module} exports no plan ${opts.request.export}`);
    const p = await factory(opts.request.args);
    plan = p;
    let next = 0;
    const req: Request = {
      method: p.method,
      ...(p.headers ? { headers: p.headers } : {}),
      setupRequest(r, context) {
        const seq = next++;
        context.seq = seq;
        const { path, body } = p.request(seq);
        r.path = path;
        if (body !== undefined) r.body = body;
        return r;
      },
    };
    const onResponse = p.onResponse?.bind(p);
    if (onResponse || counted)
      req.onResponse = (status, body, context) => {
        if (counted) answered();
        onResponse?.(context.seq as number, status, body);
      };
    requests = [req];
  } else {
    const { method, path, headers, body } = opts.request;
    requests = [
      {
        method,
        path,
        ...(headers ? { headers } : {}),
        ...(body !== undefined ? { body } : {}),
        ...(counted ? { onResponse: answered } : {}),
      },
    ];
  }
  const started = process.hrtime.bigint();
  const r = await autocannon({ ...base, requests });
  const ended = counted ? last : process.hrtime.bigint();
  const seconds = Number(ended - started) / 1e9;
  const ok = r['2xx'];
  return {
    ok,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    seconds,
    rate: ok / seconds,
    latencyP50Ms: r.latency.p50,
    latencyP99Ms: r.latency.p99,
    ...(plan?.summary ? { summary: plan.summary() } : {}),
  };
}

serveOnce(run);
