import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from 'otplib';
import { json, type TestHub } from '../support/test-hub.js';
import {
  ADMIN_PASSWORD,
  USER_PASSWORD,
  authHub,
  bearer,
  expectProblem,
  login,
  tokenOf,
} from './access-support.js';

describe('login, lockout, logout, API keys', () => {
  let hub: TestHub;
  let admin: string;
  beforeAll(async () => {
    hub = await authHub();
    admin = await tokenOf(hub, 'admin', ADMIN_PASSWORD);
  });
  afterAll(async () => hub?.close());

  it('answers 401 ProblemDetails without credentials, and with a bad token', async () => {
    expectProblem(await hub.request({ method: 'GET', url: '/ngsi-ld/v1/entities?type=Thing' }), 401);
    expectProblem(
      await hub.request({ method: 'GET', url: '/ngsi-ld/v1/types', headers: bearer('abc.def.ghi') }),
      401,
    );
    expectProblem(await hub.request({ method: 'GET', url: '/api/v1/users' }), 401);
    // health stays open
    expect((await hub.request({ method: 'GET', url: '/health' })).statusCode).toBe(200);
  });

  it('logs in with an OAuth2-shaped answer and a hub-signed JWT', async () => {
    const r = await login(hub, 'admin', ADMIN_PASSWORD);
    expect(r.statusCode).toBe(200);
    const body = json<{ access_token: string; token_type: string; expires_in: number }>(r);
    expect(body.token_type).toBe('Bearer');
    expect(body.expires_in).toBeGreaterThan(0);
    expect(body.access_token.split('.')).toHaveLength(3);
    const me = await hub.request({
      method: 'GET',
      url: '/api/v1/auth/me',
      headers: bearer(body.access_token),
    });
    expect(json<{ name: string; roles: string[] }>(me)).toMatchObject({ name: 'admin' });
    // security headers
    expect(me.headers['x-content-type-options']).toBe('nosniff');
  });

  it('refuses a weak password and an auditor who is also an administrator', async () => {
    const weak = await hub.request({
      method: 'POST',
      url: '/api/v1/users',
      headers: bearer(admin),
      payload: { username: 'weak', password: 'password' },
    });
    expectProblem(weak, 400);
    const both = await hub.request({
      method: 'POST',
      url: '/api/v1/users',
      headers: bearer(admin),
      payload: { username: 'both', password: USER_PASSWORD, roles: ['auditor', 'security-administrator'] },
    });
    expectProblem(both, 400);
  });

  it('locks an account after 5 failed logins, even for the right password', async () => {
    const c = await hub.request({
      method: 'POST',
      url: '/api/v1/users',
      headers: bearer(admin),
      payload: { username: 'clumsy', password: USER_PASSWORD },
    });
    expect(c.statusCode).toBe(201);
    for (let i = 0; i < 5; i++) expectProblem(await login(hub, 'clumsy', 'Wrong-Passw0rd!'), 401);
    const locked = await login(hub, 'clumsy', USER_PASSWORD);
    expectProblem(locked, 401);
    expect(json<{ detail: string }>(locked).detail).toMatch(/locked/);
    // the security administrator unlocks it
    const id = json<{ id: string }>(c).id;
    expect(
      (await hub.request({ method: 'POST', url: `/api/v1/users/${id}/unlock`, headers: bearer(admin) }))
        .statusCode,
    ).toBe(204);
    expect((await login(hub, 'clumsy', USER_PASSWORD)).statusCode).toBe(200);
    // unknown users fail the same way
    expect(json<{ detail: string }>(await login(hub, 'nobody', USER_PASSWORD)).detail).toBe(
      json<{ detail: string }>(await login(hub, 'clumsy', 'Wrong-Passw0rd!')).detail,
    );
  });

  it('revokes the token on logout', async () => {
    const t = await tokenOf(hub, 'admin', ADMIN_PASSWORD);
    expect(
      (await hub.request({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(t) })).statusCode,
    ).toBe(200);
    expect(
      (await hub.request({ method: 'POST', url: '/api/v1/auth/logout', headers: bearer(t) })).statusCode,
    ).toBe(204);
    expectProblem(await hub.request({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(t) }), 401);
  });

  it('ends a session after the idle timeout', async () => {
    const t = await tokenOf(hub, 'admin', ADMIN_PASSWORD);
    const put = await hub.request({
      method: 'PUT',
      url: '/api/v1/password-policy',
      headers: bearer(admin),
      payload: { idleSeconds: 60 },
    });
    expect(put.statusCode).toBe(204);
    // backdate the session instead of sleeping
    const { pool } = hub;
    await pool.query(`UPDATE access_sessions SET last_seen_at = now() - interval '61 seconds'`);
    const r = await hub.request({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(t) });
    expectProblem(r, 401);
    expect(json<{ detail: string }>(r).detail).toMatch(/inactivity/);
    await hub.request({
      method: 'PUT',
      url: '/api/v1/password-policy',
      headers: bearer(await tokenOf(hub, 'admin', ADMIN_PASSWORD)),
      payload: { idleSeconds: 1800 },
    });
  });

  it('authenticates systems with API keys stored hashed, and stops a revoked key', async () => {
    admin = await tokenOf(hub, 'admin', ADMIN_PASSWORD);
    const r = await hub.request({
      method: 'POST',
      url: '/api/v1/api-keys',
      headers: bearer(admin),
      payload: { name: 'traffic-system', department: 'city', roles: ['department-user'] },
    });
    expect(r.statusCode, r.body).toBe(201);
    const { id, key } = json<{ id: string; key: string }>(r);
    const me = await hub.request({ method: 'GET', url: '/api/v1/auth/me', headers: { 'x-api-key': key } });
    expect(json<{ kind: string }>(me).kind).toBe('api-key');
    const raw = await hub.pool.query<{ secret_hash: string }>(
      'SELECT secret_hash FROM access_api_keys WHERE id = $1',
      [id],
    );
    expect(raw.rows[0]?.secret_hash).not.toContain(key.split('.')[1]);
    expectProblem(
      await hub.request({ method: 'GET', url: '/api/v1/auth/me', headers: { 'x-api-key': `${key}x` } }),
      401,
    );
    await hub.request({ method: 'DELETE', url: `/api/v1/api-keys/${id}`, headers: bearer(admin) });
    expectProblem(
      await hub.request({
        method: 'GET',
        url: '/api/v1/auth/me',
        headers: { authorization: `ApiKey ${key}` },
      }),
      401,
    );
  });

  it('answers 403 ProblemDetails to a role that may not administer', async () => {
    const c = await hub.request({
      method: 'POST',
      url: '/api/v1/users',
      headers: bearer(admin),
      payload: { username: 'plain', password: USER_PASSWORD },
    });
    expect(c.statusCode).toBe(201);
    const t = await tokenOf(hub, 'plain');
    expectProblem(await hub.request({ method: 'GET', url: '/api/v1/users', headers: bearer(t) }), 403);
    expectProblem(await hub.request({ method: 'GET', url: '/api/v1/audit', headers: bearer(admin) }), 403);
  });
});

