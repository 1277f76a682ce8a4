/**
 * Subscriptions under access control (issue 6 on issue 3's paths): a subscriber only receives what
 * its owner may read, masked as on any read; subscriptions are private to their owner.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json, JSON_CT, type TestHub } from '../support/test-hub.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { authHub, bearer, flow, person, seedDepartments } from './access-support.js';

describe('notifications carry only what the owner may read', () => {
  let hub: TestHub;
  let rx: Receiver;
  let t: Awaited<ReturnType<typeof seedDepartments>>;
  const as = (token: string) => ({ ...bearer(token), ...JSON_CT });

  beforeAll(async () => {
    hub = await authHub({ dataKey: Buffer.alloc(32, 9) });
    rx = await startReceiver();
    t = await seedDepartments(hub);
    for (const [attr, sensitivity, mask] of [
      ['mobile', 'personal', 'mobile'],
      ['diagnosis', 'sensitive-personal', 'redact'],
    ]) {
      const r = await hub.request({
        method: 'PUT',
        url: '/api/v1/catalog',
        headers: as(t.admin),
        payload: { entityType: 'Person', attr, sensitivity, mask },
      });
      expect(r.statusCode, r.body).toBe(204);
    }
  });
  afterAll(async () => {
    await rx?.close();
    await hub?.close();
  });

  /** A subscription to a type, or (no type) to any entity with an `intensity`. */
  async function subscribe(token: string, type: string | undefined, name: string): Promise<string> {
    const r = await hub.request({
      method: 'POST',
      url: '/ngsi-ld/v1/subscriptions',
      headers: as(token),
      payload: {
        type: 'Subscription',
        subscriptionName: name,
        ...(type ? { entities: [{ type }] } : { watchedAttributes: ['intensity'] }),
        notification: { endpoint: { uri: `${rx.url}?${name}` } },
      },
    });
    expect(r.statusCode, r.body).toBe(201);
    return decodeURIComponent(String(r.headers.location).split('/').pop() ?? '');
  }

  it('masks and drops attributes per the owner, and sends nothing outside its policies', async () => {
    const transportSub = await subscribe(t.transport, 'Person', 'transport');
    const healthSub = await subscribe(t.health, 'Person', 'health');
    // health has no policy on traffic data: a subscription naming the type is refused, one that
    // watches an attribute traffic data has must stay silent
    const named = await hub.request({
      method: 'POST',
      url: '/ngsi-ld/v1/subscriptions',
      headers: as(t.health),
      payload: {
        type: 'Subscription',
        entities: [{ type: 'TrafficFlowObserved' }],
        notification: { endpoint: { uri: `${rx.url}?named` } },
      },
    });
    expect(named.statusCode, named.body).toBe(403);
    const blind = await subscribe(t.health, undefined, 'blind');
    const seeing = await subscribe(t.transport, 'TrafficFlowObserved', 'seeing');
    const w = await hub.request({
      method: 'POST',
      url: '/ngsi-ld/v1/entities',
      headers: as(t.health),
      payload: person(7),
    });
    expect(w.statusCode, w.body).toBe(201);
    const f = await hub.request({
      method: 'POST',
      url: '/ngsi-ld/v1/entities',
      headers: as(t.transport),
      payload: flow(5),
    });
    expect(f.statusCode, f.body).toBe(201);
    const got = await rx.waitFor(3);
    const bySub = (id: string) => got.filter((r) => r.body.subscriptionId === id).map((r) => r.body.data[0]!);
    const seenByTransport = bySub(transportSub)[0] as Record<string, { value: unknown }>;
    expect(seenByTransport.mobile?.value).toBe('138****5678');
    expect(seenByTransport.diagnosis).toBeUndefined(); // not in transport's policy
    const seenByHealth = bySub(healthSub)[0] as Record<string, { value: unknown }>;
    expect(seenByHealth.diagnosis).toBeDefined();
    expect(seenByHealth.mobile?.value).toBe('138****5678'); // masked without a grant, even for health
    expect(bySub(seeing)).toHaveLength(1);
    expect(bySub(blind)).toHaveLength(0);
    // Written in the same transaction as `seeing`'s: had it been matched, it would be sent or pending.
    const b = json<{ notification: { timesSent?: number } }>(
      await hub.request({ url: `/ngsi-ld/v1/subscriptions/${blind}`, headers: bearer(t.health) }),
    );
    expect(b.notification.timesSent).toBeUndefined();
    const pending = json<{ count: number }>(
      await hub.request({
        url: `/api/v1/notifications?subscriptionId=${encodeURIComponent(blind)}`,
        headers: bearer(t.admin),
      }),
    );
    expect(pending.count).toBe(0);
  });

  it('keeps a subscription private to its owner', async () => {
    const mine = await subscribe(t.transport, 'TrafficFlowObserved', 'private');
    const other = await hub.request({ url: `/ngsi-ld/v1/subscriptions/${mine}`, headers: bearer(t.health) });
    expect(other.statusCode).toBe(404);
    const del = await hub.request({
      method: 'DELETE',
      url: `/ngsi-ld/v1/subscriptions/${mine}`,
      headers: bearer(t.health),
    });
    expect(del.statusCode).toBe(404);
    const list = json<{ id: string }[]>(
      await hub.request({ url: '/ngsi-ld/v1/subscriptions?limit=100', headers: bearer(t.health) }),
    );
    expect(list.some((s) => s.id === mine)).toBe(false);
    const own = await hub.request({ url: `/ngsi-ld/v1/subscriptions/${mine}`, headers: bearer(t.transport) });
    expect(own.statusCode).toBe(200);
  });
});
