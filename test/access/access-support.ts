/**
 * Test helpers for the access layer: a hub with authentication on, logins, and two departments
 * (transport, health) with users and policies.
 */
import { expect } from 'vitest';
import type { LightMyRequestResponse } from 'fastify';
import { createTestHub, json, type TestHub } from '../support/test-hub.js';
import type { AccessOptions } from '../../src/access/access-setup.js';

export const ADMIN_PASSWORD = 'Chief-Passw0rd!';
export const USER_PASSWORD = 'User-Passw0rd!';
export const DEFAULT = 'https://uri.etsi.org/ngsi-ld/default-context/';

export async function authHub(auth: Partial<Omit<AccessOptions, 'store'>> = {}): Promise<TestHub> {
  return createTestHub({ auth: { adminPassword: ADMIN_PASSWORD, adminTotp: false, ...auth } });
}

/** Anything that answers requests in-process: a TestHub, an IotTestHub. */
export type Requester = Pick<TestHub, 'request'>;

export async function login(hub: Requester, username: string, password: string, totp?: string) {
  return hub.request({
    method: 'POST',
    url: '/api/v1/auth/login',
    payload: { username, password, ...(totp ? { totp } : {}) },
  });
}

export async function tokenOf(hub: Requester, username: string, password = USER_PASSWORD): Promise<string> {
  const r = await login(hub, username, password);
  expect(r.statusCode, r.body).toBe(200);
  return json<{ access_token: string }>(r).access_token;
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Asserts a ProblemDetails answer with this status. */
export function expectProblem(r: LightMyRequestResponse, status: number): void {
  expect(r.statusCode, r.body).toBe(status);
  const pd = json<{ status: number; type: string; title: string; detail: string }>(r);
  expect(pd.status).toBe(status);
  expect(typeof pd.type).toBe('string');
  expect(typeof pd.detail).toBe('string');
}

/**
 * Admin creates departments transport and health, a user in each (department-admin), and
 * policies: transport reads/writes TrafficFlowObserved and reads Person without `diagnosis`;
 * health reads/writes Person.
 */
export async function seedDepartments(
  hub: TestHub,
): Promise<{ admin: string; transport: string; health: string }> {
  const admin = await tokenOf(hub, 'admin', ADMIN_PASSWORD);
  const post = async (url: string, payload: unknown) => {
    const r = await hub.request({ method: 'POST', url, headers: bearer(admin), payload: payload as object });
    expect(r.statusCode, `${url}: ${r.body}`).toBe(201);
    return json<{ id: string }>(r);
  };
  await post('/api/v1/departments', { id: 'transport', name: 'Transport bureau' });
  await post('/api/v1/departments', { id: 'health', name: 'Health commission' });
  for (const d of ['transport', 'health'])
    await post('/api/v1/users', {
      username: `${d}-user`,
      password: USER_PASSWORD,
      department: d,
      roles: ['department-admin'],
    });
  await post('/api/v1/policies', {
    department: 'transport',
    entityTypes: ['TrafficFlowObserved'],
    actions: ['read', 'write'],
  });
  await post('/api/v1/policies', {
    department: 'transport',
    entityTypes: ['Person'],
    attrs: ['name', 'mobile', 'idNumber', 'location'],
    actions: ['read'],
  });
  await post('/api/v1/policies', {
    department: 'health',
    entityTypes: ['Person'],
    actions: ['read', 'write'],
  });
  return {
    admin,
    transport: await tokenOf(hub, 'transport-user'),
    health: await tokenOf(hub, 'health-user'),
  };
}

export function person(n: number, extra: Record<string, unknown> = {}) {
  return {
    id: `urn:ngsi-ld:Person:${n}`,
    type: 'Person',
    name: { type: 'Property', value: '张三丰' },
    mobile: { type: 'Property', value: '13812345678' },
    idNumber: { type: 'Property', value: '110101199003071233' },
    diagnosis: { type: 'Property', value: 'influenza' },
    location: { type: 'GeoProperty', value: { type: 'Point', coordinates: [113.625368, 34.746599] } },
    ...extra,
  };
}

export function flow(n: number) {
  return {
    id: `urn:ngsi-ld:TrafficFlowObserved:${n}`,
    type: 'TrafficFlowObserved',
    intensity: { type: 'Property', value: 100 + n },
    location: { type: 'GeoProperty', value: { type: 'Point', coordinates: [113.6 + n / 100, 34.7] } },
  };
}

/** The security administrator grants transport the unmasked `mobile` of Person for 'emergency-contact', an hour long. */
export async function grantEmergencyContact(hub: TestHub, admin: string): Promise<void> {
  const grant = await hub.request({
    method: 'POST',
    url: '/api/v1/grants',
    headers: bearer(admin),
    payload: {
      department: 'transport',
      entityType: 'Person',
      attrs: ['mobile'],
      purpose: 'emergency-contact',
      validUntil: new Date(Date.now() + 3_600_000).toISOString(),
    },
  });
  expect(grant.statusCode, grant.body).toBe(201);
}

/** An account `auditor` with the auditor role (created once), and its token. */
export async function auditorToken(hub: TestHub, admin: string): Promise<string> {
  if (!(await hub.access!.store.getUserByName('auditor'))) {
    const r = await hub.request({
      method: 'POST',
      url: '/api/v1/users',
      headers: bearer(admin),
      payload: { username: 'auditor', password: USER_PASSWORD, roles: ['auditor'] },
    });
    expect(r.statusCode, r.body).toBe(201);
  }
  return tokenOf(hub, 'auditor');
}
