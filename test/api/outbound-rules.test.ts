/**
 * Server-side request forgery: the hub never sends notifications to, nor fetches @context documents
 * from, link-local and cloud-metadata addresses. A literal address is refused at the API (400); a
 * name is judged on the address it resolves to, at delivery, where the refusal is recorded as the
 * failure reason. Loopback is allowed by default; the operator's deny and allow rules
 * (--deny-endpoints, --allow-endpoints) tighten and open.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboundRules } from '../../src/server/hub-services.js';
import { createHubServices } from '../../src/server/hub-services.js';
import { createPostgresStore } from '../../src/store/postgres-store.js';
import type { Store } from '../../src/core/store.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { LD, json, link } from '../support/test-hub.js';

type Services = Awaited<ReturnType<typeof createHubServices>>;
interface Problem {
  type: string;
  status: number;
  detail: string;
}
interface Undelivered {
  subscriptionId: string;
  lastError?: string;
  attempts: number;
}

const BAD_REQUEST = 'https://uri.etsi.org/ngsi-ld/errors/BadRequestData';
const NOT_AVAILABLE = 'https://uri.etsi.org/ngsi-ld/errors/LdContextNotAvailable';

const dbs: TestDatabase[] = [];
const stores: Store[] = [];
const hubs: Services[] = [];
let rx: Receiver;
let contextServer: Server;
let contextBase = '';
let contextHits = 0;

/**
 * A hub with these outbound rules (the flags' values), fetching @context URLs, delivering fast; on
 * a database of its own, so that no other hub's dispatcher (other rules) takes its notifications.
 */
async function hubWith(outbound?: OutboundRules): Promise<Services> {
  const db = await createTestDatabase();
  dbs.push(db);
  const store = await createPostgresStore({ url: db.url, max: 3 });
  stores.push(store);
  const s = await createHubServices(store, {
    ...(outbound ? { outbound } : {}),
    delivery: { baseDelayMs: 50, maxDelayMs: 200, pollMs: 100, timeoutMs: 2000 },
  });
  await s.start();
  hubs.push(s);
  return s;
}

