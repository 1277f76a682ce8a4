/**
 * One fuzzing run: the hub built and seeded, `requests` generated requests injected one after the
 * other (each from a generator seeded with the run's seed and its index), then `rawRequests` over
 * a real socket, every answer checked by the oracles; the hub closed and its database dropped.
 */
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { ServerResponse } from 'node:http';
import { createFuzzHub, type FuzzHub } from './fuzz-hub.js';
import { protectedEntities, seedHub, type Seed } from './fuzz-seed.js';
import { watchData, type DataWatch, type RowChange } from './data-watch.js';
import { keepSeed, type SeedKeeper } from './seed-keeper.js';
import { credentialSet, RIGHTS, type CredentialSet, type PrincipalName } from './fuzz-principals.js';
import { createRequestGenerator, type FuzzRequest } from './request-generator.js';
import { createRawGenerator, type RawRequest } from './raw-requests.js';
import { sendRaw } from './raw-http.js';
import { createRng } from './prng.js';
import {
  checkAnswer,
  checkRefusedWrites,
  checkWriteRights,
  effectivePrincipal,
  type Answer,
  type Finding,
  type FindingKind,
} from './oracles.js';

export interface FuzzOptions {
  seed: number;
  requests: number;
  rawRequests: number;
  /** An answer slower than this is a finding; one that does not come by `timeoutMs` ends the run. */
  slowMs?: number;
  timeoutMs?: number;
  /** How often the md5 fingerprint checks the change log (in requests). */
  fingerprintEvery?: number;
  /** Most distinct findings kept (the run goes on, counting the rest). */
  maxFindings?: number;
}

export interface FoundIssue {
  kind: FindingKind;
  detail: string;
  /** `inject #12` or `raw #3`: the first request that showed it. */
  at: string;
  reproduction: string;
  /** How many requests showed the same finding (kind, route, status). */
  occurrences: number;
}

export interface FuzzReport {
  seed: number;
  requests: number;
  rawRequests: number;
  statuses: Record<string, number>;
  rawStatuses: Record<string, number>;
  seconds: number;
  /** How often the seeded rights or secret entities were put back after a legitimate change. */
  restores: number;
  /** Seconds spent: building and seeding the hub, answering (inject and raw), the fuzzer's own checks. */
  phases: { setup: number; answering: number; checking: number };
  findings: FoundIssue[];
  /** Findings counted by kind, including those past maxFindings. */
  counts: Partial<Record<FindingKind, number>>;
}

/**
 * The families of routes fuzzed: NGSI-LD, IoT, platform (/api/v1, /metrics, /health), the API's
 * description and its reference page (/openapi.json, /docs).
 */
const FUZZED = (url: string) =>
  url.startsWith('/ngsi-ld/v1/') ||
  url.startsWith('/iot/') ||
  url.startsWith('/api/v1/') ||
  url === '/metrics' ||
  url === '/health' ||
  url === '/openapi.json' ||
  url === '/docs' ||
  url.startsWith('/docs/');

const PRINCIPAL_WEIGHTS: readonly (readonly [number, PrincipalName])[] = [
  [14, 'anonymous'],
  [16, 'admin'],
  [18, 'transport'],
  [16, 'health'],
  [5, 'auditor'],
  [8, 'transport-key'],
  [7, 'health-key'],
  [8, 'bad-credentials'],
  [6, 'misplaced-credentials'],
  [2, 'enrolment-only'],
];

/** A generator seed of its own for each request: request i is the same whatever ran before it. */
export function requestSeed(seed: number, index: number, stream = 0): number {
  return (
    (Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) + Math.imul(index + 1, 0x85ebca6b) + stream * 0x632be5ab) >>> 0
  );
}

function count(h: Record<string, number>, key: string | number) {
  h[key] = (h[key] ?? 0) + 1;
}

function elide(text: string, secrets: readonly [string, string][]): string {
  let out = text;
  for (const [secret, name] of secrets) out = out.split(secret).join(name);
  return out;
}

/** Control characters, shown as escapes in a reproduction. */
const CONTROL = /[\u0000-\u001f\u007f\u2028\u2029\u202e]/g;

