/**
 * The live stream (GET /api/v1/stream) under department access: a department sees the changes of
 * what it may read, projected and masked as on any read; one without a policy gets 403; a q on a
 * masked attribute is refused before the stream opens (it would run later on unmasked values).
 */
import { readSse } from '../support/sse.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JSON_CT, type TestHub } from '../support/test-hub.js';
import { authHub, bearer, flow, person, seedDepartments, tokenOf, USER_PASSWORD } from './access-support.js';

interface Change {
  id: string;
  kind: string;
  entity?: Record<string, unknown>;
}

describe('live stream under department access', () => {
  let hub: TestHub;
  let t: Awaited<ReturnType<typeof seedDepartments>>;
  let address: string;
  const as = (token: string) => ({ ...bearer(token), ...JSON_CT });

  const open = async (token: string, query = '') => {
    const res = await fetch(`${address}/api/v1/stream?options=keyValues${query}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    if (res.status !== 200) return { res, events: [] as Change[], close: () => Promise.resolve() };
    return { res, ...readSse<Change>(res) };
  };

  beforeAll(async () => {
    hub = await authHub();
    t = await seedDepartments(hub);
    const r = await hub.request({
      method: 'PUT',
      url: '/api/v1/catalog',
      headers: as(t.admin),
      payload: { entityType: 'Person', attr: 'mobile', sensitivity: 'personal', mask: 'mobile' },
    });
    expect(r.statusCode, r.body).toBeLessThan(300);
    address = await hub.app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('sends what the department may read, masked, and nothing else', async () => {
    const transport = await open(t.transport);
    expect(transport.res.status).toBe(200);
    await hub.request({
      method: 'POST',
      url: '/ngsi-ld/v1/entities',
      headers: as(t.health),
      payload: person(1),
    });
    await hub.request({
      method: 'POST',
      url: '/ngsi-ld/v1/entities',
      headers: as(t.transport),
      payload: flow(1),
    });
    await expect.poll(() => transport.events.length, { timeout: 10_000 }).toBe(2);
    const [p, f] = transport.events;
    expect(p?.id).toBe('urn:ngsi-ld:Person:1');
    expect(p?.entity?.mobile).toBe('138****5678');
    expect(p?.entity?.diagnosis).toBeUndefined();
    expect(f?.id).toBe('urn:ngsi-ld:TrafficFlowObserved:1');
    await transport.close();
  });

  it('refuses a department without a policy, and a q on a masked attribute', async () => {
    await hub.request({
      method: 'POST',
      url: '/api/v1/departments',
      headers: as(t.admin),
      payload: { id: 'parks', name: 'Parks' },
    });
    await hub.request({
      method: 'POST',
      url: '/api/v1/users',
      headers: as(t.admin),
      payload: { username: 'parks-user', password: USER_PASSWORD, department: 'parks' },
    });
    const parks = await open(await tokenOf(hub, 'parks-user'));
    expect(parks.res.status).toBe(403);
    const masked = await open(t.transport, '&type=Person&q=mobile=="13812345678"');
    expect(masked.res.status).toBe(403);
    expect(((await masked.res.json()) as { detail: string }).detail).toMatch(/may not filter/);
    const fine = await open(t.transport, '&type=Person&q=name=="张三丰"');
    expect(fine.res.status).toBe(200);
    await fine.close();
  });
});
