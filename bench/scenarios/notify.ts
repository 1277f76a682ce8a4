/**
 * notify: entity changes fanned out to 1,000 subscriptions on a local receiver, against a bare
 * sender (Node's fetch, that is undici) posting the same bodies to the same receiver at the
 * dispatcher's concurrency (64). Target: ratio >= 0.5.
 *
 * The hub's figure covers the whole path: each PATCH commits its 1,000 outbox rows with the change,
 * the dispatcher (in the hub's child process) leases them with SKIP LOCKED, posts them, and deletes
 * them. The receiver runs in the bench process and answers 204; the baseline sender runs there too.
 *
 * Correctness: the receiver must see every expected notification id (changes x subscriptions),
 * each at least once.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { alternate, ratioRow } from '../lib/repeat.js';
import type { BenchContext, Scenario } from '../lib/scenario.js';

const SUBSCRIPTIONS = 1_000;
const TARGET = 0.5;
/** The dispatcher's default concurrency (deliveries in flight per instance). */
const CONCURRENCY = 64;

interface Receiver {
  url: string;
  /** Notification ids seen, with the subscription ids of the current round. */
  ids: Set<string>;
  lastBody: string;
  waitFor(n: number, ms: number): Promise<void>;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const ids = new Set<string>();
  let waiter: { n: number; resolve: () => void } | undefined;
  const r: Receiver = {
    url: '',
    ids,
    lastBody: '',
    async waitFor(n, ms) {
      if (ids.size >= n) return;
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`notify: ${ids.size} of ${n} notifications in ${ms} ms`)),
          ms,
        );
        waiter = {
          n,
          resolve: () => {
            clearTimeout(t);
            resolve();
          },
        };
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const id = /"id":"([^"]+)"/.exec(body)?.[1];
      if (id) ids.add(id);
      r.lastBody = body;
      res.statusCode = 204;
      res.end();
      if (waiter && ids.size >= waiter.n) {
        const w = waiter;
        waiter = undefined;
        w.resolve();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return r;
}

async function request(url: string, method: string, body: unknown): Promise<number> {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

export const scenario: Scenario = {
  name: 'notify',
  order: 60,
  summary: `changes fanned out to ${SUBSCRIPTIONS.toLocaleString('en-US')} subscriptions over HTTP, vs a bare fetch sender posting the same bodies`,
  async run(ctx: BenchContext) {
    const changes = ctx.settings.quick ? 3 : 10;
    const total = changes * SUBSCRIPTIONS;
    const db = await ctx.createDatabase('notify');
    const hub = await ctx.startHub(db.url);
    const rx = await startReceiver();
    ctx.onCleanup(() => rx.close());
    for (let i = 0; i < SUBSCRIPTIONS; i++) {
      // One endpoint per subscription, as departments each have their own receiver.
      const status = await request(`${hub.url}/ngsi-ld/v1/subscriptions`, 'POST', {
        type: 'Subscription',
        entities: [{ type: 'BenchSignal' }],
        notification: { format: 'keyValues', endpoint: { uri: `${rx.url}/r/${i}` } },
      });
      if (status !== 201) throw new Error(`notify: creating subscription ${i} answered ${status}`);
    }
    let round = 0;
    let checked = 0;
    const hubRun = async () => {
      const id = `urn:ngsi-ld:BenchSignal:${++round}`;
      rx.ids.clear();
      const t0 = performance.now();
      if (
        (await request(`${hub.url}/ngsi-ld/v1/entities`, 'POST', { id, type: 'BenchSignal', level: 0 })) !==
        201
      )
        throw new Error('notify: entity create failed');
      for (let v = 1; v < changes; v++) {
        const s = await request(`${hub.url}/ngsi-ld/v1/entities/${encodeURIComponent(id)}/attrs`, 'PATCH', {
          level: v,
        });
        if (s !== 204) throw new Error(`notify: PATCH answered ${s}`);
      }
      await rx.waitFor(total, 300_000);
      const rate = total / ((performance.now() - t0) / 1000);
      checked += rx.ids.size;
      return rate;
    };
    // The baseline posts the hub's own notification bytes, each with its own id.
    const baseRun = async () => {
      const template = rx.lastBody;
      rx.ids.clear();
      let next = 0;
      const t0 = performance.now();
      const worker = async () => {
        for (;;) {
          const i = next++;
          if (i >= total) return;
          const body = template.replace(/"id":"[^"]+"/, `"id":"urn:bench:${round}:${i}"`);
          const res = await fetch(`${rx.url}/r/${i % SUBSCRIPTIONS}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
          });
          await res.arrayBuffer();
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      await rx.waitFor(total, 300_000);
      return total / ((performance.now() - t0) / 1000);
    };
    await hubRun(); // warm-up, and the bytes the baseline sends
    const runs = await alternate(
      ctx,
      'notify',
      { hub: hubRun, baseline: baseRun },
      (r) => r,
      'notifications/s',
    );
    await hub.stop();
    return {
      results: [ratioRow('notify', runs.hub, runs.baseline, TARGET, 'notifications/s')],
      notes: [
        `notify: ${changes} changes x ${SUBSCRIPTIONS} subscriptions per hub run; every one of ${checked.toLocaleString('en-US')} notification ids arrived`,
      ],
    };
  },
};
