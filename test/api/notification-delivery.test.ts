/**
 * The delivery promises of the outbox (issue 3): two hub instances on one database share the work
 * and send each notification once; a dead endpoint does not hold up a healthy one; the live stream
 * sees changes made on another instance.
 */
import { readSse } from '../support/sse.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHubServices } from '../../src/server/hub-services.js';
import { createPostgresStore } from '../../src/store/postgres-store.js';
import type { Store } from '../../src/core/store.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startReceiver, type Receiver } from '../support/receiver.js';

type Services = Awaited<ReturnType<typeof createHubServices>>;

let db: TestDatabase;
const stores: Store[] = [];
const instances: Services[] = [];
const receivers: Receiver[] = [];
const cleanups: (() => Promise<void>)[] = [];

async function instance(): Promise<Services> {
  const store = await createPostgresStore({ url: db.url, max: 4 });
  stores.push(store);
  const s = await createHubServices(store, {
    delivery: { baseDelayMs: 50, maxDelayMs: 200, pollMs: 100, timeoutMs: 2000, perEndpoint: 2 },
  });
  await s.start();
  instances.push(s);
  return s;
}

async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  receivers.push(r);
  return r;
}

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  for (const r of receivers) await r.close();
  for (const s of instances) {
    await s.stop();
    await s.app.close();
  }
  for (const st of stores) await st.close();
  for (const c of cleanups) await c();
  await db.drop();
});

async function subscribe(s: Services, type: string, uri: string): Promise<void> {
  const res = await s.app.inject({
    method: 'POST',
    url: '/ngsi-ld/v1/subscriptions',
    payload: { type: 'Subscription', entities: [{ type }], notification: { endpoint: { uri } } },
  });
  expect(res.statusCode, res.body).toBe(201);
}

async function write(s: Services, id: string, type: string, value: number): Promise<void> {
  const res =
    value === 0
      ? await s.app.inject({
          method: 'POST',
          url: '/ngsi-ld/v1/entities',
          payload: { id, type, v: { type: 'Property', value } },
        })
      : await s.app.inject({
          method: 'PATCH',
          url: `/ngsi-ld/v1/entities/${id}/attrs`,
          payload: { v: { type: 'Property', value } },
        });
  expect(res.statusCode, res.body).toBeLessThan(300);
}

