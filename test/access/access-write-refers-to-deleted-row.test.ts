/**
 * A write of the access store that refers to a department, user or dataset which does not exist,
 * or which a concurrent transaction deletes while the write runs, answers with a hub error (400,
 * 401, 404 or 409) instead of failing its foreign key with a 500. Every foreign key of the access
 * schema has a row here.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HubError, type ErrorCode } from '../../src/core/errors.js';
import { createPostgresStore } from '../../src/store/postgres-store.js';
import { createPostgresAccessStore } from '../../src/access/postgres-access.js';
import type { AccessStore } from '../../src/core/access/access-store.js';
import { ACCESS_FOREIGN_KEYS, type AccessForeignKey } from '../../src/store/foreign-keys.js';
import type { Store } from '../../src/core/store.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
let store: Store;
let access: AccessStore;
let other: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  store = await createPostgresStore({ url: db.url, max: 2 }); // applies the migrations
  access = createPostgresAccessStore(db.pool);
  other = new pg.Client({ connectionString: db.url });
  await other.connect();
  await access.createDepartment({ id: 'roads', name: 'Roads', parent: null });
  await access.createDepartment({ id: 'parks', name: 'Parks', parent: null });
});
afterEach(async () => {
  await other.query('ROLLBACK'); // a test that failed half-way leaves no transaction open
});
afterAll(async () => {
  await other?.end();
  await store?.close();
  await db?.drop();
});

async function rejection(p: Promise<unknown>): Promise<HubError> {
  const err: unknown = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the write should have been refused').toBeInstanceOf(HubError);
  return err as HubError;
}

const user = (department: string | null) => ({
  id: randomUUID(),
  username: `u-${randomUUID()}`,
  displayName: null,
  department,
  roles: ['department-user' as const],
  passwordHash: null,
});
const grant = (department: string) => ({
  id: randomUUID(),
  department,
  tenant: '',
  entityType: 'https://example.org/Thing',
  purpose: 'test',
  validFrom: new Date().toISOString(),
  validUntil: new Date(Date.now() + 86_400_000).toISOString(),
});
const dataset = (ownerDepartment: string) => ({
  id: randomUUID(),
  ownerDepartment,
  tenant: '',
  entityType: 'https://example.org/Thing',
  title: 'Things',
});
const request = (datasetId: string, department: string) => ({
  id: randomUUID(),
  datasetId,
  department,
  purpose: 'test',
  validFrom: new Date().toISOString(),
  validUntil: new Date(Date.now() + 86_400_000).toISOString(),
  state: 'pending' as const,
});

/** One write per foreign key of the access schema, referring to a row that is not there. */
const CASES: Record<AccessForeignKey, { code: ErrorCode; write: () => Promise<unknown> }> = {
  access_departments_parent_fkey: {
    code: 'BadRequestData',
    write: () => access.createDepartment({ id: 'orphan', name: 'Orphan', parent: 'nowhere' }),
  },
  access_users_department_fkey: { code: 'BadRequestData', write: () => access.createUser(user('nowhere')) },
  access_sessions_user_id_fkey: {
    code: 'Unauthorized',
    write: () =>
      access.createSession({
        id: randomUUID(),
        userId: randomUUID(),
        scope: 'full',
        expiresAt: new Date(Date.now() + 60_000).toISOString(),
      }),
  },
  access_api_keys_department_fkey: {
    code: 'BadRequestData',
    write: () =>
      access.createApiKey({
        id: randomUUID(),
        name: 'k',
        secretHash: 'h',
        department: 'nowhere',
        roles: ['department-user'],
        createdBy: null,
        expiresAt: null,
      }),
  },
  access_policies_department_fkey: {
    code: 'BadRequestData',
    write: () =>
      access.createPolicy({
        id: randomUUID(),
        department: 'nowhere',
        tenant: '',
        entityTypes: ['*'],
        actions: ['read'],
      }),
  },
  access_datasets_owner_department_fkey: {
    code: 'Conflict',
    write: () => access.sharing.createDataset(dataset('nowhere')),
  },
  access_share_requests_dataset_id_fkey: {
    code: 'ResourceNotFound',
    write: () => access.sharing.createRequest(request(randomUUID(), 'parks')),
  },
  access_share_requests_department_fkey: {
    code: 'Conflict',
    write: async () => {
      const ds = dataset('roads');
      await access.sharing.createDataset(ds);
      await access.sharing.createRequest(request(ds.id, 'nowhere'));
    },
  },
  access_grants_department_fkey: {
    code: 'BadRequestData',
    write: () => access.sharing.createGrant(grant('nowhere'), 'admin'),
  },
};

describe('an access write referring to a row that is not there', () => {
  it('has a case for every foreign key of the access schema', async () => {
    expect(Object.keys(CASES).sort()).toEqual([...ACCESS_FOREIGN_KEYS].sort());
    const r = await db.pool.query<{ conname: string }>(
      `SELECT conname FROM pg_constraint WHERE contype = 'f' AND conrelid::regclass::text LIKE 'access%'`,
    );
    expect(r.rows.map((x) => x.conname).sort()).toEqual([...ACCESS_FOREIGN_KEYS].sort());
  });

  it.each(Object.entries(CASES))('%s: answers with a hub error', async (_key, c) => {
    const err = await rejection(c.write());
    expect(err.code).toBe(c.code);
    expect((err.cause as { code?: string }).code).toBe('23503');
  });

  it('refuses updates to a department that is not there', async () => {
    const u = user('roads');
    await access.createUser(u);
    expect((await rejection(access.updateUser(u.id, { department: 'nowhere' }))).code).toBe('BadRequestData');
    expect((await rejection(access.updateDepartment('parks', { parent: 'nowhere' }))).code).toBe(
      'BadRequestData',
    );
  });
});

/** Resolves once another backend waits for a lock held by the test's open transaction. */
async function waitsForOther(ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await other.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_stat_activity
       WHERE datname = current_database() AND pg_backend_pid() = ANY (pg_blocking_pids(pid))`,
    );
    if (Number(r.rows[0]?.n ?? 0) > 0) return;
    if (Date.now() > deadline) throw new Error('the write never waited for the delete');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('an access write racing the delete of the row it refers to', () => {
  it('creating a user in a department deleted meanwhile: 400, and no user', async () => {
    await access.createDepartment({ id: 'closing', name: 'Closing', parent: null });
    await other.query('BEGIN');
    await other.query(`DELETE FROM access_departments WHERE id = 'closing'`);
    const u = user('closing');
    const write = rejection(access.createUser(u));
    await waitsForOther();
    await other.query('COMMIT');
    expect((await write).code).toBe('BadRequestData');
    expect(await access.getUser(u.id)).toBeUndefined();
  });

  it('a login whose account is deleted meanwhile: 401, and no session', async () => {
    const u = user('roads');
    await access.createUser(u);
    await other.query('BEGIN');
    await other.query('DELETE FROM access_users WHERE id = $1', [u.id]);
    const sid = randomUUID();
    const write = rejection(
      access.createSession({
        id: sid,
        userId: u.id,
        scope: 'full',
        expiresAt: new Date(Date.now() + 60_000).toISOString(),
      }),
    );
    await waitsForOther();
    await other.query('COMMIT');
    expect((await write).code).toBe('Unauthorized');
    expect(await access.getSession(sid)).toBeUndefined();
  });
});
