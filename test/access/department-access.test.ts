import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JSON_CT, json, type TestHub } from '../support/test-hub.js';
import { DEFAULT, authHub, bearer, expectProblem, flow, person, seedDepartments } from './access-support.js';

type Body = Record<string, { value?: unknown } | string>;

describe('department policies on every read path, masking and encryption at rest', () => {
  let hub: TestHub;
  let t: Awaited<ReturnType<typeof seedDepartments>>;
  const as = (token: string, extra: Record<string, string> = {}) => ({ ...bearer(token), ...extra });

  beforeAll(async () => {
    hub = await authHub({ dataKey: Buffer.alloc(32, 7) });
    t = await seedDepartments(hub);
    // the system administrator classifies Person attributes
    for (const [attr, sensitivity, mask] of [
      ['name', 'personal', 'name'],
      ['mobile', 'personal', 'mobile'],
      ['idNumber', 'sensitive-personal', 'id-number'],
      ['diagnosis', 'sensitive-personal', 'redact'],
      ['location', 'sensitive-personal', 'location'],
    ]) {
      const r = await hub.request({
        method: 'PUT',
        url: '/api/v1/catalog',
        headers: { ...as(t.admin), ...JSON_CT },
        payload: { entityType: 'Person', attr, sensitivity, mask },
      });
      expect(r.statusCode, r.body).toBe(204);
    }
    const up = await hub.request({
      method: 'POST',
      url: '/ngsi-ld/v1/entityOperations/upsert',
      headers: { ...as(t.health), ...JSON_CT },
      payload: [person(1), person(2)],
    });
    expect(up.statusCode, up.body).toBeLessThan(300);
    const tf = await hub.request({
      method: 'POST',
      url: '/ngsi-ld/v1/entityOperations/create',
      headers: { ...as(t.transport), ...JSON_CT },
      payload: [flow(1), flow(2)],
    });
    expect(tf.statusCode, tf.body).toBe(201);
  });
  afterAll(async () => hub?.close());

  it('stores sensitive personal values encrypted: the raw row holds ciphertext', async () => {
    const raw = await hub.pool.query<{ attrs: Record<string, { value: unknown }[]> }>(
      `SELECT attrs FROM entities WHERE id = 'urn:ngsi-ld:Person:1'`,
    );
    const attrs = raw.rows[0]!.attrs;
    expect(String(attrs[`${DEFAULT}idNumber`]?.[0]?.value)).toMatch(/^cpenc:v1:/);
    expect(String(attrs[`${DEFAULT}diagnosis`]?.[0]?.value)).toMatch(/^cpenc:v1:/);
    expect(JSON.stringify(attrs)).not.toContain('110101199003071233');
    expect(JSON.stringify(attrs)).not.toContain('influenza');
    // personal (not sensitive) values are masked on read but kept clear
    expect(attrs[`${DEFAULT}mobile`]?.[0]?.value).toBe('13812345678');
  });

  it('retrieve: masked by default, invisible to a department without a policy (404), attributes projected', async () => {
    const h = await hub.request({
      method: 'GET',
      url: '/ngsi-ld/v1/entities/urn:ngsi-ld:Person:1?options=keyValues',
      headers: as(t.health),
    });
    expect(h.statusCode, h.body).toBe(200);
    const hb = json<Record<string, unknown>>(h);
    expect(hb).toMatchObject({
      name: '张**',
      mobile: '138****5678',
      idNumber: '110101********1233',
      diagnosis: 'i********',
    });
    expect(hb.location).toEqual({ type: 'Point', coordinates: [113.63, 34.75] });

    const tr = await hub.request({
      method: 'GET',
      url: '/ngsi-ld/v1/entities/urn:ngsi-ld:Person:1?options=keyValues',
      headers: as(t.transport),
    });
    expect(tr.statusCode).toBe(200);
    expect(json<Record<string, unknown>>(tr).diagnosis).toBeUndefined(); // not in its policy's attributes

    // health may not see traffic: same answer as a missing entity
    const hidden = await hub.request({
      method: 'GET',
      url: '/ngsi-ld/v1/entities/urn:ngsi-ld:TrafficFlowObserved:1',
      headers: as(t.health),
    });
    const missing = await hub.request({
      method: 'GET',
      url: '/ngsi-ld/v1/entities/urn:ngsi-ld:TrafficFlowObserved:99',
      headers: as(t.health),
    });
    expectProblem(hidden, 404);
    expect(json<{ title: string }>(hidden).title).toBe(json<{ title: string }>(missing).title);
  });

  it('query (GET and POST): only permitted types, masked values', async () => {
    const g = await hub.request({
      method: 'GET',
      url: '/ngsi-ld/v1/entities?type=Person,TrafficFlowObserved&options=keyValues',
      headers: as(t.health),
    });
    expect(g.statusCode).toBe(200);
    const list = json<Body[]>(g);
    expect(list.map((e) => e.type).sort()).toEqual(['Person', 'Person']);
    expect(list.every((e) => e.mobile === '138****5678')).toBe(true);
    const p = await hub.request({
      method: 'POST',
      url: '/ngsi-ld/v1/entityOperations/query?options=keyValues',
      headers: { ...as(t.health), ...JSON_CT },
      payload: { type: 'Query', entities: [{ type: 'TrafficFlowObserved' }] },
    });
    expect(p.statusCode, p.body).toBe(200);
    expect(json<unknown[]>(p)).toEqual([]);
  });

  it('batch and single writes: refused outside the policy with 403, nothing written', async () => {
    // A batch item the department may not write is that item's error; the others go on.
    const b = await hub.request({
      method: 'POST',
      url: '/ngsi-ld/v1/entityOperations/upsert',
      headers: { ...as(t.transport), ...JSON_CT },
      payload: [person(3), flow(8)],
    });
    expect(b.statusCode, b.body).toBe(207);
    const result = json<{ success: string[]; errors: { entityId: string; error: { status: number } }[] }>(b);
    expect(result.success).toEqual(['urn:ngsi-ld:TrafficFlowObserved:8']);
    expect(result.errors.map((e) => [e.entityId, e.error.status])).toEqual([['urn:ngsi-ld:Person:3', 403]]);
    const none = await hub.request({
      method: 'GET',
      url: '/ngsi-ld/v1/entities/urn:ngsi-ld:Person:3',
      headers: as(t.admin),
    });
    expect(none.statusCode).toBe(404);
    const c = await hub.request({
      method: 'POST',
      url: '/ngsi-ld/v1/entities',
      headers: { ...as(t.health), ...JSON_CT },
      payload: flow(9),
    });
    expectProblem(c, 403);
    const gone = await hub.request({
      method: 'GET',
      url: '/ngsi-ld/v1/entities/urn:ngsi-ld:TrafficFlowObserved:9',
      headers: as(t.admin),
    });
    expect(gone.statusCode).toBe(404);
  });

  it('temporal API: history filtered by type and masked', async () => {
    const h = await hub.request({
      method: 'GET',
      url: '/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:Person:1',
      headers: as(t.health),
    });
    expect(h.statusCode, h.body).toBe(200);
    const body = JSON.stringify(json(h));
    expect(body).toContain('138****5678');
    expect(body).not.toContain('13812345678');
    expect(body).not.toContain('110101199003071233');
    const hidden = await hub.request({
      method: 'GET',
      url: '/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:TrafficFlowObserved:1',
      headers: as(t.health),
    });
    expectProblem(hidden, 404);
    const q = await hub.request({
      method: 'GET',
      url: '/ngsi-ld/v1/temporal/entities?type=TrafficFlowObserved',
      headers: as(t.health),
    });
    expect(q.statusCode).toBe(200);
    expect(json<unknown[]>(q)).toEqual([]);
  });

  it('discovery: /types and /attributes list only what the department may read', async () => {
    const types = json<{ typeList: string[] }>(
      await hub.request({ method: 'GET', url: '/ngsi-ld/v1/types', headers: as(t.health) }),
    );
    expect(types.typeList).toEqual(['Person']);
    const attrs = json<{ attributeList: string[] }>(
      await hub.request({ method: 'GET', url: '/ngsi-ld/v1/attributes', headers: as(t.health) }),
    );
    expect(attrs.attributeList).not.toContain('intensity');
    const tTypes = json<{ typeList: string[] }>(
      await hub.request({ method: 'GET', url: '/ngsi-ld/v1/types', headers: as(t.transport) }),
    );
    expect(tTypes.typeList.sort()).toEqual(['Person', 'TrafficFlowObserved']);
  });

  it('a department without any policy on the tenant gets 403 on every read path', async () => {
    const c = await hub.request({
      method: 'POST',
      url: '/api/v1/users',
      headers: { ...as(t.admin), ...JSON_CT },
      payload: { username: 'outsider', password: 'User-Passw0rd!', department: 'city-archive-none' },
    });
    // a department that does not exist cannot be named
    expect(c.statusCode).toBeGreaterThanOrEqual(400);
    await hub.request({
      method: 'POST',
      url: '/api/v1/departments',
      headers: as(t.admin),
      payload: { id: 'archive', name: 'Archive' },
    });
    const ok = await hub.request({
      method: 'POST',
      url: '/api/v1/users',
      headers: { ...as(t.admin), ...JSON_CT },
      payload: { username: 'outsider', password: 'User-Passw0rd!', department: 'archive' },
    });
    expect(ok.statusCode, ok.body).toBe(201);
    const login = await hub.request({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'outsider', password: 'User-Passw0rd!' },
    });
    const o = json<{ access_token: string }>(login).access_token;
    for (const url of [
      '/ngsi-ld/v1/entities?type=Person',
      '/ngsi-ld/v1/entities/urn:ngsi-ld:Person:1',
      '/ngsi-ld/v1/types',
      '/ngsi-ld/v1/attributes',
      '/ngsi-ld/v1/temporal/entities?type=Person',
    ])
      expectProblem(await hub.request({ method: 'GET', url, headers: as(o) }), 403);
  });

  it('reads of tagged data are audited', async () => {
    const rows = await hub.access!.store.audit.query({ action: 'read.personal', limit: 100 });
    expect(rows.length).toBeGreaterThan(0);
    expect(rows[0]).toMatchObject({ actor: 'health-user', outcome: 'success' });
  });
});
