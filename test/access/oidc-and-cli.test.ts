import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { createTestDatabase } from '../support/db.js';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { json, type TestHub } from '../support/test-hub.js';
import { authHub, bearer, expectProblem, seedDepartments, person } from './access-support.js';

describe('tokens of an external OpenID Connect provider', () => {
  let jwksServer: Server;
  let hub: TestHub;
  let sign: (claims: Record<string, unknown>, iss?: string) => Promise<string>;
  const issuer = 'https://idp.example.gov.cn/realms/city';

  beforeAll(async () => {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    jwksServer = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
    const port = (jwksServer.address() as AddressInfo).port;
    sign = (claims, iss = issuer) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setIssuer(iss)
        .setAudience('citypivot')
        .setSubject('u-42')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);
    hub = await authHub({
      oidc: { issuer, jwksUrl: `http://127.0.0.1:${port}/jwks`, audience: 'citypivot' },
    });
    const t = await seedDepartments(hub);
    await hub.request({
      method: 'POST',
      url: '/ngsi-ld/v1/entities',
      headers: bearer(t.health),
      payload: person(1),
    });
  });
  afterAll(async () => {
    await hub?.close();
    await new Promise((r) => jwksServer?.close(r));
  });

  it('maps a verified token to its department and roles; admin roles are not taken from outside', async () => {
    const token = await sign({
      preferred_username: 'dr.wang',
      department: 'health',
      roles: ['department-user', 'security-administrator'],
    });
    const me = json<{ kind: string; name: string; department: string; roles: string[] }>(
      await hub.request({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(token) }),
    );
    expect(me).toMatchObject({
      kind: 'external',
      name: 'dr.wang',
      department: 'health',
      roles: ['department-user'],
    });
    const r = await hub.request({
      method: 'GET',
      url: '/ngsi-ld/v1/entities/urn:ngsi-ld:Person:1',
      headers: bearer(token),
    });
    expect(r.statusCode, r.body).toBe(200);
  });

  it('refuses a token of another issuer, a tampered one and an expired one', async () => {
    expectProblem(
      await hub.request({
        method: 'GET',
        url: '/api/v1/auth/me',
        headers: bearer(await sign({}, 'https://evil.example')),
      }),
      401,
    );
    const good = await sign({ department: 'health' });
    const [h, p, s] = good.split('.');
    const forged = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), department: 'transport' }),
    ).toString('base64url');
    expectProblem(
      await hub.request({ method: 'GET', url: '/api/v1/auth/me', headers: bearer(`${h}.${forged}.${s}`) }),
      401,
    );
  });
});

describe('citypivot serve --auth none', () => {
  it('is refused with exit code 2 and a clear message on a non-loopback host', async () => {
    const errors: string[] = [];
    const spy = vi
      .spyOn(console, 'error')
      .mockImplementation((...a: unknown[]) => void errors.push(a.join(' ')));
    try {
      expect(await main(['serve', '--auth', 'none', '--host', '0.0.0.0', '--db', 'memory://'])).toBe(2);
      expect(errors.join('\n')).toMatch(
        /--auth none is for local development only: refusing to listen on 0\.0\.0\.0/,
      );
      expect(await main(['serve', '--auth', 'maybe'])).toBe(2);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('citypivot users and audit verify', () => {
  it('creates and unlocks an account, and verifies the audit chain', async () => {
    const db = await createTestDatabase();
    const logs: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void logs.push(a.join(' ')));
    process.env.CITYPIVOT_USER_PASSWORD = 'Kite-Passw0rd!';
    try {
      expect(await main(['users', 'add', 'bob', '--role', 'department-user', '--db', db.url])).toBe(0);
      expect(await main(['users', 'unlock', 'bob', '--db', db.url])).toBe(0);
      expect(await main(['audit', 'verify', '--db', db.url])).toBe(0);
      expect(logs.join('\n')).toMatch(/intact: 2 records/);
      const r = await db.pool.query<{ roles: string[] }>(
        `SELECT roles FROM access_users WHERE username = 'bob'`,
      );
      expect(r.rows[0]?.roles).toEqual(['department-user']);
    } finally {
      delete process.env.CITYPIVOT_USER_PASSWORD;
      spy.mockRestore();
      await db.drop();
    }
  });
});
