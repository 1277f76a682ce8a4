/**
 * Issue 6 item 6, "every write": an entity write by an account leaves an audit record staged in
 * the write's own transaction (none when the write is refused and rolled back), chained before
 * the log is read; refused writes, device provisioning and subscriptions are audited per
 * request. The chain still verifies with the staged records in it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { JSON_CT, json, type TestHub } from '../support/test-hub.js';
import { auditorToken, authHub, bearer, flow, person, seedDepartments } from './access-support.js';

interface Rec {
  seq: number;
  actor: string;
  department?: string;
  action: string;
  target?: string;
  outcome: string;
  detail?: Record<string, unknown>;
}

describe('audit of every write', () => {
  let hub: TestHub;
  let t: Awaited<ReturnType<typeof seedDepartments>>;
  let auditor: string;
  let afterSeq = 0;
  const as = (token: string) => ({ ...bearer(token), ...JSON_CT });

  /** The records since the last call (the log is read through the API, as an auditor would). */
  const newRecords = async (): Promise<Rec[]> => {
    const r = await hub.request({
      method: 'GET',
      url: `/api/v1/audit?limit=1000&afterSeq=${afterSeq}`,
      headers: as(auditor),
    });
    expect(r.statusCode, r.body).toBe(200);
    const list = json<Rec[]>(r).filter((x) => x.action !== 'audit.read');
    afterSeq = Math.max(afterSeq, ...json<Rec[]>(r).map((x) => x.seq));
    return list;
  };

  beforeAll(async () => {
    hub = await authHub();
    t = await seedDepartments(hub);
    auditor = await auditorToken(hub, t.admin);
    await newRecords();
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('records who created, changed and deleted which entities, one record per write', async () => {
    const created = await hub.request({
      method: 'POST',
      url: '/ngsi-ld/v1/entities',
      headers: as(t.transport),
      payload: flow(1),
    });
    expect(created.statusCode, created.body).toBe(201);
    const patched = await hub.request({
      method: 'PATCH',
      url: '/ngsi-ld/v1/entities/urn:ngsi-ld:TrafficFlowObserved:1/attrs',
      headers: as(t.transport),
      payload: { intensity: { type: 'Property', value: 7 } },
    });
    expect(patched.statusCode, patched.body).toBe(204);
    const deleted = await hub.request({
      method: 'DELETE',
      url: '/ngsi-ld/v1/entities/urn:ngsi-ld:TrafficFlowObserved:1',
      headers: as(t.transport),
    });
    expect(deleted.statusCode).toBe(204);
    const writes = (await newRecords()).filter((r) => r.action === 'entity.write');
    expect(writes.map((w) => Object.keys(w.detail ?? {}).filter((k) => k !== 'attrs'))).toEqual([
      ['created'],
      ['updated'],
      ['deleted'],
    ]);
    for (const w of writes)
      expect(w).toMatchObject({
        actor: 'transport-user',
        department: 'transport',
        outcome: 'success',
        target: '',
      });
    expect(writes[0]?.detail?.created).toEqual(['urn:ngsi-ld:TrafficFlowObserved:1']);
    expect(writes[1]?.detail?.attrs).toEqual(['https://uri.etsi.org/ngsi-ld/default-context/intensity']);
  });

  it('records a batch as one write naming every entity', async () => {
    const r = await hub.request({
      method: 'POST',
      url: '/ngsi-ld/v1/entityOperations/upsert',
      headers: as(t.health),
      payload: [person(1), person(2), person(3)],
    });
    expect(r.statusCode, r.body).toBeLessThan(300);
    const writes = (await newRecords()).filter((x) => x.action === 'entity.write');
    expect(writes).toHaveLength(1);
    expect(writes[0]?.actor).toBe('health-user');
    expect(writes[0]?.detail?.created).toEqual([1, 2, 3].map((n) => `urn:ngsi-ld:Person:${n}`));
  });

  it('records a refused write as a failure, and stages nothing for it', async () => {
    const r = await hub.request({
      method: 'POST',
      url: '/ngsi-ld/v1/entities',
      headers: as(t.transport),
      payload: person(9),
    });
    expect(r.statusCode).toBe(403);
    const recs = await newRecords();
    expect(recs.filter((x) => x.action === 'entity.write')).toEqual([
      expect.objectContaining({
        actor: 'transport-user',
        outcome: 'failure',
        target: '/ngsi-ld/v1/entities',
      }),
    ]);
    const db = new pg.Client({ connectionString: hub.url });
    await db.connect();
    try {
      const staged = await db.query('SELECT count(*)::int AS n FROM access_audit_staged');
      expect(staged.rows[0].n).toBe(0);
    } finally {
      await db.end();
    }
  });

  it('records device provisioning and subscriptions per request', async () => {
    const sub = await hub.request({
      method: 'POST',
      url: '/ngsi-ld/v1/subscriptions',
      headers: as(t.transport),
      payload: {
        type: 'Subscription',
        entities: [{ type: 'TrafficFlowObserved' }],
        notification: { endpoint: { uri: 'http://127.0.0.1:9/none' } },
      },
    });
    expect(sub.statusCode, sub.body).toBe(201);
    const recs = await newRecords();
    expect(recs).toContainEqual(
      expect.objectContaining({
        action: 'subscription.write',
        actor: 'transport-user',
        outcome: 'success',
        detail: expect.objectContaining({ method: 'POST', status: 201 }),
      }),
    );
  });

  it('keeps the chain whole with the staged records in it', async () => {
    const v = await hub.request({ method: 'GET', url: '/api/v1/audit/verify', headers: as(auditor) });
    expect(json<{ ok: boolean; checked: number }>(v)).toMatchObject({ ok: true });
    expect(json<{ checked: number }>(v).checked).toBeGreaterThan(10);
  });
});