describe('TOTP second factor for administrators', () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await authHub({ adminTotp: true });
  });
  afterAll(async () => hub?.close());

  it('gives an administrator without TOTP an enrolment-only token, then requires the code', async () => {
    const first = json<{ access_token: string; scope?: string }>(await login(hub, 'admin', ADMIN_PASSWORD));
    expect(first.scope).toBe('totp-enrolment');
    expectProblem(
      await hub.request({ method: 'GET', url: '/api/v1/users', headers: bearer(first.access_token) }),
      403,
    );
    const enrol = await hub.request({
      method: 'POST',
      url: '/api/v1/auth/totp',
      headers: bearer(first.access_token),
    });
    expect(enrol.statusCode, enrol.body).toBe(200);
    const { secret } = json<{ secret: string; otpauth_url: string }>(enrol);
    const code = await generate({ secret });
    const confirm = await hub.request({
      method: 'POST',
      url: '/api/v1/auth/totp/confirm',
      headers: bearer(first.access_token),
      payload: { code },
    });
    expect(confirm.statusCode, confirm.body).toBe(204);

    const noCode = await login(hub, 'admin', ADMIN_PASSWORD);
    expectProblem(noCode, 401);
    expect(json<{ detail: string }>(noCode).detail).toMatch(/TOTP/);
    expectProblem(await login(hub, 'admin', ADMIN_PASSWORD, '000000'), 401);
    // the code of the next time step (the current one was used to confirm: replays are refused)
    const next = await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 });
    const ok = await login(hub, 'admin', ADMIN_PASSWORD, next);
    expect(ok.statusCode, ok.body).toBe(200);
    expect(json<{ scope?: string }>(ok).scope).toBeUndefined();
    expectProblem(await login(hub, 'admin', ADMIN_PASSWORD, next), 401); // replayed
  });
});
