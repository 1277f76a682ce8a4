/**
 * NGSI-LD subscriptions end to end: the API (NGSI-LD §5.8) and notifications delivered over real
 * HTTP to a local receiver, through the outbox and the dispatcher.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestHub, json, type TestHub } from '../support/test-hub.js';
import { startReceiver, type Receiver } from '../support/receiver.js';

// Notification bodies are dug into freely here.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type J = Record<string, any>;

let hub: TestHub;
let rx: Receiver;

beforeAll(async () => {
  hub = await createTestHub({ delivery: { baseDelayMs: 50, maxDelayMs: 200, pollMs: 100 } });
  rx = await startReceiver();
});
afterAll(async () => {
  await rx.close();
  await hub.close();
});
beforeEach(() => {
  rx.received.length = 0;
  rx.mode = 'ok';
});

const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
  hub.request({ method: 'POST', url, payload: payload as object, headers });

async function subscribe(body: Record<string, unknown>): Promise<string> {
  const res = await post('/ngsi-ld/v1/subscriptions', {
    type: 'Subscription',
    ...body,
    notification: { endpoint: { uri: rx.url }, ...((body.notification as object | undefined) ?? {}) },
  });
  expect(res.statusCode, res.body).toBe(201);
  return decodeURIComponent(String(res.headers.location).split('/').pop() ?? '');
}

let n = 0;
const nextId = (kind = 'Room') => `urn:ngsi-ld:${kind}:s${++n}`;

describe('subscription API', () => {
  it('creates, retrieves, lists, updates and deletes a subscription', async () => {
    const id = await subscribe({
      id: 'urn:ngsi-ld:Subscription:crud',
      entities: [{ type: 'Room' }],
      q: 'temperature>30',
    });
    expect(id).toBe('urn:ngsi-ld:Subscription:crud');
    const got = json<Record<string, unknown>>(await hub.request({ url: `/ngsi-ld/v1/subscriptions/${id}` }));
    expect(got).toMatchObject({
      id,
      type: 'Subscription',
      entities: [{ type: 'Room' }],
      q: 'temperature>30',
      status: 'active',
      notificationTrigger: ['attributeCreated', 'attributeUpdated'],
      notification: {
        format: 'normalized',
        endpoint: { uri: rx.url, accept: 'application/json' },
      },
    });
    const list = await hub.request({ url: '/ngsi-ld/v1/subscriptions?count=true' });
    expect(list.headers['ngsild-results-count']).toBeDefined();
    expect(json<{ id: string }[]>(list).some((s) => s.id === id)).toBe(true);

    const patch = await hub.request({
      method: 'PATCH',
      url: `/ngsi-ld/v1/subscriptions/${id}`,
      payload: { isActive: false, notification: { format: 'keyValues', endpoint: { uri: rx.url } } },
    });
    expect(patch.statusCode, patch.body).toBe(204);
    const after = json<J>(await hub.request({ url: `/ngsi-ld/v1/subscriptions/${id}` }));
    expect(after.status).toBe('paused');
    expect(after.notification.format).toBe('keyValues');
    expect(after.notification.endpoint.uri).toBe(rx.url);

    expect((await hub.request({ method: 'DELETE', url: `/ngsi-ld/v1/subscriptions/${id}` })).statusCode).toBe(
      204,
    );
    expect((await hub.request({ url: `/ngsi-ld/v1/subscriptions/${id}` })).statusCode).toBe(404);
    expect((await hub.request({ method: 'DELETE', url: `/ngsi-ld/v1/subscriptions/${id}` })).statusCode).toBe(
      404,
    );
  });

  it.each([
    ['no body members', {}],
    ['wrong type', { type: 'Sub', entities: [{ type: 'Room' }] }],
    ['bad id', { id: 'not a uri', entities: [{ type: 'Room' }] }],
    ['nothing watched', { notification: { endpoint: { uri: 'http://x/' } } }],
    ['no endpoint', { entities: [{ type: 'Room' }], notification: {} }],
    ['ftp endpoint', { entities: [{ type: 'Room' }], notification: { endpoint: { uri: 'ftp://x/y' } } }],
    ['negative throttling', { entities: [{ type: 'Room' }], throttling: -1 }],
    ['throttling and timeInterval', { entities: [{ type: 'Room' }], throttling: 5, timeInterval: 5 }],
    [
      'timeInterval and watchedAttributes',
      { entities: [{ type: 'Room' }], watchedAttributes: ['a'], timeInterval: 5 },
    ],
    ['bad q', { entities: [{ type: 'Room' }], q: 'temperature>>' }],
    ['bad trigger', { entities: [{ type: 'Room' }], notificationTrigger: ['entityExploded'] }],
    ['expiresAt in the past', { entities: [{ type: 'Room' }], expiresAt: '2001-01-01T00:00:00Z' }],
    ['bad format', { entities: [{ type: 'Room' }], notification: { format: 'pretty' } }],
    [
      'pick with attributes',
      { entities: [{ type: 'Room' }], notification: { pick: ['a'], attributes: ['a'] } },
    ],
    [
      'bad geoQ',
      { entities: [{ type: 'Room' }], geoQ: { georel: 'near', geometry: 'Point', coordinates: [1] } },
    ],
  ])('rejects a subscription with %s (BadRequestData)', async (_what, body) => {
    const payload = {
      type: 'Subscription',
      notification: { endpoint: { uri: 'http://127.0.0.1:9/n' } },
      ...body,
    } as Record<string, unknown>;
    if ((body as Record<string, unknown>).notification !== undefined)
      payload.notification = {
        endpoint: { uri: 'http://127.0.0.1:9/n' },
        ...((body as J).notification as object),
      };
    if (_what === 'no endpoint') payload.notification = {};
    if (_what === 'no body members') delete payload.type;
    const res = await post('/ngsi-ld/v1/subscriptions', payload);
    expect(res.statusCode, res.body).toBe(400);
    expect(json<{ type: string }>(res).type).toBe('https://uri.etsi.org/ngsi-ld/errors/BadRequestData');
  });

  it('refuses a second subscription with the same id (409)', async () => {
    await subscribe({ id: 'urn:ngsi-ld:Subscription:twice', entities: [{ type: 'Room' }] });
    const res = await post('/ngsi-ld/v1/subscriptions', {
      id: 'urn:ngsi-ld:Subscription:twice',
      type: 'Subscription',
      entities: [{ type: 'Room' }],
      notification: { endpoint: { uri: rx.url } },
    });
    expect(res.statusCode).toBe(409);
  });
});

describe('notifications', () => {
  it('notifies creation and updates, with a stable id and the context Link header', async () => {
    const sub = await subscribe({ entities: [{ type: 'Lamp' }] });
    const id = nextId('Lamp');
    await post('/ngsi-ld/v1/entities', { id, type: 'Lamp', power: { type: 'Property', value: 1 } });
    await hub.request({
      method: 'PATCH',
      url: `/ngsi-ld/v1/entities/${id}/attrs`,
      payload: { power: { type: 'Property', value: 2 } },
    });
    const got = await rx.waitFor(2);
    const mine = got.filter((r) => r.body.subscriptionId === sub);
    expect(mine.map((r) => (r.body.data[0] as J).power.value)).toEqual([1, 2]);
    expect(mine[0]?.body.id).toMatch(/^urn:ngsi-ld:Notification:/);
    expect(mine[0]?.body.id).not.toBe(mine[1]?.body.id);
    expect(mine[0]?.headers.link).toContain('ngsi-ld-core-context');
    await expect
      .poll(
        async () =>
          json<J>(await hub.request({ url: `/ngsi-ld/v1/subscriptions/${sub}` })).notification.timesSent,
      )
      .toBe(2);
    await hub.request({ method: 'DELETE', url: `/ngsi-ld/v1/subscriptions/${sub}` });
  });

  it('honours q, watchedAttributes and entityDeleted', async () => {
    const hot = await subscribe({
      entities: [{ type: 'Oven' }],
      q: 'temperature>100',
      watchedAttributes: ['temperature'],
    });
    const gone = await subscribe({ entities: [{ type: 'Oven' }], notificationTrigger: ['entityDeleted'] });
    const id = nextId('Oven');
    const created = await post('/ngsi-ld/v1/entities', {
      id,
      type: 'Oven',
      temperature: { type: 'Property', value: 20 },
    });
    expect(created.statusCode, created.body).toBe(201);
    await hub.request({
      method: 'PATCH',
      url: `/ngsi-ld/v1/entities/${id}/attrs`,
      payload: { colour: { type: 'Property', value: 'red' } },
    });
    await hub.request({
      method: 'PATCH',
      url: `/ngsi-ld/v1/entities/${id}/attrs`,
      payload: { temperature: { type: 'Property', value: 180 } },
    });
    await hub.request({ method: 'DELETE', url: `/ngsi-ld/v1/entities/${id}` });
    const got = await rx.waitFor(2);
    const hotOnes = got.filter((r) => r.body.subscriptionId === hot);
    expect(hotOnes).toHaveLength(1);
    expect((hotOnes[0]?.body.data[0] as J).temperature.value).toBe(180);
    const goneOnes = got.filter((r) => r.body.subscriptionId === gone);
    expect(goneOnes).toHaveLength(1);
    expect(Object.keys(goneOnes[0]?.body.data[0] ?? {}).sort()).toEqual(['deletedAt', 'id', 'type']);
  });

  it('delivers every notification in order after the receiver was down', async () => {
    const sub = await subscribe({ entities: [{ type: 'Meter' }], notification: { format: 'keyValues' } });
    const id = nextId('Meter');
    rx.mode = 'fail';
    await post('/ngsi-ld/v1/entities', { id, type: 'Meter', reading: { type: 'Property', value: 0 } });
    for (let i = 1; i <= 9; i++) {
      await hub.request({
        method: 'PATCH',
        url: `/ngsi-ld/v1/entities/${id}/attrs`,
        payload: { reading: { type: 'Property', value: i } },
      });
    }
    await expect
      .poll(
        async () =>
          json<J>(await hub.request({ url: `/ngsi-ld/v1/subscriptions/${sub}` })).notification.status,
        {
          timeout: 10_000,
        },
      )
      .toBe('failed');
    const pending = json<{ count: number }>(
      await hub.request({ url: `/api/v1/notifications?subscriptionId=${encodeURIComponent(sub)}` }),
    );
    expect(pending.count).toBe(10);
    rx.mode = 'ok';
    const got = await rx.waitFor(10);
    expect(
      got.filter((r) => r.body.subscriptionId === sub).map((r) => (r.body.data[0] as J).reading),
    ).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const s = json<J>(await hub.request({ url: `/ngsi-ld/v1/subscriptions/${sub}` }));
    expect(s.notification.status).toBe('ok');
    expect(s.notification.lastFailure).toBeDefined();
    expect(s.notification.lastSuccess > s.notification.lastFailure).toBe(true);
  });
});