describe('several instances on one database', () => {
  it('delivers each change once, in order per entity, whichever instance wrote it', async () => {
    const a = await instance();
    const b = await instance();
    const rx = await receiver();
    await subscribe(a, 'Counter', rx.url);
    // Writes alternate between the instances; both dispatchers run.
    const ids = ['urn:ngsi-ld:Counter:1', 'urn:ngsi-ld:Counter:2', 'urn:ngsi-ld:Counter:3'];
    for (let v = 0; v < 10; v++) {
      for (const [i, id] of ids.entries()) await write((v + i) % 2 === 0 ? a : b, id, 'Counter', v);
    }
    await rx.waitFor(30);
    // Give a duplicate every chance to show up: wait until both outboxes are drained.
    await expect
      .poll(
        async () => (await a.notifications.subscriptions.listUndelivered('', { limit: 1, offset: 0 })).count,
      )
      .toBe(0);
    expect(rx.received).toHaveLength(30);
    expect(new Set(rx.received.map((r) => r.body.id)).size).toBe(30);
    for (const id of ids) {
      const values = rx.received
        .map((r) => r.body.data[0] as { id: string; v: { value: number } })
        .filter((e) => e.id === id)
        .map((e) => e.v.value);
      expect(values).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
  });

  it('streams changes written on another instance', async () => {
    const [a, b] = instances as [Services, Services];
    const address = await a.app.listen({ port: 0, host: '127.0.0.1' });
    const res = await fetch(`${address}/api/v1/stream?type=Lamp&options=keyValues`);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const sse = readSse<{ id: string; kind: string; entity?: Record<string, unknown> }>(res);
    const events = sse.events;
    await write(b, 'urn:ngsi-ld:Tree:1', 'Tree', 0);
    await write(b, 'urn:ngsi-ld:Lamp:1', 'Lamp', 0);
    await write(a, 'urn:ngsi-ld:Lamp:1', 'Lamp', 5);
    await expect.poll(() => events.length, { timeout: 10_000 }).toBe(2);
    expect(events.map((e) => [e.id, e.kind, e.entity?.v])).toEqual([
      ['urn:ngsi-ld:Lamp:1', 'created', 0],
      ['urn:ngsi-ld:Lamp:1', 'updated', 5],
    ]);
    await sse.close();
  });
});

describe('isolation between endpoints', () => {
  it('keeps delivering to a healthy endpoint while another one hangs', async () => {
    const [a] = instances as [Services];
    const dead = await receiver();
    dead.mode = 'hang';
    const healthy = await receiver();
    await subscribe(a, 'Valve', dead.url);
    await subscribe(a, 'Valve', healthy.url);
    for (let i = 0; i < 20; i++) await write(a, `urn:ngsi-ld:Valve:${i}`, 'Valve', 0);
    // Every one of the 20 reaches the healthy receiver while the dead one still holds its requests.
    await healthy.waitFor(20, 10_000);
    expect(dead.received).toHaveLength(0);
    // At most perEndpoint (2) deliveries per instance wait on the dead endpoint at any time.
    expect(a.notifications.dispatcher.inFlightTo(dead.url)).toBeLessThanOrEqual(2);
    expect(a.notifications.dispatcher.inFlightTo(dead.url)).toBeGreaterThan(0);
  });
});

describe('claiming ahead', () => {
  it('runs at most `concurrency` deliveries while as many more wait claimed, and delivers them all', async () => {
    // A database of its own: the other tests' instances would claim these rows too.
    const own = await createTestDatabase();
    const store = await createPostgresStore({ url: own.url, max: 4 });
    stores.push(store);
    const s = await createHubServices(store, {
      delivery: { baseDelayMs: 50, maxDelayMs: 200, pollMs: 100, timeoutMs: 1000, concurrency: 3 },
    });
    cleanups.push(() => own.drop());
    await s.start();
    instances.push(s);
    const slow = await Promise.all(Array.from({ length: 8 }, () => receiver()));
    for (const r of slow) {
      r.mode = 'hang';
      await subscribe(s, 'Gate', r.url);
    }
    await write(s, 'urn:ngsi-ld:Gate:1', 'Gate', 0);
    const claimed = () => slow.reduce((n, r) => n + s.notifications.dispatcher.inFlightTo(r.url), 0);
    await expect.poll(claimed, { timeout: 5000 }).toBe(6);
    expect(s.notifications.dispatcher.inFlight).toBe(3);
    for (const r of slow) r.mode = 'ok';
    await Promise.all(slow.map((r) => r.waitFor(1, 15_000)));
  });
});

describe('subscription-delete-during-delivery', () => {
  it('deletes a subscription while its notifications are being claimed and sent', async () => {
    const [a, b] = instances as [Services, Services];
    const rx = await receiver();
    rx.mode = 'fail';
    for (let round = 0; round < 8; round++) {
      const res = await a.app.inject({
        method: 'POST',
        url: '/ngsi-ld/v1/subscriptions',
        payload: {
          id: `urn:ngsi-ld:Subscription:del${round}`,
          type: 'Subscription',
          entities: [{ type: 'Gate' }],
          notification: { endpoint: { uri: rx.url } },
        },
      });
      expect(res.statusCode, res.body).toBe(201);
      for (let i = 0; i < 5; i++) await write(i % 2 ? a : b, `urn:ngsi-ld:Gate:${round}-${i}`, 'Gate', 0);
      const del = await b.app.inject({
        method: 'DELETE',
        url: `/ngsi-ld/v1/subscriptions/urn:ngsi-ld:Subscription:del${round}`,
      });
      expect(del.statusCode, del.body).toBe(204);
    }
    for (let round = 0; round < 8; round++) {
      const left = await a.notifications.subscriptions.listUndelivered('', {
        subscriptionId: `urn:ngsi-ld:Subscription:del${round}`,
        limit: 1,
        offset: 0,
      });
      expect(left.count).toBe(0);
    }
  });
});
