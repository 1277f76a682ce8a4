/**
 * Issue 5 item 6: devices authenticate to the embedded broker when the hub's authentication is
 * on. Anonymous clients are refused (unless allowed), a device logs in with its id and secret
 * and may publish and subscribe for itself only, a system logs in with a hub API key and may
 * publish for the tenants and types its department may write. Secrets are never shown back.
 * Debian's mosquitto_pub logs in as a device too.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { ADMIN_PASSWORD, createIotTestHub, svc, until } from './support/iot-hub.js';
import type { IotTestHub } from './support/iot-hub.js';

const TENANT = 'water';
const PATH = '/plant';
const KEY = 'wq-key';
/** Device entities are written with their Smart Data Models context; policies and reads name it too. */
const LINK = {
  link: '<https://smart-data-models.github.io/dataModel.WaterQuality/context.jsonld>; rel="http://www.w3.org/ns/json-ld#context"',
};

describe('MQTT device credentials (authentication on)', () => {
  let hub: IotTestHub;
  let admin: Record<string, string>;
  let secret2: string;
  const open: MqttClient[] = [];

  const as = (token: string) => ({ authorization: `Bearer ${token}` });
  const api = async (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object, headers = {}) =>
    hub.request({ method, url, headers: { ...admin, ...headers }, ...(payload ? { payload } : {}) });
  const value = async (id: string, attr: string, tenant = TENANT) => {
    const r = await api('GET', `/ngsi-ld/v1/entities/${id}`, undefined, { 'NGSILD-Tenant': tenant, ...LINK });
    return r.statusCode === 200
      ? (JSON.parse(r.body) as Record<string, { value?: unknown }>)[attr]?.value
      : undefined;
  };
  const connect = async (options: Parameters<IotTestHub['client']>[0]) => {
    const c = await hub.client(options);
    open.push(c);
    return c;
  };
  /** The connection error a login gets, or 'connected'. */
  const loginOutcome = async (options: Parameters<IotTestHub['client']>[0]) => {
    try {
      const c = await connect(options);
      await c.endAsync();
      return 'connected';
    } catch (err) {
      return (err as Error).message;
    }
  };

  beforeAll(async () => {
    hub = await createIotTestHub({ auth: { decisionTtlMs: 300 } });
    const login = await hub.request({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'admin', password: ADMIN_PASSWORD },
    });
    expect(login.statusCode, login.body).toBe(200);
    admin = as((JSON.parse(login.body) as { access_token: string }).access_token);
    // The system administrator has no data access of its own: a policy lets it provision here.
    await api('POST', '/api/v1/departments', { id: 'water-bureau', name: 'Water bureau' });
    const u = await api('POST', '/api/v1/users', {
      username: 'water-admin',
      password: 'Water-Passw0rd!',
      department: 'water-bureau',
      roles: ['department-admin'],
    });
    expect(u.statusCode, u.body).toBe(201);
    const pol = await api(
      'POST',
      '/api/v1/policies',
      {
        department: 'water-bureau',
        tenant: TENANT,
        entityTypes: ['WaterQualityObserved'],
        actions: ['read', 'write'],
      },
      LINK,
    );
    expect(pol.statusCode, pol.body).toBe(201);
    const wl = await hub.request({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'water-admin', password: 'Water-Passw0rd!' },
    });
    admin = as((JSON.parse(wl.body) as { access_token: string }).access_token);
    const g = await api(
      'POST',
      '/iot/services',
      {
        services: [
          {
            apikey: KEY,
            resource: '/iot/json',
            entity_type: 'WaterQualityObserved',
            attributes: [{ object_id: 'ph', name: 'pH', type: 'Number' }],
          },
        ],
      },
      svc(TENANT, PATH),
    );
    expect(g.statusCode, g.body).toBe(201);
    const d = await api(
      'POST',
      '/iot/devices',
      {
        devices: [
          { device_id: 'wq1', password: 'wq1-secret-0123456789' },
          { device_id: 'wq2' },
          { device_id: 'wq3', password: 'wq3-secret-0123456789' },
        ],
      },
      svc(TENANT, PATH),
    );
    expect(d.statusCode, d.body).toBe(201);
    const gen = await api('POST', '/iot/devices/wq2/password', undefined, svc(TENANT, PATH));
    expect(gen.statusCode, gen.body).toBe(201);
    const body = JSON.parse(gen.body) as { username: string; password: string };
    expect(body.username).toBe('wq2');
    expect(body.password.length).toBeGreaterThanOrEqual(32);
    secret2 = body.password;
  });
  afterAll(async () => {
    for (const c of open) await c.endAsync(true).catch(() => undefined);
    await hub?.close();
  });

  it('refuses anonymous clients and wrong secrets, and records the refusals', async () => {
    expect(await loginOutcome({})).toMatch(/Not authorized/i);
    expect(await loginOutcome({ username: 'wq1', password: 'wq1-secret-wrong-000000' })).toMatch(
      /Bad username or password/i,
    );
    expect(await loginOutcome({ username: 'nobody', password: 'wq1-secret-0123456789' })).toMatch(
      /Bad username or password/i,
    );
    // An API key that is not one.
    expect(
      await loginOutcome({ username: 'gw', password: 'cpk_0000000000000000.notakeynotakeynotakey' }),
    ).toMatch(/Bad username or password/i);
    const audit = () => hub.access?.store.audit.query({ action: 'mqtt.connect', limit: 50 });
    await expect.poll(async () => (await audit())?.length).toBeGreaterThanOrEqual(4);
    expect((await audit())?.every((a) => a.outcome === 'failure')).toBe(true);
  });

  it('never shows a secret back; GET tells only that one is set', async () => {
    const r = await api('GET', '/iot/devices/wq1', undefined, svc(TENANT, PATH));
    expect(r.statusCode).toBe(200);
    expect(r.body).not.toContain('wq1-secret');
    expect(r.body).not.toContain('s256$');
    expect((JSON.parse(r.body) as { password_set?: boolean }).password_set).toBe(true);
    const list = await api('GET', '/iot/devices', undefined, svc(TENANT, PATH));
    expect(list.body).not.toContain('secret');
    const short = await api(
      'POST',
      '/iot/devices',
      { devices: [{ device_id: 'wq9', password: 'short' }] },
      svc(TENANT, PATH),
    );
    expect(short.statusCode).toBe(400);
    expect(JSON.parse(short.body).detail).toMatch(/password must be a string of 16/);
  });

  it('lets a device publish for itself (as id or apikey/id), and nothing else', async () => {
    const c = await connect({ username: 'wq1', password: 'wq1-secret-0123456789' });
    await c.publishAsync(`/json/${KEY}/wq1/attrs`, JSON.stringify({ ph: 7.1 }), { qos: 1 });
    expect(await value('urn:ngsi-ld:WaterQualityObserved:wq1', 'pH')).toBe(7.1);
    const c2 = await connect({ username: `${KEY}/wq2`, password: secret2 });
    await c2.publishAsync(`/${KEY}/wq2/attrs`, JSON.stringify({ ph: 6.4 }), { qos: 1 });
    expect(await value('urn:ngsi-ld:WaterQualityObserved:wq2', 'pH')).toBe(6.4);
    // wq1 publishing for wq3 is cut off, and wq3 is unchanged.
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    c.publish(`/json/${KEY}/wq3/attrs`, JSON.stringify({ ph: 1 }), { qos: 1 });
    await closed;
    expect(await value('urn:ngsi-ld:WaterQualityObserved:wq3', 'pH')).toBeUndefined();
    // A secret rotated: the old one stops working, also on a session already open (once due).
    const gen = await api('POST', '/iot/devices/wq2/password', undefined, svc(TENANT, PATH));
    const cut = new Promise<'closed'>((resolve) => c2.once('close', () => resolve('closed')));
    await expect
      .poll(
        () =>
          Promise.race([
            c2.publishAsync(`/${KEY}/wq2/attrs`, JSON.stringify({ ph: 6.4 }), { qos: 1 }).then(() => 'open'),
            cut,
          ]),
        { timeout: 10_000, interval: 50 },
      )
      .toBe('closed');
    expect(gen.statusCode).toBe(201);
    expect(await loginOutcome({ username: 'wq2', password: secret2 })).toMatch(/Bad username or password/i);
    secret2 = (JSON.parse(gen.body) as { password: string }).password;
    expect(await loginOutcome({ username: 'wq2', password: secret2 })).toBe('connected');
    // PUT password null: no credentials any more.
    const put = await api('PUT', '/iot/devices/wq3', { password: null }, svc(TENANT, PATH));
    expect(put.statusCode, put.body).toBe(204);
    expect(await loginOutcome({ username: 'wq3', password: 'wq3-secret-0123456789' })).toMatch(
      /Bad username/i,
    );
  });

  /** The QoS the broker grants a subscription (128: refused). */
  const granted = (c: MqttClient, filter: string) =>
    c.subscribeAsync(filter, { qos: 1 }).then(
      (g) => g[0]?.qos,
      (err: { packet?: { granted?: number[] } }) => err.packet?.granted?.[0],
    );

  it('lets a device subscribe to its own commands only', async () => {
    const c = await connect({ username: 'wq2', password: secret2 });
    expect(await granted(c, `/json/${KEY}/wq2/cmd`)).toBe(1);
    for (const filter of ['#', `/${KEY}/+/cmd`, `/json/${KEY}/wq1/cmd`, `/json/${KEY}/wq2/attrs`])
      expect(await granted(c, filter), filter).toBe(128);
  });

  it('lets a system with an API key publish for what its department may write', async () => {
    // Back to the system administrator for API keys.
    const sa = await hub.request({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'admin', password: ADMIN_PASSWORD },
    });
    const sysAdmin = as((JSON.parse(sa.body) as { access_token: string }).access_token);
    const mk = async (department: string) => {
      const r = await hub.request({
        method: 'POST',
        url: '/api/v1/api-keys',
        headers: sysAdmin,
        payload: { name: `gw-${department}`, department },
      });
      expect(r.statusCode, r.body).toBe(201);
      return (JSON.parse(r.body) as { key: string }).key;
    };
    const gwKey = await mk('water-bureau');
    await hub.request({
      method: 'POST',
      url: '/api/v1/departments',
      headers: sysAdmin,
      payload: { id: 'parks', name: 'Parks' },
    });
    const otherKey = await mk('parks');

    const gw = await connect({ username: 'plant-gateway', password: gwKey });
    await gw.publishAsync(`/json/${KEY}/wq3/attrs`, JSON.stringify({ ph: 7.7 }), { qos: 1 });
    expect(await value('urn:ngsi-ld:WaterQualityObserved:wq3', 'pH')).toBe(7.7);
    expect(await granted(gw, `/${KEY}/+/cmd`)).toBe(1);
    expect(await granted(gw, '/+/+/cmd')).toBe(128);

    const other = await connect({ username: 'parks-gateway', password: otherKey });
    expect(await granted(other, `/${KEY}/+/cmd`)).toBe(128);
    // A revoked key stops working on a connection already open, once its decisions are due again.
    const keys = JSON.parse(
      (await hub.request({ method: 'GET', url: '/api/v1/api-keys', headers: sysAdmin })).body,
    ) as { id: string; name: string }[];
    const gwId = keys.find((k) => k.name === 'gw-water-bureau')?.id as string;
    expect(
      (await hub.request({ method: 'DELETE', url: `/api/v1/api-keys/${gwId}`, headers: sysAdmin }))
        .statusCode,
    ).toBe(204);
    // Readings of the same value go on until the key is checked again, then the connection is cut.
    const cut = new Promise<'closed'>((resolve) => gw.once('close', () => resolve('closed')));
    await expect
      .poll(
        () =>
          Promise.race([
            gw
              .publishAsync(`/json/${KEY}/wq3/attrs`, JSON.stringify({ ph: 7.7 }), { qos: 1 })
              .then(() => 'open'),
            cut,
          ]),
        { timeout: 10_000, interval: 50 },
      )
      .toBe('closed');
    expect(await loginOutcome({ username: 'plant-gateway', password: gwKey })).toMatch(
      /Bad username or password/i,
    );
    expect(await value('urn:ngsi-ld:WaterQualityObserved:wq3', 'pH')).toBe(7.7);
    const closed = new Promise<void>((resolve) => other.once('close', () => resolve()));
    other.publish(`/json/${KEY}/wq3/attrs`, JSON.stringify({ ph: 2 }), { qos: 1 });
    await closed;
    expect(await value('urn:ngsi-ld:WaterQualityObserved:wq3', 'pH')).toBe(7.7);
    await expect
      .poll(async () =>
        (await hub.access?.store.audit.query({ action: 'mqtt.publish', limit: 50 }))?.some(
          (a) => a.actor === 'api-key:gw-parks',
        ),
      )
      .toBe(true);
  });

  it('refuses provisioning and device listing to an account without a policy on the service', async () => {
    const sa = await hub.request({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'admin', password: ADMIN_PASSWORD },
    });
    const sysAdmin = as((JSON.parse(sa.body) as { access_token: string }).access_token);
    await hub.request({
      method: 'POST',
      url: '/api/v1/departments',
      headers: sysAdmin,
      payload: { id: 'harbour', name: 'Harbour office' },
    });
    const u = await hub.request({
      method: 'POST',
      url: '/api/v1/users',
      headers: sysAdmin,
      payload: {
        username: 'harbour-admin',
        password: 'Harbour-Passw0rd!',
        department: 'harbour',
        roles: ['department-admin'],
      },
    });
    expect(u.statusCode, u.body).toBe(201);
    const hl = await hub.request({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'harbour-admin', password: 'Harbour-Passw0rd!' },
    });
    const harbour = as((JSON.parse(hl.body) as { access_token: string }).access_token);
    for (const [method, url, payload] of [
      ['GET', '/iot/devices', undefined],
      ['POST', '/iot/devices', { devices: [{ device_id: 'intruder' }] }],
      ['POST', '/iot/devices/wq1/password', undefined],
    ] as const) {
      const r = await hub.request({
        method,
        url,
        headers: { ...harbour, ...svc(TENANT, PATH) },
        ...(payload ? { payload } : {}),
      });
      expect(r.statusCode, `${method} ${url}`).toBe(403);
      expect((JSON.parse(r.body) as { type: string }).type).toMatch(/Forbidden/);
    }
    expect(await hub.iot.registry.getDevice(TENANT, PATH, 'intruder')).toBeUndefined();
    // The tenant checked is the tenant provisioned: naming an allowed one in fiware-service and
    // another in NGSILD-Tenant (which the routes read first) is refused, and nothing is written.
    const mixed = await api(
      'POST',
      '/iot/devices',
      { devices: [{ device_id: 'stray' }] },
      { ...svc(TENANT, PATH), 'NGSILD-Tenant': 'harbour-data' },
    );
    expect(mixed.statusCode, mixed.body).toBe(403);
    expect(await hub.iot.registry.getDevice('harbour-data', PATH, 'stray')).toBeUndefined();
  });

  it('asks a device with a secret for it on the HTTP southbound too; one without keeps the apikey alone', async () => {
    const post = (device: string, value: number, auth?: string) =>
      hub.request({
        method: 'POST',
        url: `/iot/json?k=${KEY}&i=${device}`,
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
        payload: { ph: value },
      });
    const basic = (user: string, secret: string) =>
      `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
    const anonymous = await post('wq1', 5.5);
    expect(anonymous.statusCode).toBe(401);
    expect((JSON.parse(anonymous.body) as { detail: string }).detail).toMatch(/has credentials/);
    expect((await post('wq1', 5.5, basic('wq1', 'wq1-secret-wrong-000000'))).statusCode).toBe(401);
    expect((await post('wq1', 5.5, basic('wq1', 'wq1-secret-0123456789'))).statusCode).toBe(200);
    expect(await value('urn:ngsi-ld:WaterQualityObserved:wq1', 'pH')).toBe(5.5);
    // wq3's secret was removed above: the apikey is enough again.
    expect((await post('wq3', 6.6)).statusCode).toBe(200);
    expect(await value('urn:ngsi-ld:WaterQualityObserved:wq3', 'pH')).toBe(6.6);
  });

  it('takes readings from Debian mosquitto_pub logging in as a device', async () => {
    const [, port] = /:(\d+)$/.exec(hub.mqttUrl ?? '') ?? [];
    await promisify(execFile)('/usr/bin/mosquitto_pub', [
      ...['-h', '127.0.0.1', '-p', String(port), '-q', '1'],
      ...['-u', 'wq2', '-P', secret2],
      ...['-t', `/json/${KEY}/wq2/attrs`, '-m', JSON.stringify({ ph: 8.2 })],
    ]);
    expect(await value('urn:ngsi-ld:WaterQualityObserved:wq2', 'pH')).toBe(8.2);
    const bad = await promisify(execFile)('/usr/bin/mosquitto_pub', [
      ...['-h', '127.0.0.1', '-p', String(port), '-q', '1'],
      ...['-t', `/json/${KEY}/wq2/attrs`, '-m', JSON.stringify({ ph: 0 })],
    ]).then(
      () => 'published',
      (err: Error) => err.message,
    );
    expect(bad).toMatch(/not authori[sz]ed/i);
    expect(await value('urn:ngsi-ld:WaterQualityObserved:wq2', 'pH')).toBe(8.2);
  });
});

describe('MQTT with authentication on and anonymous devices allowed', () => {
  let hub: IotTestHub;
  beforeAll(async () => {
    hub = await createIotTestHub({ auth: { anonymous: true } });
    const login = await hub.request({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { username: 'admin', password: ADMIN_PASSWORD },
    });
    const token = (JSON.parse(login.body) as { access_token: string }).access_token;
    // With accounts, a group autoprovisions unknown devices only when it says so.
    const group = await hub.request({
      method: 'POST',
      url: '/iot/services',
      headers: { authorization: `Bearer ${token}` },
      payload: {
        services: [
          { apikey: 'open', resource: '/iot/json', entity_type: 'NoiseLevelObserved', autoprovision: true },
        ],
      },
    });
    expect(group.statusCode, group.body).toBe(201);
  });
  afterAll(async () => {
    await hub?.close();
  });

  it('accepts a client without credentials', async () => {
    const c = await hub.client();
    await c.publishAsync('/json/open/n1/attrs', JSON.stringify({ LAeq: 61 }), { qos: 1 });
    const device = await until(async () => (await hub.iot.registry.getDevice('', '/', 'n1')) ?? undefined);
    expect(device.entity_type).toBe('NoiseLevelObserved');
  });
});
