/**
 * Issue 6 item 3, exports: GET /api/v1/export streams every match as JSON lines through the same
 * access layer as the API (policies, masking, no data for a department without a policy), pages
 * past 1000 entities, refuses the unauthenticated, and is audited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JSON_CT, type TestHub } from '../support/test-hub.js';
import {
  authHub,
  bearer,
  expectProblem,
  flow,
  person,
  seedDepartments,
  tokenOf,
  USER_PASSWORD,
} from './access-support.js';

describe('data export', () => {
  let hub: TestHub;
  let t: Awaited<ReturnType<typeof seedDepartments>>;
  const as = (token: string) => ({ ...bearer(token), ...JSON_CT });
  const exportOf = (token: string | undefined, query: string) =>
    hub.request({ method: 'GET', url: `/api/v1/export?${query}`, headers: token ? as(token) : {} });
  const linesOf = (body: string) =>
    body
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, { value?: unknown }> & { id: string });

  beforeAll(async () => {
    hub = await authHub();
    t = await seedDepartments(hub);
    for (const attr of ['mobile', 'idNumber'])
      expect(
        (
          await hub.request({
            method: 'PUT',
            url: '/api/v1/catalog',
            headers: as(t.admin),
            payload: {
              entityType: 'Person',
              attr,
              sensitivity: 'personal',
              mask: attr === 'mobile' ? 'mobile' : 'id-number',
            },
          })
        ).statusCode,
      ).toBeLessThan(300);
    const people = await hub.request({
      method: 'POST',
      url: '/ngsi-ld/v1/entityOperations/upsert',
      headers: as(t.health),
      payload: [person(1), person(2)],
    });
    expect(people.statusCode, people.body).toBeLessThan(300);
    for (let b = 0; b < 3; b++) {
      const r = await hub.request({
        method: 'POST',
        url: '/ngsi-ld/v1/entityOperations/upsert',
        headers: as(t.transport),
        payload: Array.from({ length: b < 2 ? 1000 : 500 }, (_, i) => flow(b * 1000 + i)),
      });
      expect(r.statusCode, r.body).toBeLessThan(300);
    }
    // A person created last lands on the last page of an export of everything.
    const late = await hub.request({
      method: 'POST',
      url: '/ngsi-ld/v1/entities',
      headers: as(t.health),
      payload: person(3),
    });
    expect(late.statusCode, late.body).toBe(201);
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('streams every match past the page size, as JSON lines with the context in Link', async () => {
    const r = await exportOf(t.transport, 'type=TrafficFlowObserved');
    expect(r.statusCode, r.body.slice(0, 300)).toBe(200);
    expect(r.headers['content-type']).toMatch(/application\/x-ndjson/);
    expect(String(r.headers.link)).toMatch(/rel="http:\/\/www.w3.org\/ns\/json-ld#context"/);
    const lines = linesOf(r.body);
    expect(lines).toHaveLength(2500);
    expect(new Set(lines.map((l) => l.id)).size).toBe(2500);
    expect(lines[0]?.intensity?.value).toBe(100);
    const filtered = linesOf((await exportOf(t.transport, 'type=TrafficFlowObserved&q=intensity>2000')).body);
    expect(filtered.map((l) => l.intensity?.value).every((v) => (v as number) > 2000)).toBe(true);
    expect(filtered).toHaveLength(599);
  });

  it('masks tagged values and drops attributes outside the policy, as the API does', async () => {
    const lines = linesOf((await exportOf(t.transport, 'type=Person')).body);
    expect(lines).toHaveLength(3);
    expect(lines[0]?.mobile?.value).toBe('138****5678');
    expect(lines[0]?.idNumber?.value).toBe('110101********1233');
    expect(lines[0]?.diagnosis).toBeUndefined();
    // Every type, three pages: the access holds on the pages read while the response streams.
    const all = linesOf((await exportOf(t.transport, '')).body);
    expect(all).toHaveLength(2503);
    const last = all[all.length - 1];
    expect(last?.id).toBe('urn:ngsi-ld:Person:3');
    expect(last?.mobile?.value).toBe('138****5678');
    expect(last?.diagnosis).toBeUndefined();
  });

  it('gives nothing to a department without a policy, and 401 without a login', async () => {
    const made = await hub.request({
      method: 'POST',
      url: '/api/v1/departments',
      headers: as(t.admin),
      payload: { id: 'parks', name: 'Parks' },
    });
    expect(made.statusCode).toBe(201);
    await hub.request({
      method: 'POST',
      url: '/api/v1/users',
      headers: as(t.admin),
      payload: { username: 'parks-user', password: USER_PASSWORD, department: 'parks' },
    });
    const parks = await tokenOf(hub, 'parks-user');
    expectProblem(await exportOf(parks, 'type=Person'), 403);
    expectProblem(await exportOf(undefined, 'type=Person'), 401);
    expectProblem(await exportOf(t.transport, 'type=Person&limit=5'), 400);
  });

  it('is audited with the number of entities exported', async () => {
    const recs = await hub.access!.store.audit.query({ action: 'data.export', limit: 100 });
    expect(recs).toContainEqual(
      expect.objectContaining({
        actor: 'transport-user',
        outcome: 'success',
        detail: { query: 'type=TrafficFlowObserved', entities: 2500 },
      }),
    );
    const personal = await hub.access!.store.audit.query({
      action: 'read.personal',
      actor: 'transport-user',
      limit: 100,
    });
    expect(personal.length).toBeGreaterThan(0);
  });
});
