/**
 * Two hub instances on one database: a catalog change made through one takes effect in the other
 * within its reload period, and both chain staged write records into one unbroken audit chain.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { JSON_CT, type TestHub } from '../support/test-hub.js';
import { createHubAccess, type HubAccess } from '../../src/access/access-setup.js';
import { createPostgresAccessStore } from '../../src/access/postgres-access.js';
import { openPool } from '../../src/store/database.js';
import { verifyAuditLog } from '../../src/access/audit-log.js';
import { ADMIN_PASSWORD, authHub, bearer, flow, seedDepartments } from './access-support.js';

describe('two hub instances on one database', () => {
  let hub: TestHub;
  let t: Awaited<ReturnType<typeof seedDepartments>>;
  let otherPool: pg.Pool;
  let other: HubAccess;
  let stopOther: () => Promise<void>;
  const as = (token: string) => ({ ...bearer(token), ...JSON_CT });

  beforeAll(async () => {
    hub = await authHub();
    t = await seedDepartments(hub);
    otherPool = openPool({ url: hub.url, max: 2 });
    other = await createHubAccess({
      store: createPostgresAccessStore(otherPool),
      adminPassword: ADMIN_PASSWORD,
      adminTotp: false,
    });
    stopOther = other.startBackground({ auditMs: 20, catalogMs: 50 });
  });
  afterAll(async () => {
    await stopOther?.();
    await otherPool?.end();
    await hub?.close();
  });

  it('sees a catalog change made through the other instance', async () => {
    const tagged = () => other.catalog().some((c) => c.attr.endsWith('/intensity'));
    expect(tagged()).toBe(false);
    const r = await hub.request({
      method: 'PUT',
      url: '/api/v1/catalog',
      headers: as(t.admin),
      payload: {
        entityType: 'TrafficFlowObserved',
        attr: 'intensity',
        sensitivity: 'important',
        mask: 'none',
      },
    });
    expect(r.statusCode, r.body).toBe(204);
    await expect.poll(tagged, { timeout: 5000 }).toBe(true);
  });

  it('keeps one unbroken chain while both instances chain staged records', async () => {
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        hub.request({
          method: 'POST',
          url: '/ngsi-ld/v1/entities',
          headers: as(t.transport),
          payload: flow(i),
        }),
      ),
    );
    const db = new pg.Client({ connectionString: hub.url });
    await db.connect();
    try {
      await expect
        .poll(async () => (await db.query('SELECT count(*)::int AS n FROM access_audit_staged')).rows[0].n, {
          timeout: 5000,
        })
        .toBe(0);
    } finally {
      await db.end();
    }
    const writes = await other.store.audit.query({ action: 'entity.write', limit: 1000 });
    expect(writes.filter((w) => w.outcome === 'success')).toHaveLength(40);
    const check = await verifyAuditLog(other.store);
    expect(check.ok).toBe(true);
  });
});