beforeAll(async () => {
  rx = await startReceiver();
  contextServer = createServer((_req, res) => {
    contextHits++;
    res.writeHead(200).end('{"@context":{"level":"https://city.example/level"}}');
  });
  await new Promise<void>((r) => contextServer.listen(0, '127.0.0.1', r));
  contextBase = `http://127.0.0.1:${(contextServer.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await rx.close();
  contextServer.closeAllConnections();
  await new Promise<void>((r) => contextServer.close(() => r()));
  for (const s of hubs) {
    await s.stop();
    await s.app.close();
  }
  for (const st of stores) await st.close();
  for (const db of dbs) await db.drop();
});

let n = 0;
const subscription = (uri: string, type: string, extra: Record<string, unknown> = {}) => ({
  id: `urn:ngsi-ld:Subscription:outbound-${++n}`,
  type: 'Subscription',
  entities: [{ type }],
  notification: { endpoint: { uri } },
  ...extra,
});

const subscribe = (s: Services, body: object) =>
  s.app.inject({ method: 'POST', url: '/ngsi-ld/v1/subscriptions', payload: body });

async function write(s: Services, type: string): Promise<void> {
  const res = await s.app.inject({
    method: 'POST',
    url: '/ngsi-ld/v1/entities',
    payload: { id: `urn:ngsi-ld:${type}:${++n}`, type, level: { type: 'Property', value: 1 } },
  });
  expect(res.statusCode, res.body).toBe(201);
}

function problem(res: LightMyRequestResponse): Problem {
  return json<Problem>(res);
}

describe('default rules', () => {
  let hub: Services;
  beforeAll(async () => {
    hub = await hubWith();
  });

  it.each([
    ['http://169.254.169.254/latest/meta-data/iam/', '169.254.0.0/16'],
    ['http://169.254.170.2/v2/credentials', '169.254.0.0/16'],
    ['http://[::ffff:169.254.169.254]/', '169.254.0.0/16'],
    ['http://100.100.100.200/latest/meta-data/', '100.100.100.200/32'],
    ['https://[fd00:ec2::254]/latest/', 'fd00:ec2::254/128'],
    ['http://0.0.0.0:1026/', '0.0.0.0/8'],
    ['mqtt://169.254.169.254/city/alerts', '169.254.0.0/16'],
    ['http://[fe80::1]:8080/', 'fe80::/10'],
    ['http://0251.0376.0251.0376/', '169.254.0.0/16'], // octal: URL parsing makes it 169.254.169.254
    ['http://169.254.43518/', '169.254.0.0/16'],
  ])('refuses a subscription to %s with 400 naming %s and the flag', async (uri, range) => {
    const res = await subscribe(hub, subscription(uri, 'Meter'));
    expect(res.statusCode, res.body).toBe(400);
    const p = problem(res);
    expect(p.type).toBe(BAD_REQUEST);
    expect(p.detail).toContain(`notification.endpoint.uri ${uri}: the hub does not connect to`);
    expect(p.detail).toContain(`in ${range}`);
    expect(p.detail).toContain('--allow-endpoints (CITYPIVOT_ALLOW_ENDPOINTS) opens it');
  });

  it('refuses an update that moves the endpoint to a metadata address, and keeps the old one', async () => {
    const body = subscription(rx.url, 'Meter');
    expect((await subscribe(hub, body)).statusCode).toBe(201);
    const res = await hub.app.inject({
      method: 'PATCH',
      url: `/ngsi-ld/v1/subscriptions/${body.id}`,
      payload: { notification: { endpoint: { uri: 'http://169.254.169.254/' } } },
    });
    expect(res.statusCode, res.body).toBe(400);
    expect(problem(res).detail).toContain('169.254.0.0/16');
    const held = json<{ notification: { endpoint: { uri: string } } }>(
      await hub.app.inject({ url: `/ngsi-ld/v1/subscriptions/${body.id}` }),
    );
    expect(held.notification.endpoint.uri).toBe(rx.url);
  });

  it('delivers to loopback: a local receiver gets its notification', async () => {
    rx.received.length = 0;
    expect((await subscribe(hub, subscription(rx.url, 'Lamp'))).statusCode).toBe(201);
    await write(hub, 'Lamp');
    const got = await rx.waitFor(1);
    expect(got[0]?.body.data[0]).toMatchObject({ type: 'Lamp' });
  });

  it('refuses @context URLs on metadata addresses with LdContextNotAvailable, not 500', async () => {
    const viaLink = await hub.app.inject({
      url: '/ngsi-ld/v1/types',
      headers: link('http://169.254.169.254/latest/user-data'),
    });
    expect(viaLink.statusCode, viaLink.body).toBe(503);
    expect(problem(viaLink).type).toBe(NOT_AVAILABLE);
    expect(problem(viaLink).detail).toMatch(
      /169\.254\.169\.254 is in 169\.254\.0\.0\/16 .*--allow-endpoints/,
    );

    const inBody = await hub.app.inject({
      method: 'POST',
      url: '/ngsi-ld/v1/entities',
      headers: { 'content-type': LD },
      payload: {
        id: 'urn:ngsi-ld:Meter:ctx',
        type: 'Meter',
        '@context': 'http://[fd00:ec2::254]/ctx.jsonld',
      },
    });
    expect(inBody.statusCode, inBody.body).toBe(503);
    expect(problem(inBody).detail).toContain('AWS IPv6 metadata service');

    const notifyWith = await subscribe(
      hub,
      subscription(rx.url, 'Meter', { jsonldContext: 'http://169.254.169.254/ctx.jsonld' }),
    );
    expect(notifyWith.statusCode, notifyWith.body).toBe(503);
    expect(problem(notifyWith).type).toBe(NOT_AVAILABLE);
  });

  it('refuses the URL inside a hosted @context when it is used, not when it is stored', async () => {
    const posted = await hub.app.inject({
      method: 'POST',
      url: '/ngsi-ld/v1/jsonldContexts',
      payload: { '@context': 'http://169.254.169.254/latest/meta-data/' },
    });
    expect(posted.statusCode, posted.body).toBe(201); // nothing is fetched yet
    const hosted = `http://localhost:80${String(posted.headers.location)}`;
    const res = await hub.app.inject({ url: '/ngsi-ld/v1/types', headers: link(hosted) });
    expect(res.statusCode, res.body).toBe(503);
    expect(problem(res).detail).toContain('169.254.169.254 is in 169.254.0.0/16');
  });
});

