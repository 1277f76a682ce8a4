/**
 * Issue 15: whose X-Forwarded-For counts (--trust-proxy). By default nobody's: a client that sends
 * changing X-Forwarded-For headers is still one address to the login rate limit and to the audit
 * log. With a proxy named, requests that come through it are counted and audited by the address it
 * forwards, and a request from anywhere else is still taken at its own address.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createTestHub, json, type TestHub } from '../support/test-hub.js';
import { ADMIN_PASSWORD } from './access-support.js';

const auth = { adminPassword: ADMIN_PASSWORD, adminTotp: false, rateLimit: { api: 1000, login: 5 } };

async function failedLogin(hub: TestHub, n: number, remoteAddress = '127.0.0.1') {
  return hub.request({
    method: 'POST',
    url: '/api/v1/auth/login',
    remoteAddress,
    headers: { 'x-forwarded-for': `203.0.113.${n}` },
    payload: { username: `nobody${n}`, password: 'Wrong-Passw0rd!' },
  });
}

/** A token, logged in from an address of its own (so that the tests' limits are not spent). */
async function tokenFrom(hub: TestHub, username: string, password: string): Promise<string> {
  const r = await hub.request({
    method: 'POST',
    url: '/api/v1/auth/login',
    remoteAddress: '192.0.2.200',
    payload: { username, password },
  });
  expect(r.statusCode, r.body).toBe(200);
  return json<{ access_token: string }>(r).access_token;
}

/** An auditor's token (the account made by the administrator). */
async function auditorToken(hub: TestHub): Promise<string> {
  const admin = await tokenFrom(hub, 'admin', ADMIN_PASSWORD);
  const made = await hub.request({
    method: 'POST',
    url: '/api/v1/users',
    headers: { authorization: `Bearer ${admin}` },
    payload: { username: 'auditor', password: 'User-Passw0rd!', roles: ['auditor'] },
  });
  expect(made.statusCode, made.body).toBe(201);
  return tokenFrom(hub, 'auditor', 'User-Passw0rd!');
}

/** The addresses the audit log recorded for failed logins of `nobody*`. */
async function auditedAddresses(hub: TestHub, auditor: string): Promise<string[]> {
  const r = await hub.request({
    url: '/api/v1/audit?action=login&limit=100',
    headers: { authorization: `Bearer ${auditor}` },
  });
  expect(r.statusCode, r.body).toBe(200);
  const list = json<{ actor: string; ip?: string }[]>(r);
  return [...new Set(list.filter((x) => x.actor.startsWith('nobody')).map((x) => x.ip ?? ''))].sort();
}

describe('X-Forwarded-For, trusted from nobody by default', () => {
  let hub: TestHub;
  afterAll(async () => {
    await hub?.close();
  });

  it('counts and audits the connection address, whatever the header says', async () => {
    hub = await createTestHub({ auth });
    const auditor = await auditorToken(hub);
    const codes: number[] = [];
    for (let i = 1; i <= 7; i++) codes.push((await failedLogin(hub, i)).statusCode);
    expect(codes.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(codes.slice(5)).toEqual([429, 429]);
    expect(await auditedAddresses(hub, auditor)).toEqual(['127.0.0.1']);
  });
});

describe('X-Forwarded-For from a named proxy', () => {
  let hub: TestHub;
  afterAll(async () => {
    await hub?.close();
  });

  it('counts and audits the address the proxy forwards; others are taken at their own address', async () => {
    hub = await createTestHub({ auth, trustProxy: ['127.0.0.1/32'] });
    const auditor = await auditorToken(hub);
    for (let i = 1; i <= 7; i++) expect((await failedLogin(hub, i)).statusCode).toBe(401);
    // not through the proxy: its header is ignored, and its own address is limited
    const direct: number[] = [];
    for (let i = 20; i < 27; i++) direct.push((await failedLogin(hub, i, '198.51.100.9')).statusCode);
    expect(direct.slice(5)).toEqual([429, 429]);
    const seen = await auditedAddresses(hub, auditor);
    expect(seen).toContain('203.0.113.1');
    expect(seen).toContain('203.0.113.7');
    expect(seen).toContain('198.51.100.9');
    expect(seen).not.toContain('203.0.113.20');
    expect(seen).not.toContain('127.0.0.1');
  });
});
