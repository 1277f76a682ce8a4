/**
 * Issue 15, "authorization by construction": every route the hub registers, called by four
 * principals (anonymous, an account of another department, an account of the department that
 * owns the data, the administrator), each on four spellings of its path (plain, a percent-encoded
 * letter, doubled slashes, a trailing slash). The routes come from Fastify's onRoute
 * (registeredRoutes): a route added without an access rule, or without a sample request here,
 * fails this test. Each request gets fresh targets (an entity, a subscription, a device, a user…),
 * so that what one request changes does not decide the next one's answer.
 *
 * What must hold: anonymous callers get 401 wherever the rule asks for an account; the other
 * department gets 403 on administration and changes none of the owner's data anywhere (the
 * database's data tables are compared before and after each of its requests) and never sees the
 * owner's secret values; the owner and the administrator are let through where their rule says
 * so; every spelling of a path is decided like the plain one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { createIotTestHub, ADMIN_PASSWORD, type IotTestHub } from '../iot/support/iot-hub.js';
import { registeredRoutes, type RegisteredRoute } from '../../src/server/http-app.js';
import type { RouteAccess } from '../../src/http/route-access.js';
import { tokenOf } from './access-support.js';

const PASSWORD = 'User-Passw0rd!';
/** Values only the owning department (health) may ever see. */
const SECRETS = ['SECRET-DIAGNOSIS-4711', 'SECRET-NAME-4711'];
const SMD = 'https://uri.etsi.org/ngsi-ld/default-context/';

type Who = 'anonymous' | 'other' | 'owner' | 'admin';
const WHO: readonly Who[] = ['anonymous', 'other', 'owner', 'admin'];

interface Sample {
  url: string;
  payload?: unknown;
  headers?: Record<string, string>;
  /** Statuses this principal may get besides the rule's expectation (a handler's own refusal). */
  also?: Partial<Record<Who, number[]>>;
  /** This request legitimately changes data of its caller's own (not the owner's): skip the data comparison. */
  ownWrite?: Who[];
}

let hub: IotTestHub;
const tokens = {} as Record<Exclude<Who, 'anonymous'>, string>;
let n = 0;
const next = () => `${process.pid}x${++n}`;

/** A request as `who`, or with `who` as a bearer token of its own (a fresh session). */
async function call(
  who: string,
  method: string,
  url: string,
  payload?: unknown,
  headers: Record<string, string> = {},
): Promise<LightMyRequestResponse> {
  const token = who === 'anonymous' ? undefined : (tokens[who as Exclude<Who, 'anonymous'>] ?? who);
  return hub.request({
    method: method as NonNullable<InjectOptions['method']>,
    url,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
}

/** As `who`, expecting a 2xx; returns the answer. */
async function ok(who: Exclude<Who, 'anonymous'>, method: string, url: string, payload?: unknown) {
  const r = await call(who, method, url, payload);
  expect(r.statusCode, `${method} ${url}: ${r.body}`).toBeLessThan(300);
  return r;
}
const idFrom = (r: LightMyRequestResponse) =>
  decodeURIComponent(String(r.headers.location).split('/').pop() ?? '');
const bodyId = (r: LightMyRequestResponse) => (JSON.parse(r.body) as { id: string }).id;

// Fresh targets, made by their owner (health) or the administrator.
const fresh = {
  async person(): Promise<string> {
    const id = `urn:ngsi-ld:Person:${next()}`;
    await ok('owner', 'POST', '/ngsi-ld/v1/entities', {
      id,
      type: 'Person',
      name: { type: 'Property', value: SECRETS[1] },
      diagnosis: { type: 'Property', value: SECRETS[0], observedAt: '2026-12-01T10:00:00Z' },
      location: { type: 'GeoProperty', value: { type: 'Point', coordinates: [113.6, 34.7] } },
    });
    return id;
  },
  async instance(entityId: string): Promise<string> {
    const r = await hub.db.pool.query<{ instance_id: string }>(
      'SELECT instance_id FROM attribute_history WHERE entity_id = $1 AND attr = $2 LIMIT 1',
      [entityId, `${SMD}diagnosis`],
    );
    return r.rows[0]?.instance_id ?? 'urn:ngsi-ld:none';
  },
  async subscription(): Promise<string> {
    const r = await ok('owner', 'POST', '/ngsi-ld/v1/subscriptions', {
      type: 'Subscription',
      entities: [{ type: 'Person' }],
      notification: { endpoint: { uri: 'http://127.0.0.1:9/notify' } },
    });
    return idFrom(r);
  },
  async context(): Promise<string> {
    return idFrom(await ok('admin', 'POST', '/ngsi-ld/v1/jsonldContexts', { '@context': { x: 'urn:x' } }));
  },
  async group(): Promise<string> {
    const apikey = `hk${next()}`;
    await ok('owner', 'POST', '/iot/services', {
      services: [{ apikey, resource: '/iot/json', entity_type: 'Person' }],
    });
    return apikey;
  },
  async device(): Promise<string> {
    const device_id = `hd${next()}`;
    await ok('owner', 'POST', '/iot/devices', {
      devices: [{ device_id, entity_type: 'Person', entity_name: `urn:ngsi-ld:Person:${device_id}` }],
    });
    return device_id;
  },
  async department(): Promise<string> {
    const id = `d${next()}`;
    await ok('admin', 'POST', '/api/v1/departments', { id, name: id, parent: 'health' });
    return id;
  },
  async user(): Promise<string> {
    const username = `u${next()}`;
    return bodyId(
      await ok('admin', 'POST', '/api/v1/users', {
        username,
        password: PASSWORD,
        department: 'health',
        roles: ['department-user'],
      }),
    );
  },
  async policy(): Promise<string> {
    return bodyId(
      await ok('admin', 'POST', '/api/v1/policies', {
        department: 'health',
        entityTypes: ['Person'],
        actions: ['read'],
      }),
    );
  },
  async grant(): Promise<string> {
    return bodyId(
      await ok('admin', 'POST', '/api/v1/grants', {
        department: 'transport',
        entityType: 'Person',
        attrs: ['name'],
        purpose: 'care',
        validUntil: new Date(Date.now() + 3_600_000).toISOString(),
      }),
    );
  },
  async apiKey(): Promise<string> {
    return bodyId(
      await ok('admin', 'POST', '/api/v1/api-keys', { name: `k${next()}`, department: 'health' }),
    );
  },
  async dataset(): Promise<string> {
    return bodyId(
      await ok('owner', 'POST', '/api/v1/datasets', { title: `ds${next()}`, entityType: 'Person' }),
    );
  },
  async shareRequest(): Promise<string> {
    const ds = await fresh.dataset();
    return bodyId(
      await ok('other', 'POST', `/api/v1/datasets/${ds}/requests`, {
        purpose: 'planning',
        validUntil: new Date(Date.now() + 86_400_000).toISOString(),
      }),
    );
  },
  async catalogAttr(): Promise<string> {
    const attr = `extra${next()}`;
    await ok('admin', 'PUT', '/api/v1/catalog', { entityType: 'Person', attr, sensitivity: 'personal' });
    return attr;
  },
};

const e = encodeURIComponent;
const person = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  type: 'Person',
  name: { type: 'Property', value: 'A new name' },
  ...extra,
});
const until = () => new Date(Date.now() + 3_600_000).toISOString();