/** Control characters written as escapes, so that a reproduction shows what was sent. */
function printable(s: string): string {
  return s.replace(CONTROL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function cut(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n)}… (${s.length} characters)`;
}

/** The error the hub logged (pino JSON lines): its message and where it was thrown. */
function loggedError(lines: string[]): string {
  return lines
    .map((line) => {
      try {
        const o = JSON.parse(line) as {
          msg?: string;
          err?: { type?: string; message?: string; stack?: string };
        };
        const at =
          o.err?.stack
            ?.split('\n')
            .slice(1, 4)
            .map((s) => s.trim())
            .join(' < ') ?? '';
        return `${o.msg ?? ''}: ${o.err?.type ?? ''} ${o.err?.message ?? ''} ${at}`.trim();
      } catch {
        return line.slice(0, 500);
      }
    })
    .join(' | ');
}

/** A local server standing in for @context URLs nobody should fetch: it counts every hit. */
async function startSentinel(): Promise<{ server: Server; url: string; hits: () => number }> {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.writeHead(200, { 'content-type': 'application/ld+json' }).end('{"@context":{}}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { server, url: `http://127.0.0.1:${port}/fuzz-context.jsonld`, hits: () => hits };
}

/** Reads an injected answer; a never-ending event stream is read to its first event, then left. */
async function answerOf(
  res: {
    statusCode: number;
    headers: Record<string, unknown>;
    stream(): Readable;
    raw: { res: ServerResponse };
  },
  started: number,
): Promise<Answer> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
  const chunks: Buffer[] = [];
  const stream = res.stream();
  if ((headers['content-type'] ?? '').startsWith('text/event-stream')) {
    // The first event, if one comes soon (a HEAD request gets the headers only).
    const first = await new Promise<Buffer | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 200);
      stream.once('data', (d: Buffer) => {
        clearTimeout(timer);
        resolve(d);
      });
      stream.once('end', () => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
    if (first) chunks.push(first);
    // The client goes away, as an EventSource does when its page closes.
    res.raw.res.req.emit('close');
    stream.resume();
  } else {
    for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  }
  return {
    status: res.statusCode,
    headers,
    body: Buffer.concat(chunks).toString('utf8'),
    ms: performance.now() - started,
  };
}

async function knownContexts(): Promise<Set<string>> {
  const index = JSON.parse(
    await readFile(join(import.meta.dirname, '../../contexts/index.json'), 'utf8'),
  ) as Record<string, string>;
  return new Set(Object.keys(index));
}

