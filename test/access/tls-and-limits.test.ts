/**
 * Issue 6 item 2: the hub serves HTTPS with --tls-cert/--tls-key (and nothing in clear on that
 * port), and rate limits logins per address and API requests per account with 429 ProblemDetails.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type Hub } from '../../src/server/hub.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { authHub, bearer, expectProblem, login, ADMIN_PASSWORD } from './access-support.js';
import { createTestHub, type TestHub } from '../support/test-hub.js';

describe('TLS', () => {
  let dir: string;
  let db: TestDatabase;
  let hub: Hub;
  let cert: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'citypivot-tls-'));
    await promisify(execFile)('openssl', [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
      ...['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1'],
      ...['-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
    ]);
    cert = await readFile(join(dir, 'cert.pem'));
    db = await createTestDatabase();
    hub = await startHub({
      port: 0,
      host: '127.0.0.1',
      db: db.url,
      tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') },
      dashboardDir: false,
    });
  });
  afterAll(async () => {
    await hub?.stop();
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('answers over HTTPS with the given certificate, and not in clear', async () => {
    expect(hub.url.startsWith('https://')).toBe(true);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest(`${hub.url}/health`, { ca: cert }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
    const clear = await fetch(`${hub.url.replace('https://', 'http://')}/health`).then(
      (r) => r.status,
      () => 'refused',
    );
    expect(clear).not.toBe(200);
  });
});

describe('rate limits', () => {
  let hub: TestHub;
  beforeAll(async () => {
    hub = await authHub({ rateLimit: { api: 5, login: 3 } });
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('limits login attempts per address', async () => {
    for (let i = 0; i < 3; i++) expect((await login(hub, 'nobody', 'wrong-Passw0rd')).statusCode).toBe(401);
    expectProblem(await login(hub, 'admin', ADMIN_PASSWORD), 429);
  });

  it('limits API requests per account', async () => {
    const fresh = await createTestHub({
      auth: { adminPassword: ADMIN_PASSWORD, adminTotp: false, rateLimit: { api: 5, login: 10 } },
    });
    try {
      const r = await login(fresh, 'admin', ADMIN_PASSWORD);
      const token = (JSON.parse(r.body) as { access_token: string }).access_token;
      const codes: number[] = [];
      for (let i = 0; i < 7; i++)
        codes.push(
          (await fresh.request({ method: 'GET', url: '/ngsi-ld/v1/types', headers: bearer(token) }))
            .statusCode,
        );
      expect(codes.filter((c) => c === 429).length).toBeGreaterThan(0);
      const limited = await fresh.request({
        method: 'GET',
        url: '/ngsi-ld/v1/types',
        headers: bearer(token),
      });
      expectProblem(limited, 429);
      expect(JSON.parse(limited.body).detail).toMatch(/Too many requests/);
    } finally {
      await fresh.close();
    }
  });
});
