/**
 * Group commit with accounts: PATCHes from two departments that share one transaction are each
 * checked against their own department's policies and audited under their own account; a refused
 * or missing one fails alone, and a department with no right on a tenant hears 403, not 404.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JSON_CT, json, type TestHub } from '../support/test-hub.js';
import { auditorToken, authHub, bearer, flow, person, seedDepartments } from './access-support.js';

interface Rec {
  seq: number;
  actor: string;
  action: string;
  outcome: string;
  detail?: { updated?: string[]; status?: number };
}

describe('writes sharing a transaction', () => {
  let hub: TestHub;
  let t: Awaited<ReturnType<typeof seedDepartments>>;
  const as = (token: string, tenant?: string) => ({
    ...bearer(token),
    ...JSON_CT,
    ...(tenant ? { 'NGSILD-Tenant': tenant } : {}),
  });

  beforeAll(async () => {
    hub = await authHub();
    t = await seedDepartments(hub);
    const create = async (token: string, payload: object) => {
      const r = await hub.request({
        method: 'POST',
        url: '/ngsi-ld/v1/entities',
        headers: as(token),
        payload,
      });
      expect(r.statusCode, r.body).toBe(201);
    };
    for (let n = 0; n < 10; n++) {
      await create(t.transport, flow(n));
      await create(t.health, person(n));
    }
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('checks and audits each write as its own', async () => {
    const auditor = await auditorToken(hub, t.admin);
    const log = async () => {
      const r = await hub.request({ method: 'GET', url: '/api/v1/audit?limit=1000', headers: as(auditor) });
      expect(r.statusCode, r.body).toBe(200);
      return json<Rec[]>(r);
    };
    const since = Math.max(0, ...(await log()).map((r) => r.seq));
    const before = hub.entities.writeGroups();
    const patch = (token: string, id: string, body: object, tenant?: string) =>
      hub.request({
        method: 'PATCH',
        url: `/ngsi-ld/v1/entities/${id}/attrs`,
        headers: as(token, tenant),
        payload: body,
      });
    const work = [];
    for (let n = 0; n < 10; n++) {
      work.push(
        patch(t.transport, `urn:ngsi-ld:TrafficFlowObserved:${n}`, {
          intensity: { type: 'Property', value: 1000 + n },
        }),
      );
      // transport may read Person but not write it
      work.push(patch(t.transport, `urn:ngsi-ld:Person:${n}`, { name: { type: 'Property', value: 'x' } }));
      work.push(
        patch(t.health, `urn:ngsi-ld:Person:${n}`, { diagnosis: { type: 'Property', value: `cold ${n}` } }),
      );
    }
    work.push(
      patch(t.transport, 'urn:ngsi-ld:TrafficFlowObserved:missing', {
        intensity: { type: 'Property', value: 1 },
      }),
    );
    work.push(
      patch(
        t.transport,
        'urn:ngsi-ld:TrafficFlowObserved:0',
        { intensity: { type: 'Property', value: 1 } },
        'elsewhere',
      ),
    );
    const answers = await Promise.all(work);
    const statuses = answers.map((r) => r.statusCode);
    expect(statuses.slice(0, 30)).toEqual(Array.from({ length: 10 }, () => [204, 403, 204]).flat());
    expect(statuses.slice(30)).toEqual([404, 403]);
    const after = hub.entities.writeGroups();
    // They did share transactions (else this test shows nothing).
    expect(after.grouped - before.grouped).toBeGreaterThan(20);
    expect(after.fallbacks).toBe(before.fallbacks);

    for (let n = 0; n < 10; n++) {
      const f = await hub.request({
        method: 'GET',
        url: `/ngsi-ld/v1/entities/urn:ngsi-ld:TrafficFlowObserved:${n}`,
        headers: as(t.transport),
      });
      expect(json<{ intensity: { value: number } }>(f).intensity.value).toBe(1000 + n);
      const p = await hub.request({
        method: 'GET',
        url: `/ngsi-ld/v1/entities/urn:ngsi-ld:Person:${n}`,
        headers: as(t.health),
      });
      expect(json<{ name: { value: string }; diagnosis: { value: string } }>(p)).toMatchObject({
        name: { value: '张三丰' },
        diagnosis: { value: `cold ${n}` },
      });
    }

    const writes = (await log()).filter((r) => r.seq > since && r.action === 'entity.write');
    const ok = writes.filter((w) => w.outcome === 'success');
    expect(
      ok
        .filter((w) => w.actor === 'transport-user')
        .map((w) => w.detail?.updated)
        .sort(),
    ).toEqual(Array.from({ length: 10 }, (_, n) => [`urn:ngsi-ld:TrafficFlowObserved:${n}`]).sort());
    expect(
      ok
        .filter((w) => w.actor === 'health-user')
        .map((w) => w.detail?.updated)
        .sort(),
    ).toEqual(Array.from({ length: 10 }, (_, n) => [`urn:ngsi-ld:Person:${n}`]).sort());
    // The refused ones are failures of the account that asked.
    expect(
      writes.filter((w) => w.outcome === 'failure' && w.actor === 'transport-user').length,
    ).toBeGreaterThanOrEqual(11);
  });
});