export async function runFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const slowMs = opts.slowMs ?? 5000;
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const fingerprintEvery = opts.fingerprintEvery ?? 250;
  const maxFindings = opts.maxFindings ?? 25;
  const started = performance.now();
  const report: FuzzReport = {
    seed: opts.seed,
    requests: 0,
    rawRequests: 0,
    statuses: {},
    rawStatuses: {},
    seconds: 0,
    restores: 0,
    phases: { setup: 0, answering: 0, checking: 0 },
    findings: [],
    counts: {},
  };
  // One report per kind of finding on one route (or raw request kind) and status; the rest counted.
  const bySignature = new Map<string, FoundIssue>();
  const found = (at: string, where: string, status: number | string, reproduction: string, fs: Finding[]) => {
    for (const f of fs) {
      report.counts[f.kind] = (report.counts[f.kind] ?? 0) + 1;
      const signature = `${f.kind}|${where}|${status}`;
      const held = bySignature.get(signature);
      if (held) held.occurrences++;
      else if (report.findings.length < maxFindings) {
        const issue = { ...f, at, reproduction, occurrences: 1 };
        bySignature.set(signature, issue);
        report.findings.push(issue);
      }
    }
  };

  const sentinel = await startSentinel();
  let hub: FuzzHub | undefined;
  try {
    hub = await createFuzzHub();
    const seed: Seed = await seedHub(hub.app);
    const credentials: CredentialSet = await credentialSet(seed.accounts, hub.db.pool);
    const watch: DataWatch = await watchData(hub.db.pool);
    const keeper: SeedKeeper = await keepSeed(hub.db.pool, protectedEntities());
    const contexts = await knownContexts();
    const routes = hub.routes.filter((r) => FUZZED(r.url));
    const generate = createRequestGenerator({
      routes,
      ids: seed.ids,
      credentials,
      sentinelContext: sentinel.url,
    });
    const unavailable = (r: FuzzRequest) => {
      const urls = [...(r.headers.link ?? '').matchAll(/<([^>]*)>/g)].map((m) => m[1] ?? '');
      if (r.body?.includes('@context'))
        for (const m of r.body.matchAll(/"((?:https?|file):[^"\\]*)"/g)) urls.push(m[1] ?? '');
      return urls.some((u) => !contexts.has(u));
    };
    const reproduce = (r: FuzzRequest) => {
      const hide = (s: string) => printable(elide(s, credentials.secrets));
      return [
        `${r.method} ${cut(hide(r.url), 2000)}`,
        ...Object.entries(r.headers).map(([k, v]) => `${k}: ${cut(hide(v), 300)}`),
        ...(r.body !== undefined ? ['', cut(hide(r.body), 2000)] : []),
        '',
        `(control characters shown as \\u escapes; route ${r.route.method} ${r.route.url}; ` +
          `principal ${r.principal} via ${r.credentialForm}; ` +
          `reaches the route: ${r.reachesRoute}; replay the run: FUZZ_SEED=${opts.seed} FUZZ_REQUESTS=${r.index + 1})`,
      ].join('\n');
    };

    // Who provisioned each config group (by apikey) and device (by id): the departments a
    // device's readings are written for.
    const groupOwners = new Map<string, Set<string>>([
      ['traffic-key', new Set(['transport'])],
      ['clinic-key', new Set(['health'])],
    ]);
    const deviceOwners = new Map<string, Set<string>>([
      ['tf-sensor-1', new Set(['transport'])],
      ['tf-sensor-2', new Set(['transport'])],
      ['bed-1', new Set(['health'])],
    ]);
    const own = (m: Map<string, Set<string>>, key: string | null, actors: ReadonlySet<string>) => {
      if (key === null) return;
      const held = m.get(key) ?? new Set<string>();
      for (const a of actors) held.add(a);
      m.set(key, held);
    };
    /** The departments a request acts for; undefined when that is not known. */
    const actorsOf = (r: FuzzRequest): Set<string> | undefined => {
      if (r.route.access?.who === 'device' && r.reachesRoute) {
        const q = new URLSearchParams(r.url.slice(r.url.indexOf('?') + 1 || r.url.length));
        const owners = new Set([
          ...(deviceOwners.get(q.get('i') ?? '') ?? []),
          ...(groupOwners.get(q.get('k') ?? '') ?? []),
        ]);
        return owners.size > 0 ? owners : undefined;
      }
      const dept = RIGHTS[effectivePrincipal(r)].department;
      return new Set(dept ? [dept] : []);
    };

    report.phases.setup = (performance.now() - started) / 1000;
    let mark = await watch.mark();
    let fingerprint = await watch.fingerprint();
    let fingerprintMark = mark;

    /** After a request: put back what the oracles rely on, if it changed. */
    const keep = async (changes: readonly RowChange[]) => {
      const d = keeper.disturbed(changes);
      if (!d.access && d.entities.length === 0) return;
      report.restores++;
      const h = hub as FuzzHub;
      if (d.access) {
        await keeper.restoreAccess();
        await h.access.reloadCatalog();
      }
      const ctx = await h.coreContext();
      for (const p of d.entities) {
        await h.entities.delete(p.tenant, p.id).catch(() => undefined);
        await h.entities.create(p.tenant, p.body, ctx);
      }
    };

    for (let i = 0; i < opts.requests; i++) {
      const rng = createRng(requestSeed(opts.seed, i));
      const principal = rng.weighted(PRINCIPAL_WEIGHTS);
      const req = generate(rng, i, principal);
      const t0 = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const answer = await Promise.race([
        hub.app
          .inject({
            method: req.method as 'GET',
            url: req.url,
            headers: req.headers,
            ...(req.body !== undefined ? { payload: req.body } : {}),
            payloadAsStream: true,
          })
          .then((res) => answerOf(res, t0)),
        new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), timeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
      report.requests++;
      const t1 = performance.now();
      report.phases.answering += (t1 - t0) / 1000;
      if (!answer) {
        found(`inject #${i}`, `${req.route.method} ${req.route.url}`, 'none', reproduce(req), [
          { kind: 'hang', detail: `no answer within ${timeoutMs} ms` },
        ]);
        break;
      }
      count(report.statuses, answer.status);
      const text = `${req.url}\n${Object.values(req.headers).join('\n')}\n${req.body ?? ''}`;
      const fs = checkAnswer(
        {
          method: req.method,
          text,
          principal: req.principal,
          authenticates: req.authenticates,
          purpose: req.purpose,
          access: req.route.access,
          reachesRoute: req.reachesRoute,
          tenant: req.tenant,
          unavailableContext: unavailable(req),
        },
        answer,
        slowMs,
      );
      const after = await watch.mark();
      if (after !== mark) {
        const changes = await watch.since(mark);
        fs.push(...checkRefusedWrites(answer.status, changes));
        const actors = actorsOf(req);
        fs.push(...checkWriteRights(actors, changes));
        for (const c of changes) {
          if (c.op === 'DELETE' || !actors) continue;
          if (c.table === 'iot_service_groups') own(groupOwners, c.apikey, actors);
          if (c.table === 'iot_devices') own(deviceOwners, c.rowId, actors);
        }
        await keep(changes);
        mark = await watch.mark();
      }
      const logged = hub.takeErrors();
      if (answer.status >= 500 && logged.length > 0)
        for (const f of fs)
          if (f.kind === 'server-error') f.detail += `\nthe hub logged: ${loggedError(logged)}`;
      if (fs.length > 0)
        found(`inject #${i}`, `${req.route.method} ${req.route.url}`, answer.status, reproduce(req), fs);
      report.phases.checking += (performance.now() - t1) / 1000;
      if (process.env.FUZZ_TRACE)
        console.log(i, answer.status, req.method, req.url.slice(0, 150), answer.body.slice(0, 200));

      if ((i + 1) % fingerprintEvery === 0 || i === opts.requests - 1) {
        // The md5 of the data must not move while the log shows no data change.
        const now = await watch.fingerprint();
        const logged = (await watch.since(fingerprintMark)).filter((c) => c.table !== 'access_sessions');
        if (logged.length === 0) {
          const moved = Object.keys(now).filter((t) => now[t] !== fingerprint[t]);
          if (moved.length > 0)
            found(`inject #${i}`, 'fingerprint', '-', '(no single request)', [
              { kind: 'watch-gap', detail: `tables changed without a logged change: ${moved.join(', ')}` },
            ]);
        }
        fingerprint = now;
        fingerprintMark = await watch.mark();
        mark = fingerprintMark;
      }
    }

    // Raw requests over a socket: the hub listening on port 0.
    const port = await hub.listen();
    const generateRaw = createRawGenerator(seed.accounts);
    for (let j = 0; j < opts.rawRequests; j++) {
      const raw: RawRequest = generateRaw(createRng(requestSeed(opts.seed, j, 1)), j);
      const res = await sendRaw(port, raw.bytes, slowMs, raw.then);
      report.rawRequests++;
      const fs: Finding[] = [];
      const streaming = res.answers.some((a) =>
        (a.headers['content-type'] ?? '').startsWith('text/event-stream'),
      );
      if (res.answers.length === 0)
        fs.push({
          kind: 'no-answer',
          detail: `the connection ${res.timedOut ? 'stayed open' : `was closed${res.error ? ` (${res.error})` : ''}`} without an answer`,
        });
      else if (res.timedOut && !streaming)
        fs.push({ kind: 'hang', detail: `the connection stayed open ${slowMs} ms after the answer` });
      if (res.answers.slice(0, -1).some((a) => !a.complete))
        fs.push({
          kind: 'garbled-answer',
          detail: `an answer was cut by another written into it: ${res.answers.map((a) => `${a.status}${a.complete ? '' : ' (cut)'}`).join(', ')}`,
        });
      if (res.leftover.trim() !== '')
        fs.push({
          kind: 'garbled-answer',
          detail: `bytes that are not an HTTP answer on the connection: ${JSON.stringify(cut(res.leftover, 300))}`,
        });
      if (raw.kind === 'pipelined' && res.answers.length < 2)
        fs.push({ kind: 'no-answer', detail: `${res.answers.length} answer(s) to two pipelined requests` });
      const asked = {
        method: raw.summary.split(' ')[0] ?? '',
        text: raw.bytes.toString('utf8'),
        principal: raw.principal,
        authenticates: raw.principal !== 'anonymous',
        purpose: undefined,
        access: undefined,
        reachesRoute: false,
        tenant: undefined,
        unavailableContext: false,
      };
      for (const a of res.answers) {
        count(report.rawStatuses, a.status);
        fs.push(...checkAnswer(asked, { ...a, ms: res.ms }, slowMs).filter((f) => f.kind !== 'hang'));
      }
      const after = await watch.mark();
      if (after !== mark) {
        const changes = await watch.since(mark);
        for (const a of res.answers) fs.push(...checkRefusedWrites(a.status, changes));
        const dept = RIGHTS[raw.principal].department;
        fs.push(...checkWriteRights(new Set(dept ? [dept] : []), changes));
        await keep(changes);
        mark = await watch.mark();
      }
      if (fs.length > 0)
        found(
          `raw #${j}`,
          raw.kind,
          res.answers.map((a) => a.status).join(',') || 'none',
          elide(
            `${JSON.stringify(cut(raw.bytes.toString('latin1'), 1500))}` +
              (raw.then
                ? `\nthen, once the answer has begun: ${JSON.stringify(raw.then.toString('latin1'))}`
                : '') +
              `\n(${raw.kind}; principal ${raw.principal}; ` +
              `answers: ${res.answers.map((a) => a.status).join(', ') || 'none'})`,
            credentials.secrets,
          ),
          fs,
        );
    }
    if (sentinel.hits() > 0)
      found('run', 'sentinel', '-', '(the sentinel @context URL)', [
        {
          kind: 'context-fetched',
          detail: `the hub fetched a @context URL ${sentinel.hits()} time(s) with fetching off`,
        },
      ]);
  } finally {
    await hub?.close();
    await new Promise<void>((resolve) => sentinel.server.close(() => resolve()));
    report.seconds = (performance.now() - started) / 1000;
  }
  return report;
}