describe('a deny rule for loopback', () => {
  let hub: Services;
  beforeAll(async () => {
    hub = await hubWith({ deny: ['127.0.0.0/8', '::1'] });
  });

  it('refuses a literal loopback endpoint at the API, naming --deny-endpoints', async () => {
    const res = await subscribe(hub, subscription(rx.url, 'Meter'));
    expect(res.statusCode, res.body).toBe(400);
    expect(problem(res).detail).toContain(
      'in 127.0.0.0/8, refused by --deny-endpoints (CITYPIVOT_DENY_ENDPOINTS); --allow-endpoints',
    );
  });

  it('fails the delivery to a name that resolves to loopback, records why, and sends nothing', async () => {
    rx.received.length = 0;
    const body = subscription(`http://localhost:${rx.port}/notify`, 'Siren');
    const created = await subscribe(hub, body);
    expect(created.statusCode, created.body).toBe(201); // a name: judged at delivery
    await write(hub, 'Siren');
    await expect
      .poll(
        async () => {
          const res = await hub.app.inject({ url: `/api/v1/notifications?subscriptionId=${body.id}` });
          return json<{ items: Undelivered[] }>(res).items[0]?.lastError ?? '';
        },
        { timeout: 10_000 },
      )
      .toMatch(
        /^http:\/\/localhost:\d+\/notify: localhost resolves to (127\.0\.0\.1|::1), which is in (127\.0\.0\.0\/8|::1\/128), refused by --deny-endpoints/,
      );
    const sub = json<{ notification: { status?: string; lastFailure?: string } }>(
      await hub.app.inject({ url: `/ngsi-ld/v1/subscriptions/${body.id}` }),
    );
    expect(sub.notification.status).toBe('failed');
    expect(sub.notification.lastFailure).toBeDefined();
    expect(rx.received).toHaveLength(0);
  });

  it('does not fetch an @context from loopback', async () => {
    const before = contextHits;
    const res = await hub.app.inject({
      url: '/ngsi-ld/v1/types',
      headers: link(`${contextBase}/deny.jsonld`),
    });
    expect(res.statusCode, res.body).toBe(503);
    expect(problem(res).detail).toContain('127.0.0.1 is in 127.0.0.0/8, refused by --deny-endpoints');
    expect(contextHits).toBe(before);
  });
});

describe('allow rules', () => {
  let hub: Services;
  beforeAll(async () => {
    hub = await hubWith({ deny: ['127.0.0.0/8', '::1'], allow: ['127.0.0.1', '169.254.169.254'] });
  });

  it('open a denied range: the receiver on 127.0.0.1 gets its notification', async () => {
    rx.received.length = 0;
    expect((await subscribe(hub, subscription(rx.url, 'Gate'))).statusCode).toBe(201);
    await write(hub, 'Gate');
    const got = await rx.waitFor(1);
    expect(got[0]?.body.data[0]).toMatchObject({ type: 'Gate' });
  });

  it('open a built-in range for the addresses they name only', async () => {
    const opened = await subscribe(hub, subscription('http://169.254.169.254/', 'Vault'));
    expect(opened.statusCode, opened.body).toBe(201);
    const still = await subscribe(hub, subscription('http://169.254.170.2/', 'Vault'));
    expect(still.statusCode, still.body).toBe(400);
  });

  it('open @context fetches too', async () => {
    const before = contextHits;
    const res = await hub.app.inject({
      url: '/ngsi-ld/v1/types',
      headers: link(`${contextBase}/allow.jsonld`),
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(contextHits).toBe(before + 1);
  });
});
