/**
 * Values JavaScript accepts but PostgreSQL refuses (dates beyond its range, such as the
 * "-271821-04-20" a `Date` still parses; a NUL character once decoded) are the request's fault:
 * 400, never 500, on every route that stores or compares a date or a decoded id, and nothing is
 * written. Found by `npm run fuzz -- --requests 30000 --seed 7` (an API key expiring in year
 * -271821; `GET /jsonldContexts/%2500`); the cure is in the class (SQLSTATE class 22 is a bad
 * value, wherever the error is raised), so this test walks the date fields of each family.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_PASSWORD, authHub, bearer, expectProblem, tokenOf } from '../access/access-support.js';
import type { TestHub } from '../support/test-hub.js';

const FAR = ['-271821-04-20T00:00:00Z', '+275760-09-13T00:00:00Z', '-000001-01-01T00:00:00Z'];

let hub: TestHub;
let admin: Record<string, string>;

const send = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: unknown) =>
  hub.request({
    method,
    url,
    headers: { ...admin, ...(payload ? { 'content-type': 'application/json' } : {}) },
    ...(payload ? { payload: payload } : {}),
  });

beforeAll(async () => {
  hub = await authHub();
  admin = bearer(await tokenOf(hub, 'admin', ADMIN_PASSWORD));
  const r = await send('POST', '/ngsi-ld/v1/entities', {
    id: 'urn:ngsi-ld:Thing:1',
    type: 'Thing',
    n: { type: 'Property', value: 1, observedAt: '2026-01-01T00:00:00Z' },
  });
  expect(r.statusCode, r.body).toBe(201);
});
afterAll(async () => {
  await hub?.close();
});

/** Each request writes or compares one date the database cannot hold. */
const DATED: Record<string, (d: string, i: number) => ReturnType<typeof send>> = {
  'an entity attribute observedAt': (d, i) =>
    send('POST', '/ngsi-ld/v1/entities', {
      id: `urn:ngsi-ld:Thing:far${i}`,
      type: 'Thing',
      n: { type: 'Property', value: 1, observedAt: d },
    }),
  'an attribute update observedAt': (d) =>
    send('PATCH', '/ngsi-ld/v1/entities/urn:ngsi-ld:Thing:1/attrs', {
      n: { type: 'Property', value: 2, observedAt: d },
    }),
  'a temporal query timeAt': (d) =>
    send('GET', `/ngsi-ld/v1/temporal/entities?type=Thing&timerel=after&timeAt=${encodeURIComponent(d)}`),
  'a subscription expiresAt': (d) =>
    send('POST', '/ngsi-ld/v1/subscriptions', {
      type: 'Subscription',
      entities: [{ type: 'Thing' }],
      notification: { endpoint: { uri: 'http://127.0.0.1:9/n' } },
      expiresAt: d,
    }),
  'an API key expiresAt': (d) =>
    send('POST', '/api/v1/api-keys', { name: 'far', roles: ['department-user'], expiresAt: d }),
  'the audit log from': (d) => send('GET', `/api/v1/audit?from=${encodeURIComponent(d)}`),
};

describe('dates beyond what PostgreSQL holds', () => {
  for (const [what, request] of Object.entries(DATED))
    it(`${what}: 400 (or refused as invalid), never 500, nothing stored`, async () => {
      for (const [i, d] of FAR.entries()) {
        const r = await request(d, i);
        expect(r.statusCode, `${d}: ${r.body}`).toBeLessThan(500);
        if (r.statusCode >= 400) expectProblem(r, r.statusCode);
        else expect(r.statusCode, `${what} ${d} was accepted: ${r.body}`).toBe(200); // a query
      }
      const stored = await send('GET', '/ngsi-ld/v1/entities/urn:ngsi-ld:Thing:1');
      expect(JSON.parse(stored.body).n.value).toBe(1);
    });
});

describe('a NUL character in a decoded id', () => {
  it.each([
    '/ngsi-ld/v1/jsonldContexts/%2500',
    '/ngsi-ld/v1/entities/urn:ngsi-ld:Thing:%00',
    '/ngsi-ld/v1/entities/urn:ngsi-ld:Thing:%2500',
    '/ngsi-ld/v1/subscriptions/urn:ngsi-ld:Subscription:%00',
    '/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:Thing:%00',
    '/ngsi-ld/v1/types/T%00',
    '/ngsi-ld/v1/attributes/a%00',
    '/api/v1/users/u%00',
    '/iot/devices/d%00',
  ])('GET %s is a 4xx ProblemDetails', async (url) => {
    const r = await send('GET', url);
    expect(r.statusCode, r.body).toBeGreaterThanOrEqual(400);
    expect(r.statusCode, r.body).toBeLessThan(500);
    expectProblem(r, r.statusCode);
  });
});