/** One request per route, aimed at the owner's (health's) data; keys are `METHOD url-pattern`. */
const SAMPLES: Record<string, () => Sample | Promise<Sample>> = {
  'GET /health': () => ({ url: '/health' }),
  'GET /metrics': () => ({ url: '/metrics' }),
  // the API's description and its reference page (Swagger UI's files, its copies of the document)
  'GET /openapi.json': () => ({ url: '/openapi.json' }),
  'GET /docs': () => ({ url: '/docs' }),
  'GET /docs/json': () => ({ url: '/docs/json' }),
  'GET /docs/yaml': () => ({ url: '/docs/yaml' }),
  'GET /docs/static/index.html': () => ({ url: '/docs/static/index.html' }),
  'GET /docs/static/swagger-initializer.js': () => ({ url: '/docs/static/swagger-initializer.js' }),
  'GET /docs/static/*': () => ({ url: '/docs/static/swagger-ui.css' }),
  // NGSI-LD entities
  'POST /ngsi-ld/v1/entities': () => ({
    url: '/ngsi-ld/v1/entities',
    payload: person(`urn:ngsi-ld:Person:${next()}`),
  }),
  'GET /ngsi-ld/v1/entities': () => ({ url: '/ngsi-ld/v1/entities?type=Person' }),
  'DELETE /ngsi-ld/v1/entities': async () => {
    const id = await fresh.person();
    return { url: `/ngsi-ld/v1/entities?type=Person&id=${e(id)}` };
  },
  'PUT /ngsi-ld/v1/entities': () => ({
    url: '/ngsi-ld/v1/entities',
    payload: {},
    also: { owner: [400], admin: [400] },
  }),
  'PATCH /ngsi-ld/v1/entities': () => ({
    url: '/ngsi-ld/v1/entities',
    payload: {},
    also: { owner: [400], admin: [400] },
  }),
  'GET /ngsi-ld/v1/entities/:entityId': async () => ({
    url: `/ngsi-ld/v1/entities/${e(await fresh.person())}`,
  }),
  'PUT /ngsi-ld/v1/entities/:entityId': async () => {
    const id = await fresh.person();
    return { url: `/ngsi-ld/v1/entities/${e(id)}`, payload: person(id) };
  },
  'PATCH /ngsi-ld/v1/entities/:entityId': async () => ({
    url: `/ngsi-ld/v1/entities/${e(await fresh.person())}`,
    payload: { name: { type: 'Property', value: 'Merged' } },
  }),
  'DELETE /ngsi-ld/v1/entities/:entityId': async () => ({
    url: `/ngsi-ld/v1/entities/${e(await fresh.person())}`,
  }),
  'DELETE /ngsi-ld/v1/entities/:entityId/attrs': async () => ({
    url: `/ngsi-ld/v1/entities/${e(await fresh.person())}/attrs`,
    also: { owner: [405], admin: [405] },
  }),
  'POST /ngsi-ld/v1/entities/:entityId/attrs': async () => ({
    url: `/ngsi-ld/v1/entities/${e(await fresh.person())}/attrs`,
    payload: { note: { type: 'Property', value: 'appended' } },
  }),
  'PATCH /ngsi-ld/v1/entities/:entityId/attrs': async () => ({
    url: `/ngsi-ld/v1/entities/${e(await fresh.person())}/attrs`,
    payload: { name: { type: 'Property', value: 'Updated' } },
  }),
  'PATCH /ngsi-ld/v1/entities/:entityId/attrs/:attrId': async () => ({
    url: `/ngsi-ld/v1/entities/${e(await fresh.person())}/attrs/name`,
    payload: { value: 'Patched' },
  }),
  'PUT /ngsi-ld/v1/entities/:entityId/attrs/:attrId': async () => ({
    url: `/ngsi-ld/v1/entities/${e(await fresh.person())}/attrs/name`,
    payload: { type: 'Property', value: 'Replaced' },
  }),
  'DELETE /ngsi-ld/v1/entities/:entityId/attrs/:attrId': async () => ({
    url: `/ngsi-ld/v1/entities/${e(await fresh.person())}/attrs/diagnosis`,
  }),
  // batches
  'POST /ngsi-ld/v1/entityOperations/create': () => ({
    url: '/ngsi-ld/v1/entityOperations/create',
    payload: [person(`urn:ngsi-ld:Person:${next()}`)],
  }),
  'POST /ngsi-ld/v1/entityOperations/upsert': async () => ({
    url: '/ngsi-ld/v1/entityOperations/upsert',
    payload: [person(await fresh.person())],
  }),
  'POST /ngsi-ld/v1/entityOperations/update': async () => ({
    url: '/ngsi-ld/v1/entityOperations/update',
    payload: [person(await fresh.person())],
  }),
  'POST /ngsi-ld/v1/entityOperations/merge': async () => ({
    url: '/ngsi-ld/v1/entityOperations/merge',
    payload: [person(await fresh.person())],
  }),
  'POST /ngsi-ld/v1/entityOperations/delete': async () => ({
    url: '/ngsi-ld/v1/entityOperations/delete',
    payload: [await fresh.person()],
  }),
  'POST /ngsi-ld/v1/entityOperations/query': () => ({
    url: '/ngsi-ld/v1/entityOperations/query',
    payload: { type: 'Query', entities: [{ type: 'Person' }] },
  }),
  // discovery
  'GET /ngsi-ld/v1/types': () => ({ url: '/ngsi-ld/v1/types?details=true' }),
  'GET /ngsi-ld/v1/types/:type': () => ({ url: '/ngsi-ld/v1/types/Person' }),
  'GET /ngsi-ld/v1/attributes': () => ({ url: '/ngsi-ld/v1/attributes?details=true' }),
  'GET /ngsi-ld/v1/attributes/:attrId': () => ({ url: '/ngsi-ld/v1/attributes/diagnosis' }),
  // @context documents
  'GET /ngsi-ld/v1/jsonldContexts': () => ({ url: '/ngsi-ld/v1/jsonldContexts' }),
  'POST /ngsi-ld/v1/jsonldContexts': () => ({
    url: '/ngsi-ld/v1/jsonldContexts',
    payload: { '@context': { y: 'urn:y' } },
    ownWrite: ['other', 'owner', 'admin'],
  }),
  'GET /ngsi-ld/v1/jsonldContexts/:contextId': async () => ({
    url: `/ngsi-ld/v1/jsonldContexts/${await fresh.context()}`,
  }),
  'DELETE /ngsi-ld/v1/jsonldContexts/:contextId': async () => ({
    url: `/ngsi-ld/v1/jsonldContexts/${await fresh.context()}`,
  }),
  // subscriptions (an account's own; the owner's subscriptions are out of others' reach)
  'POST /ngsi-ld/v1/subscriptions': () => ({
    url: '/ngsi-ld/v1/subscriptions',
    payload: {
      type: 'Subscription',
      entities: [{ type: 'Person' }],
      notification: { endpoint: { uri: 'http://127.0.0.1:9/notify' } },
    },
  }),
  'GET /ngsi-ld/v1/subscriptions': () => ({ url: '/ngsi-ld/v1/subscriptions' }),
  'GET /ngsi-ld/v1/subscriptions/:id': async () => ({
    url: `/ngsi-ld/v1/subscriptions/${e(await fresh.subscription())}`,
    also: { admin: [404] },
  }),
  'PATCH /ngsi-ld/v1/subscriptions/:id': async () => ({
    url: `/ngsi-ld/v1/subscriptions/${e(await fresh.subscription())}`,
    payload: { description: 'changed' },
  }),
  'DELETE /ngsi-ld/v1/subscriptions/:id': async () => ({
    url: `/ngsi-ld/v1/subscriptions/${e(await fresh.subscription())}`,
  }),
  'PATCH /ngsi-ld/v1/subscriptions/': () => ({
    url: '/ngsi-ld/v1/subscriptions/',
    payload: {},
    also: { owner: [405], admin: [405] },
  }),
  'DELETE /ngsi-ld/v1/subscriptions/': () => ({
    url: '/ngsi-ld/v1/subscriptions/',
    also: { owner: [405], admin: [405] },
  }),
  'GET /api/v1/notifications': async () => ({
    url: `/api/v1/notifications?subscriptionId=${e(await fresh.subscription())}`,
  }),
  'POST /api/v1/notifications/replay': async () => ({
    url: '/api/v1/notifications/replay',
    payload: { subscriptionId: await fresh.subscription() },
  }),
  // A filter that does not parse: answered before the stream opens (a stream would never end here).
  'GET /api/v1/stream': () => ({
    url: '/api/v1/stream?type=Person&q=(((',
    also: { other: [400], owner: [400], admin: [400] },
  }),
  'GET /api/v1/export': () => ({ url: '/api/v1/export?type=Person' }),
  // environment module: a calculator that reads nothing stored
  'POST /api/v1/environment/aqi': () => ({
    url: '/api/v1/environment/aqi',
    payload: { standard: 'HJ 633-2026', averaging: '24h', concentrations: { pm25: 80 } },
  }),
  'POST /api/v1/environment/water-class': () => ({
    url: '/api/v1/environment/water-class',
    payload: { waterBody: 'river', values: { dissolvedOxygen: 6.5, ammoniaNitrogen: 0.8 } },
  }),
  'POST /api/v1/environment/noise': () => ({
    url: '/api/v1/environment/noise',
    payload: { zone: '2', period: 'day', levels: [58, 62] },
  }),
  // transport module: the TPI calculator reads nothing stored
  'POST /api/v1/traffic/tpi': () => ({
    url: '/api/v1/traffic/tpi',
    payload: { links: [{ id: 'a', speed: 30, freeFlowSpeed: 60, length: 1.2, vehicles: 900 }] },
  }),
  // environment module: energy monitoring (a read of the tenant's units, a calculator)
  'GET /api/v1/energy/units': () => ({ url: '/api/v1/energy/units' }),
  'POST /api/v1/energy/consumption': () => ({
    url: '/api/v1/energy/consumption',
    payload: {
      readings: [
        { observedAt: '2026-12-07T08:00:00Z', value: 100 },
        { observedAt: '2026-12-07T08:30:00Z', value: 110 },
      ],
    },
  }),
  // transport module: the tenant has no road network here (404), and no car park (an empty list)
  'GET /api/v1/traffic/route': () => ({
    url: '/api/v1/traffic/route?from=113.6,34.7&to=113.7,34.8',
    also: { other: [404], owner: [404], admin: [404] },
  }),
  'GET /api/v1/parking/nearest': () => ({ url: '/api/v1/parking/nearest?near=113.6,34.7&min=1' }),
  // temporal
  'GET /ngsi-ld/v1/temporal/entities': () => ({ url: '/ngsi-ld/v1/temporal/entities?type=Person' }),
  'POST /ngsi-ld/v1/temporal/entityOperations/query': () => ({
    url: '/ngsi-ld/v1/temporal/entityOperations/query',
    payload: { type: 'Query', entities: [{ type: 'Person' }] },
  }),
  'GET /ngsi-ld/v1/temporal/entities/:entityId': async () => ({
    url: `/ngsi-ld/v1/temporal/entities/${e(await fresh.person())}`,
  }),
  'POST /ngsi-ld/v1/temporal/entities': async () => ({
    url: '/ngsi-ld/v1/temporal/entities',
    payload: {
      id: await fresh.person(),
      type: 'Person',
      diagnosis: [{ type: 'Property', value: 'later', observedAt: '2026-12-02T10:00:00Z' }],
    },
  }),
  'DELETE /ngsi-ld/v1/temporal/entities': () => ({
    url: '/ngsi-ld/v1/temporal/entities',
    also: { owner: [400, 405], admin: [400, 405] },
  }),
  'DELETE /ngsi-ld/v1/temporal/entities/:entityId': async () => ({
    url: `/ngsi-ld/v1/temporal/entities/${e(await fresh.person())}`,
  }),
  'POST /ngsi-ld/v1/temporal/entities/:entityId/attrs': async () => ({
    url: `/ngsi-ld/v1/temporal/entities/${e(await fresh.person())}/attrs`,
    payload: { diagnosis: [{ type: 'Property', value: 'added', observedAt: '2026-12-03T10:00:00Z' }] },
  }),
  'DELETE /ngsi-ld/v1/temporal/entities/:entityId/attrs/:attrId': async () => ({
    url: `/ngsi-ld/v1/temporal/entities/${e(await fresh.person())}/attrs/diagnosis`,
  }),
  'PATCH /ngsi-ld/v1/temporal/entities/:entityId/attrs/:attrId': async () => ({
    url: `/ngsi-ld/v1/temporal/entities/${e(await fresh.person())}/attrs/diagnosis`,
    payload: {},
    also: { owner: [400, 405], admin: [400, 405] },
  }),
  'PATCH /ngsi-ld/v1/temporal/entities/:entityId/attrs/:attrId/:instanceId': async () => {
    const id = await fresh.person();
    return {
      url: `/ngsi-ld/v1/temporal/entities/${e(id)}/attrs/diagnosis/${e(await fresh.instance(id))}`,
      payload: { value: 'corrected' },
    };
  },
  'DELETE /ngsi-ld/v1/temporal/entities/:entityId/attrs/:attrId/:instanceId': async () => {
    const id = await fresh.person();
    return { url: `/ngsi-ld/v1/temporal/entities/${e(id)}/attrs/diagnosis/${e(await fresh.instance(id))}` };
  },
  // IoT provisioning and southbound
  'GET /iot/about': () => ({ url: '/iot/about' }),
  'GET /iot/services': () => ({ url: '/iot/services' }),
  'POST /iot/services': () => ({
    url: '/iot/services',
    payload: { services: [{ apikey: `nk${next()}`, resource: '/iot/json', entity_type: 'Person' }] },
  }),
  'PUT /iot/services': async () => ({
    url: `/iot/services?apikey=${await fresh.group()}&resource=/iot/json`,
    payload: { entity_type: 'Person', timestamp: true },
  }),
  'DELETE /iot/services': async () => ({
    url: `/iot/services?apikey=${await fresh.group()}&resource=/iot/json`,
  }),
  'GET /iot/devices': () => ({ url: '/iot/devices' }),
  'POST /iot/devices': async () => {
    const device_id = `nd${next()}`;
    return {
      url: '/iot/devices',
      payload: { devices: [{ device_id, entity_type: 'Person', entity_name: await fresh.person() }] },
    };
  },
  'GET /iot/devices/:deviceId': async () => ({ url: `/iot/devices/${await fresh.device()}` }),
  'GET /iot/devices/:deviceId/quarantine': async () => ({
    url: `/iot/devices/${await fresh.device()}/quarantine`,
  }),
  'PUT /iot/devices/:deviceId': async () => ({
    url: `/iot/devices/${await fresh.device()}`,
    payload: { timestamp: true },
  }),
  'POST /iot/devices/:deviceId/password': async () => ({
    url: `/iot/devices/${await fresh.device()}/password`,
  }),
  'DELETE /iot/devices/:deviceId': async () => ({ url: `/iot/devices/${await fresh.device()}` }),
  // a device that does not exist under a key nobody holds: refused for everyone, nothing written
  'POST /iot/json': () => ({ url: '/iot/json?k=nokey&i=nodevice', payload: { diagnosis: 'x' } }),
  'POST /iot/d': () => ({
    url: '/iot/d?k=nokey&i=nodevice',
    payload: 'diagnosis|x',
    headers: { 'content-type': 'text/plain' },
  }),
  'GET /api/v1/iot/stats': () => ({ url: '/api/v1/iot/stats' }),
  // sign-in
  'POST /api/v1/auth/login': () => ({
    url: '/api/v1/auth/login',
    payload: { username: 'nobody', password: 'nothing-at-all' },
  }),
  'GET /api/v1/auth/jwks': () => ({ url: '/api/v1/auth/jwks' }),
  'GET /api/v1/auth/me': () => ({ url: '/api/v1/auth/me' }),
  // a wrong current password: refused by the handler (401) for everyone, nothing changes
  'POST /api/v1/auth/password': () => ({
    url: '/api/v1/auth/password',
    payload: { currentPassword: 'not-the-password', newPassword: 'Another-Passw0rd!' },
    also: { other: [401], owner: [401], admin: [401] },
  }),
  'POST /api/v1/auth/totp': () => ({ url: '/api/v1/auth/totp', ownWrite: ['other', 'owner', 'admin'] }),
  'POST /api/v1/auth/totp/confirm': () => ({
    url: '/api/v1/auth/totp/confirm',
    payload: { code: '000000' },
    also: { other: [400, 401], owner: [400, 401], admin: [400, 401] },
  }),
  // logging out ends the caller's session: a token of its own (see the loop below)
  'POST /api/v1/auth/logout': () => ({ url: '/api/v1/auth/logout', ownWrite: ['other', 'owner', 'admin'] }),
  // administration
  'GET /api/v1/departments': () => ({ url: '/api/v1/departments' }),
  'POST /api/v1/departments': () => ({
    url: '/api/v1/departments',
    payload: { id: `n${next()}`, name: 'New' },
  }),
  'PATCH /api/v1/departments/:id': async () => ({
    url: `/api/v1/departments/${await fresh.department()}`,
    payload: { name: 'Renamed' },
  }),
  'DELETE /api/v1/departments/:id': async () => ({ url: `/api/v1/departments/${await fresh.department()}` }),
  'GET /api/v1/users': () => ({ url: '/api/v1/users' }),
  'POST /api/v1/users': () => ({
    url: '/api/v1/users',
    payload: { username: `n${next()}`, password: PASSWORD, department: 'health' },
  }),
  'PATCH /api/v1/users/:id': async () => ({
    url: `/api/v1/users/${await fresh.user()}`,
    payload: { displayName: 'X' },
  }),
  'DELETE /api/v1/users/:id': async () => ({ url: `/api/v1/users/${await fresh.user()}` }),
  'POST /api/v1/users/:id/password': async () => ({
    url: `/api/v1/users/${await fresh.user()}/password`,
    payload: { password: 'Reset-Passw0rd!' },
  }),
  'POST /api/v1/users/:id/unlock': async () => ({ url: `/api/v1/users/${await fresh.user()}/unlock` }),
  'DELETE /api/v1/users/:id/totp': async () => ({ url: `/api/v1/users/${await fresh.user()}/totp` }),
  'GET /api/v1/api-keys': () => ({ url: '/api/v1/api-keys' }),
  'POST /api/v1/api-keys': () => ({
    url: '/api/v1/api-keys',
    payload: { name: `n${next()}`, department: 'health' },
  }),
  'DELETE /api/v1/api-keys/:id': async () => ({ url: `/api/v1/api-keys/${await fresh.apiKey()}` }),
  'GET /api/v1/policies': () => ({ url: '/api/v1/policies' }),
  'POST /api/v1/policies': () => ({
    url: '/api/v1/policies',
    payload: { department: 'transport', entityTypes: ['Person'], actions: ['read'] },
  }),
  'DELETE /api/v1/policies/:id': async () => ({ url: `/api/v1/policies/${await fresh.policy()}` }),
  'GET /api/v1/password-policy': () => ({ url: '/api/v1/password-policy' }),
  'PUT /api/v1/password-policy': () => ({ url: '/api/v1/password-policy', payload: {} }),
  'GET /api/v1/catalog': () => ({ url: '/api/v1/catalog' }),
  'PUT /api/v1/catalog': () => ({
    url: '/api/v1/catalog',
    payload: { entityType: 'Person', attr: `n${next()}`, sensitivity: 'personal' },
  }),
  'DELETE /api/v1/catalog': async () => ({
    url: '/api/v1/catalog',
    payload: { entityType: 'Person', attr: await fresh.catalogAttr() },
  }),
  'GET /api/v1/grants': () => ({ url: '/api/v1/grants' }),
  'POST /api/v1/grants': () => ({
    url: '/api/v1/grants',
    payload: { department: 'transport', entityType: 'Person', purpose: 'p', validUntil: until() },
  }),
  'DELETE /api/v1/grants/:id': async () => ({ url: `/api/v1/grants/${await fresh.grant()}` }),
  'GET /api/v1/security/metrics': () => ({ url: '/api/v1/security/metrics' }),
  // sharing: the owner publishes and decides; others request
  'GET /api/v1/datasets': () => ({ url: '/api/v1/datasets' }),
  'POST /api/v1/datasets': () => ({
    url: '/api/v1/datasets',
    payload: { title: 'Persons', entityType: 'Person' },
    // only a department that owns the data (writes it) publishes it: the administrator is no
    // department administrator, the other department does not write Persons
    also: { other: [403], admin: [403] },
  }),
  'DELETE /api/v1/datasets/:id': async () => ({
    url: `/api/v1/datasets/${await fresh.dataset()}`,
    also: { other: [403], admin: [403] },
  }),
  'POST /api/v1/datasets/:id/requests': async () => ({
    url: `/api/v1/datasets/${await fresh.dataset()}/requests`,
    payload: { purpose: 'planning', validUntil: until() },
    // another department asking is what requests are for; the owner's own dataset is a bad
    // request; the administrator is no department's member
    ownWrite: ['other'],
    also: { owner: [400], admin: [403] },
  }),
  'GET /api/v1/share-requests': () => ({ url: '/api/v1/share-requests' }),
  'POST /api/v1/share-requests/:id/approve': async () => ({
    url: `/api/v1/share-requests/${await fresh.shareRequest()}/approve`,
    also: { other: [403], admin: [403] },
  }),
  'POST /api/v1/share-requests/:id/deny': async () => ({
    url: `/api/v1/share-requests/${await fresh.shareRequest()}/deny`,
    also: { other: [403], admin: [403] },
  }),
  'GET /api/v1/sharing-ledger': () => ({ url: '/api/v1/sharing-ledger' }),
  'GET /api/v1/audit': () => ({ url: '/api/v1/audit' }),
  'GET /api/v1/audit/verify': () => ({ url: '/api/v1/audit/verify' }),
  'GET /api/v1/audit/export': () => ({ url: '/api/v1/audit/export' }),
};

