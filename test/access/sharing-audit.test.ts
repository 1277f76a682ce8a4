import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JSON_CT, json, type TestHub } from '../support/test-hub.js';
import {
  auditorToken,
  authHub,
  bearer,
  expectProblem,
  flow,
  grantEmergencyContact,
  person,
  seedDepartments,
} from './access-support.js';
import { verifyAuditLog } from '../../src/access/audit-log.js';

describe('data sharing between departments, the ledger, and the audit chain', () => {
  let hub: TestHub;
  let t: Awaited<ReturnType<typeof seedDepartments>>;
  const clock = new Date();
  const as = (token: string, extra: Record<string, string> = {}) => ({
    ...bearer(token),
    ...JSON_CT,
    ...extra,
  });

  beforeAll(async () => {
    hub = await authHub();
    t = await seedDepartments(hub);
    await hub.request({
      method: 'PUT',
      url: '/api/v1/catalog',
      headers: as(t.admin),
      payload: { entityType: 'Person', attr: 'mobile', sensitivity: 'personal', mask: 'mobile' },
    });
    await hub.request({
      method: 'POST',
      url: '/ngsi-ld/v1/entityOperations/upsert',
      headers: as(t.health),
      payload: [person(1)],
    });
    await hub.request({
      method: 'POST',
      url: '/ngsi-ld/v1/entityOperations/upsert',
      headers: as(t.transport),
      payload: [flow(1), flow(2)],
    });
  });
  afterAll(async () => hub?.close());

  it('publish, request with purpose and period, approve: a grant that shows data and ends by itself', async () => {
    // health cannot see traffic before the share
    const before = await hub.request({
      method: 'GET',
      url: '/ngsi-ld/v1/entities?type=TrafficFlowObserved',
      headers: as(t.health),
    });
    expect(json<unknown[]>(before), before.body).toEqual([]);

    const ds = await hub.request({
      method: 'POST',
      url: '/api/v1/datasets',
      headers: as(t.transport),
      payload: {
        title: 'Traffic flows',
        entityType: 'TrafficFlowObserved',
        attrs: ['intensity', 'location'],
      },
    });
    expect(ds.statusCode, ds.body).toBe(201);
    const dsId = json<{ id: string }>(ds).id;
    // only the owner department's administrator decides; a request needs a future end
    const until = new Date(clock.getTime() + 7 * 86_400_000).toISOString();
    const rq = await hub.request({
      method: 'POST',
      url: `/api/v1/datasets/${dsId}/requests`,
      headers: as(t.health),
      payload: { purpose: 'heat-stroke ambulance routing', validUntil: until },
    });
    expect(rq.statusCode, rq.body).toBe(201);
    const rqId = json<{ id: string }>(rq).id;
    expectProblem(
      await hub.request({
        method: 'POST',
        url: `/api/v1/share-requests/${rqId}/approve`,
        headers: as(t.health),
        payload: {},
      }),
      403,
    );
    const ap = await hub.request({
      method: 'POST',
      url: `/api/v1/share-requests/${rqId}/approve`,
      headers: as(t.transport),
      payload: {},
    });
    expect(ap.statusCode, ap.body).toBe(200);
    expectProblem(
      await hub.request({
        method: 'POST',
        url: `/api/v1/share-requests/${rqId}/deny`,
        headers: as(t.transport),
        payload: {},
      }),
      409,
    );

    const after = await hub.request({
      method: 'GET',
      url: '/ngsi-ld/v1/entities?type=TrafficFlowObserved&options=keyValues',
      headers: as(t.health),
    });
    const list = json<Record<string, unknown>[]>(after);
    expect(list).toHaveLength(2);
    expect(Object.keys(list[0]!).sort()).toEqual(['id', 'intensity', 'location', 'type']);

    // the ledger: approval with its scale, then the read
    const auditor = await makeAuditor();
    const ledger = json<{ kind: string; scale: number; purpose: string; recipientDepartment: string }[]>(
      await hub.request({ method: 'GET', url: '/api/v1/sharing-ledger', headers: as(auditor) }),
    );
    expect(ledger[0]).toMatchObject({
      kind: 'approved',
      scale: 2,
      purpose: 'heat-stroke ambulance routing',
      recipientDepartment: 'health',
    });
    expect(ledger.some((e) => e.kind === 'read' && e.scale === 2)).toBe(true);

    // when the period is over the grant ends by itself (the period is moved, not the clock)
    await hub.pool.query(
      `UPDATE access_grants SET valid_until = now() - interval '1 second' WHERE request_id = $1`,
      [rqId],
    );
    const later = await hub.request({
      method: 'GET',
      url: '/ngsi-ld/v1/entities?type=TrafficFlowObserved',
      headers: as(t.health),
    });
    expect(json<unknown[]>(later)).toEqual([]);
  });

  it('shows tagged values unmasked only under a grant for the stated purpose', async () => {
    await grantEmergencyContact(hub, t.admin);
    const url = '/ngsi-ld/v1/entities/urn:ngsi-ld:Person:1?options=keyValues';
    const masked = json<{ mobile: string }>(
      await hub.request({ method: 'GET', url, headers: as(t.transport) }),
    );
    expect(masked.mobile).toBe('138****5678');
    const other = json<{ mobile: string }>(
      await hub.request({
        method: 'GET',
        url,
        headers: as(t.transport, { 'CityPivot-Purpose': 'marketing' }),
      }),
    );
    expect(other.mobile).toBe('138****5678');
    const clear = json<{ mobile: string }>(
      await hub.request({
        method: 'GET',
        url,
        headers: as(t.transport, { 'CityPivot-Purpose': 'emergency-contact' }),
      }),
    );
    expect(clear.mobile).toBe('13812345678');
  });

  const makeAuditor = () => auditorToken(hub, t.admin);

  it('keeps a hash-chained audit log the auditor reads and verifies, and detects an edited or deleted record', async () => {
    const auditor = await makeAuditor();
    const list = json<{ action: string; seq: number }[]>(
      await hub.request({ method: 'GET', url: '/api/v1/audit?limit=1000', headers: as(auditor) }),
    );
    const actions = new Set(list.map((r) => r.action));
    for (const a of [
      'user.bootstrap',
      'login',
      'department.create',
      'policy.create',
      'catalog.put',
      'grant.approve',
      'grant.create',
    ])
      expect(actions).toContain(a);
    const failed = await hub.request({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'auditor', password: 'nope-Nope-1' },
    });
    expect(failed.statusCode).toBe(401);
    const fails = json<{ outcome: string }[]>(
      await hub.request({
        method: 'GET',
        url: '/api/v1/audit?action=login&outcome=failure',
        headers: as(auditor),
      }),
    );
    expect(fails.length).toBeGreaterThan(0);

    const ok = await hub.request({ method: 'GET', url: '/api/v1/audit/verify', headers: as(auditor) });
    expect(json<{ ok: boolean }>(ok), ok.body).toMatchObject({ ok: true });
    const nd = await hub.request({ method: 'GET', url: '/api/v1/audit/export', headers: as(auditor) });
    expect(nd.headers['content-type']).toMatch(/ndjson/);
    expect(nd.body.trim().split('\n').length).toBeGreaterThan(5);

    // no API route changes it; the database refuses ordinary edits
    expect(
      (await hub.request({ method: 'DELETE', url: '/api/v1/audit', headers: as(auditor) })).statusCode,
    ).toBe(404);
    const pool = hub.pool;
    await expect(pool.query(`UPDATE access_audit SET actor = 'x' WHERE seq = 3`)).rejects.toThrow(
      /append-only/,
    );

    // an edit past the trigger (a superuser) breaks the chain at that record
    await pool.query('ALTER TABLE access_audit DISABLE TRIGGER access_audit_no_update');
    await pool.query(`UPDATE access_audit SET actor = 'someone-else' WHERE seq = 3`);
    expect(await verifyAuditLog(hub.access!.store)).toMatchObject({
      ok: false,
      firstBad: { seq: 3, problem: 'edited' },
    });
    const bad = json<{ ok: boolean }>(
      await hub.request({ method: 'GET', url: '/api/v1/audit/verify', headers: as(auditor) }),
    );
    expect(bad.ok).toBe(false);
    // a deletion leaves a gap
    await pool.query(`DELETE FROM access_audit WHERE seq IN (3, 5)`);
    expect(await verifyAuditLog(hub.access!.store)).toMatchObject({
      ok: false,
      firstBad: { seq: 4, problem: 'missing-before' },
    });
    await pool.query('ALTER TABLE access_audit ENABLE TRIGGER access_audit_no_update');
  });
});
