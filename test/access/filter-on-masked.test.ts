/**
 * A filter is a read: q, orderBy and geo on an attribute a department sees masked, or may not see,
 * would tell which entities hold a value (`q=mobile=="13812345678"`, `q=diagnosis=="influenza"`).
 * Naming the type gets a 403 ProblemDetails; without a type the query runs only on the types where
 * the attribute is filterable. A purpose grant that unmasks the attribute allows the filter.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JSON_CT, json, type TestHub } from '../support/test-hub.js';
import {
  authHub,
  bearer,
  expectProblem,
  flow,
  grantEmergencyContact,
  person,
  seedDepartments,
} from './access-support.js';

describe('filters on masked or hidden attributes', () => {
  let hub: TestHub;
  let t: Awaited<ReturnType<typeof seedDepartments>>;
  const as = (token: string, extra: Record<string, string> = {}) => ({
    ...bearer(token),
    ...JSON_CT,
    ...extra,
  });
  const get = (token: string, query: string, extra: Record<string, string> = {}) =>
    hub.request({ method: 'GET', url: `/ngsi-ld/v1/entities?${query}`, headers: as(token, extra) });
  const ids = (r: { body: string }) => json<{ id: string }[]>(r as never).map((e) => e.id);

  beforeAll(async () => {
    hub = await authHub();
    t = await seedDepartments(hub);
    for (const [attr, mask] of [
      ['mobile', 'mobile'],
      ['location', 'location'],
    ])
      expect(
        (
          await hub.request({
            method: 'PUT',
            url: '/api/v1/catalog',
            headers: as(t.admin),
            payload: { entityType: 'Person', attr, sensitivity: 'personal', mask },
          })
        ).statusCode,
      ).toBeLessThan(300);
    for (const [token, body] of [
      [t.health, [person(1), person(2, { mobile: { type: 'Property', value: '13900000000' } })]],
      [t.transport, [flow(1), flow(2)]],
    ] as const) {
      const r = await hub.request({
        method: 'POST',
        url: '/ngsi-ld/v1/entityOperations/upsert',
        headers: as(token),
        payload: body,
      });
      expect(r.statusCode, r.body).toBeLessThan(300);
    }
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('refuses q, orderBy and geo on a masked attribute of a named type', async () => {
    expectProblem(await get(t.transport, 'type=Person&q=mobile=="13812345678"'), 403);
    expectProblem(await get(t.transport, 'type=Person&orderBy=mobile'), 403);
    expectProblem(
      await get(
        t.transport,
        'type=Person&georel=near;maxDistance==10&geometry=Point&coordinates=[113.625368,34.746599]',
      ),
      403,
    );
    // The owning department sees the mobile masked too (no purpose grant): same answer.
    expectProblem(await get(t.health, 'type=Person&q=mobile=="13812345678"'), 403);
    const post = await hub.request({
      method: 'POST',
      url: '/ngsi-ld/v1/entityOperations/query',
      headers: as(t.transport),
      payload: { type: 'Query', entities: [{ type: 'Person' }], q: 'mobile=="13812345678"' },
    });
    expectProblem(post, 403);
  });

  it('refuses a filter on an attribute outside the policy, and leaves other filters alone', async () => {
    expectProblem(await get(t.transport, 'type=Person&q=diagnosis=="influenza"'), 403);
    const byName = await get(t.transport, 'type=Person&q=name=="张三丰"');
    expect(byName.statusCode, byName.body).toBe(200);
    expect(ids(byName).sort()).toEqual(['urn:ngsi-ld:Person:1', 'urn:ngsi-ld:Person:2']);
  });

  it('runs a query without a type only where the attribute is filterable', async () => {
    const hidden = await get(t.transport, 'q=diagnosis=="influenza"');
    expect(hidden.statusCode, hidden.body).toBe(200);
    expect(ids(hidden)).toEqual([]);
    const masked = await get(t.transport, 'q=mobile=="13812345678"');
    expect(ids(masked)).toEqual([]);
    const flows = await get(t.transport, 'q=intensity>0');
    expect(ids(flows).sort()).toEqual([
      'urn:ngsi-ld:TrafficFlowObserved:1',
      'urn:ngsi-ld:TrafficFlowObserved:2',
    ]);
  });

  it('refuses a subscription whose q or geoQ names a masked or hidden attribute', async () => {
    const subscribe = (payload: Record<string, unknown>) =>
      hub.request({
        method: 'POST',
        url: '/ngsi-ld/v1/subscriptions',
        headers: as(t.transport),
        payload: {
          type: 'Subscription',
          notification: { endpoint: { uri: 'http://127.0.0.1:9/none' } },
          ...payload,
        },
      });
    expectProblem(await subscribe({ entities: [{ type: 'Person' }], q: 'mobile=="13812345678"' }), 403);
    expectProblem(await subscribe({ entities: [{ type: 'Person' }], q: 'diagnosis=="influenza"' }), 403);
    // Without a type the filter would run on every type later, unnarrowed: refused too.
    expectProblem(
      await subscribe({ watchedAttributes: ['mobile', 'intensity'], q: 'mobile=="13812345678"' }),
      403,
    );
    expectProblem(
      await subscribe({
        entities: [{ type: 'Person' }],
        geoQ: { georel: 'near;maxDistance==10', geometry: 'Point', coordinates: [113.625368, 34.746599] },
      }),
      403,
    );
    const fine = await subscribe({ entities: [{ type: 'Person' }], q: 'name=="张三丰"' });
    expect(fine.statusCode, fine.body).toBe(201);
  });

  it('allows the filter under a purpose grant that unmasks the attribute', async () => {
    await grantEmergencyContact(hub, t.admin);
    const q = 'type=Person&q=mobile=="13812345678"';
    expectProblem(await get(t.transport, q), 403);
    const r = await get(t.transport, q, { 'CityPivot-Purpose': 'emergency-contact' });
    expect(r.statusCode, r.body).toBe(200);
    expect(ids(r)).toEqual(['urn:ngsi-ld:Person:1']);
  });
});