/** Four spellings of a path: as given, a percent-encoded letter, doubled slashes, a trailing slash. */
function spellings(url: string): { how: string; url: string }[] {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q);
  const letter = path.search(/[a-z]/);
  const encoded =
    path.slice(0, letter) + `%${path.charCodeAt(letter).toString(16).toUpperCase()}` + path.slice(letter + 1);
  return [
    { how: 'plain', url },
    { how: 'percent-encoded', url: encoded + query },
    { how: 'doubled slashes', url: `/${path.replaceAll('/', '//')}${query}` },
    { how: 'trailing slash', url: `${path.endsWith('/') ? path : `${path}/`}${query}` },
  ];
}

/** The data tables (everything but the audit log, sessions and counters), in one fingerprint each. */
const DATA_TABLES = [
  'entities',
  'attribute_history',
  'history_entities',
  'subscriptions',
  'jsonld_contexts',
  'iot_service_groups',
  'iot_devices',
  'access_departments',
  'access_users',
  'access_api_keys',
  'access_policies',
  'access_catalog',
  'access_datasets',
  'access_share_requests',
  'access_grants',
  'access_settings',
];
async function fingerprint(): Promise<Record<string, string>> {
  const sql = DATA_TABLES.map(
    (t) => `(SELECT md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) FROM ${t} x) AS ${t}`,
  ).join(', ');
  const r = await hub.db.pool.query<Record<string, string>>(`SELECT ${sql}`);
  return r.rows[0] as Record<string, string>;
}
/** Fields that change on every login and use (not data): the users' last login and failure counters. */
async function stableFingerprint(): Promise<Record<string, string>> {
  const f = await fingerprint();
  const users = await hub.db.pool.query<{ s: string }>(
    `SELECT md5(coalesce(string_agg(concat_ws(',', id, username, department, roles::text, password_hash, totp_secret, disabled::text), '|' ORDER BY id), '')) AS s FROM access_users`,
  );
  // @context documents count their reads (use_count, last_used_at): their content is the data.
  const contexts = await hub.db.pool.query<{ s: string }>(
    `SELECT md5(coalesce(string_agg(concat_ws(',', url, local_id, document::text, origin), '|' ORDER BY url), '')) AS s FROM jsonld_contexts`,
  );
  const keys = await hub.db.pool.query<{ s: string }>(
    `SELECT md5(coalesce(string_agg(concat_ws(',', id, department, roles::text, revoked_at::text), '|' ORDER BY id), '')) AS s FROM access_api_keys`,
  );
  return {
    ...f,
    access_users: users.rows[0]?.s ?? '',
    access_api_keys: keys.rows[0]?.s ?? '',
    jsonld_contexts: contexts.rows[0]?.s ?? '',
  };
}

const isAnonymousRule = (a: RouteAccess) => a.who === 'anyone' || a.who === 'device';

/** May this principal pass this rule (by role and department, before the handler decides)? */
function passes(who: Who, a: RouteAccess): boolean {
  if (isAnonymousRule(a)) return true;
  if (who === 'anonymous') return false;
  if (a.who === 'account' || a.who === 'data') return true;
  // the administrator holds system-administrator and security-administrator; department users no administrative role
  return (
    who === 'admin' && a.roles.some((r) => r === 'system-administrator' || r === 'security-administrator')
  );
}

describe('every route × four principals × four spellings of its path', () => {
  let routes: readonly RegisteredRoute[];

  beforeAll(async () => {
    hub = await createIotTestHub({ auth: {}, mqtt: 'off' });
    const login = (username: string, password: string) => tokenOf(hub, username, password);
    tokens.admin = await login('admin', ADMIN_PASSWORD);
    for (const d of ['health', 'transport']) {
      await ok('admin', 'POST', '/api/v1/departments', { id: d, name: d });
      await ok('admin', 'POST', '/api/v1/users', {
        username: `${d}-user`,
        password: PASSWORD,
        department: d,
        roles: ['department-admin'],
      });
    }
    await ok('admin', 'POST', '/api/v1/policies', {
      department: 'health',
      entityTypes: ['Person'],
      actions: ['read', 'write'],
    });
    await ok('admin', 'POST', '/api/v1/policies', {
      department: 'transport',
      entityTypes: ['TrafficFlowObserved'],
      actions: ['read', 'write'],
    });
    await ok('admin', 'PUT', '/api/v1/catalog', {
      entityType: 'Person',
      attr: 'diagnosis',
      sensitivity: 'sensitive-personal',
      mask: 'redact',
    });
    tokens.owner = await login('health-user', PASSWORD);
    tokens.other = await login('transport-user', PASSWORD);
    await ok('other', 'POST', '/ngsi-ld/v1/entities', {
      id: 'urn:ngsi-ld:TrafficFlowObserved:t1',
      type: 'TrafficFlowObserved',
      intensity: { type: 'Property', value: 12 },
    });
    routes = registeredRoutes(hub.app);
  }, 120_000);

  afterAll(async () => {
    await hub?.close();
  });

  it('every registered route declares who may call it, and has a sample request here', () => {
    expect(routes.length).toBeGreaterThan(100);
    const undeclared = routes.filter((r) => r.access === undefined).map((r) => `${r.method} ${r.url}`);
    expect(undeclared).toEqual([]);
    const unsampled = routes
      .filter((r) => r.method !== 'HEAD')
      .map((r) => `${r.method} ${r.url}`)
      .filter((k) => !(k in SAMPLES));
    expect(unsampled).toEqual([]);
  });

  it('a route without an access rule is refused to everyone, with or without authentication', async () => {
    const { buildHttpApp } = await import('../../src/server/http-app.js');
    const app = await buildHttpApp({
      store: hub.store,
      entities: undefined as never,
      contexts: {
        resolve: () => Promise.reject(new Error('unused')),
        forget: () => undefined,
        reload: () => Promise.resolve(),
      },
      coreContextDocument: {},
      routes: [(a) => a.get('/undeclared', () => ({ leaked: true }))],
    });
    const r = await app.inject({ method: 'GET', url: '/undeclared' });
    expect(r.statusCode).toBe(403);
    expect(r.body).not.toContain('leaked');
    expect(registeredRoutes(app).find((x) => x.url === '/undeclared')?.access).toBeUndefined();
    await app.close();
  });

  const keys = Object.keys(SAMPLES);
  it.each(keys)('%s', async (key) => {
    const [method = '', pattern = ''] = key.split(' ');
    const route = routes.find((r) => r.method === method && r.url === pattern);
    expect(route, `${key} is not a registered route`).toBeDefined();
    const access = (route as RegisteredRoute).access as RouteAccess;
    const make = SAMPLES[key] as () => Sample | Promise<Sample>;
    const withHead = method === 'GET' && routes.some((r) => r.method === 'HEAD' && r.url === pattern);
    for (const who of WHO) {
      const decided = new Map<string, number>();
      for (const spelling of spellings('/placeholder')) {
        const sample = await make();
        const form = spellings(sample.url).find((s) => s.how === spelling.how) as { url: string };
        // logout ends the session it is called with: a session of its own
        let token: string | undefined;
        if (key === 'POST /api/v1/auth/logout' && who !== 'anonymous') {
          const username = who === 'admin' ? 'admin' : who === 'owner' ? 'health-user' : 'transport-user';
          const r = await hub.request({
            method: 'POST',
            url: '/api/v1/auth/login',
            payload: { username, password: who === 'admin' ? ADMIN_PASSWORD : PASSWORD },
          });
          token = (JSON.parse(r.body) as { access_token: string }).access_token;
        }
        const before = who === 'anonymous' || who === 'other' ? await stableFingerprint() : undefined;
        const methods = withHead ? [method, 'HEAD'] : [method];
        for (const m of methods) {
          const res = await call(token ?? who, m, form.url, sample.payload, sample.headers ?? {});
          const where = `${who} ${m} ${form.url} (${spelling.how}): ${res.statusCode} ${res.body.slice(0, 300)}`;
          expect(res.statusCode, where).toBeLessThan(500);
          if (res.statusCode >= 400 && m !== 'HEAD') {
            const pd = JSON.parse(res.body) as { type?: unknown; status?: unknown };
            expect(typeof pd.type, where).toBe('string');
            expect(pd.status, where).toBe(res.statusCode);
          }
          if (who !== 'owner' && who !== 'admin')
            for (const s of SECRETS) expect(res.body, where).not.toContain(s);
          const also = sample.also?.[who] ?? [];
          if (!passes(who, access)) {
            expect([who === 'anonymous' ? 401 : 403, ...also], where).toContain(res.statusCode);
          } else if (!isAnonymousRule(access)) {
            if (who === 'anonymous') throw new Error('unreachable');
            if (also.length === 0 || !also.includes(res.statusCode)) {
              expect(res.statusCode === 401 || (res.statusCode === 403 && access.who !== 'data'), where).toBe(
                false,
              );
              if (who !== 'other' || access.who !== 'data') expect(res.statusCode, where).not.toBe(403);
            }
          }
          if (m === method) {
            const prev = decided.get(m);
            // Every spelling is decided like the plain one (refused alike, let through alike).
            const cls = (s: number) => (s === 401 || s === 403 ? s : s < 400 ? 200 : 400);
            if (prev === undefined) decided.set(m, cls(res.statusCode));
            else expect(cls(res.statusCode), where).toBe(prev);
          }
        }
        if (before && !sample.ownWrite?.includes(who)) {
          const after = await stableFingerprint();
          const changed = Object.keys(before).filter((t) => before[t] !== after[t]);
          expect(changed, `${who} ${method} ${form.url} (${spelling.how}) changed data`).toEqual([]);
        }
      }
    }
  });

  it('every refused request that would change something is in the audit log', async () => {
    const r = await hub.db.pool.query<{ action: string; actor: string; n: number }>(
      `SELECT action, actor, count(*)::int AS n FROM access_audit
       WHERE outcome = 'failure' AND action IN ('request.refused', 'entity.write', 'iot.provision')
       GROUP BY action, actor`,
    );
    const count = (action: string, actor: string) =>
      r.rows.find((x) => x.action === action && x.actor === actor)?.n ?? 0;
    // administration refused to everyone without the role, entity writes refused to anonymous
    expect(count('request.refused', 'anonymous')).toBeGreaterThan(50);
    expect(count('request.refused', 'transport-user')).toBeGreaterThan(50);
    expect(count('entity.write', 'anonymous')).toBeGreaterThan(20);
    expect(count('iot.provision', 'anonymous')).toBeGreaterThan(10);
  });
});
