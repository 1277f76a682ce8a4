/**
 * Issue 15, "writes are checked against the entity as stored and as written": a department that
 * may write only TrafficFlowObserved tries to take a Person over through every write path there
 * is (replace it with its own type, merge or append that type to it, upsert it in a batch,
 * delete it, rewrite its history, point IoT devices at it). Every attempt is refused, the Person
 * is unchanged (row and history), and the department still cannot read it. The list of attacks
 * is checked against the routes the hub registers: a new write route without an attack here fails.
 * The IoT cases (provisioning checked on the type and the existing entity, readings written with
 * the owning department's rights, autoprovision off by default, nothing left behind) are here too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { ADMIN_PASSWORD, createIotTestHub, type IotTestHub } from '../iot/support/iot-hub.js';
import { registeredRoutes } from '../../src/server/http-app.js';
import { tokenOf } from './access-support.js';

const PASSWORD = 'User-Passw0rd!';
const P = 'urn:ngsi-ld:Person:p1';
// Types outside Smart Data Models: devices and the API expand them alike (with the core context).
const TFO = 'TrafficCounter';
const SMD = 'https://uri.etsi.org/ngsi-ld/default-context/';
const flowAttrs = { intensity: { type: 'Property', value: 999 } };

let hub: IotTestHub;
const tok: Record<string, string> = {};

async function as(who: string, method: string, url: string, payload?: unknown, headers = {}) {
  return hub.request({
    method: method as NonNullable<InjectOptions['method']>,
    url,
    headers: { authorization: `Bearer ${tok[who]}`, ...headers },
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
}

/** The Person as stored and its history, to compare after each attempt. */
async function personState(): Promise<string> {
  const e = await hub.db.pool.query('SELECT types, attrs FROM entities WHERE id = $1', [P]);
  const h = await hub.db.pool.query(
    `SELECT attr, instance_id, instance FROM attribute_history WHERE entity_id = $1 ORDER BY attr, instance_id`,
    [P],
  );
  const he = await hub.db.pool.query('SELECT types FROM history_entities WHERE id = $1', [P]);
  const d = await hub.db.pool.query(`SELECT count(*)::int AS n FROM iot_devices WHERE entity_name = $1`, [P]);
  return JSON.stringify([e.rows, h.rows, he.rows, d.rows]);
}

const refusedStatus = (r: LightMyRequestResponse) =>
  r.statusCode === 403 || r.statusCode === 404 || r.statusCode === 409;
/** A batch answer: every item failed (403 where it was the policy, 409/404 where it could not be). */
function allItemsRefused(r: LightMyRequestResponse): boolean {
  if (r.statusCode !== 207) return refusedStatus(r);
  const b = JSON.parse(r.body) as { success: string[]; errors: { error: { status: number } }[] };
  return b.success.length === 0 && b.errors.every((x) => [403, 404, 409].includes(x.error.status));
}

/** One attack per write route (keys `METHOD pattern`), by the transport department. */
const ATTACKS: Record<string, () => Promise<LightMyRequestResponse>> = {
  'POST /ngsi-ld/v1/entities': () =>
    as('transport', 'POST', '/ngsi-ld/v1/entities', { id: P, type: TFO, ...flowAttrs }),
  'PUT /ngsi-ld/v1/entities/:entityId': () =>
    as('transport', 'PUT', `/ngsi-ld/v1/entities/${P}`, { id: P, type: TFO, ...flowAttrs }),
  'PATCH /ngsi-ld/v1/entities/:entityId': () =>
    as('transport', 'PATCH', `/ngsi-ld/v1/entities/${P}`, { type: TFO, ...flowAttrs }),
  'DELETE /ngsi-ld/v1/entities/:entityId': () => as('transport', 'DELETE', `/ngsi-ld/v1/entities/${P}`),
  'DELETE /ngsi-ld/v1/entities': () => as('transport', 'DELETE', `/ngsi-ld/v1/entities?type=Person,${TFO}`),
  'PUT /ngsi-ld/v1/entities': () => as('transport', 'PUT', '/ngsi-ld/v1/entities', {}),
  'PATCH /ngsi-ld/v1/entities': () => as('transport', 'PATCH', '/ngsi-ld/v1/entities', {}),
  'POST /ngsi-ld/v1/entities/:entityId/attrs': () =>
    as('transport', 'POST', `/ngsi-ld/v1/entities/${P}/attrs`, { type: TFO, ...flowAttrs }),
  'PATCH /ngsi-ld/v1/entities/:entityId/attrs': () =>
    as('transport', 'PATCH', `/ngsi-ld/v1/entities/${P}/attrs`, {
      diagnosis: { type: 'Property', value: 'x' },
    }),
  'DELETE /ngsi-ld/v1/entities/:entityId/attrs': () =>
    as('transport', 'DELETE', `/ngsi-ld/v1/entities/${P}/attrs`),
  'PATCH /ngsi-ld/v1/entities/:entityId/attrs/:attrId': () =>
    as('transport', 'PATCH', `/ngsi-ld/v1/entities/${P}/attrs/diagnosis`, { value: 'x' }),
  'PUT /ngsi-ld/v1/entities/:entityId/attrs/:attrId': () =>
    as('transport', 'PUT', `/ngsi-ld/v1/entities/${P}/attrs/diagnosis`, { type: 'Property', value: 'x' }),
  'DELETE /ngsi-ld/v1/entities/:entityId/attrs/:attrId': () =>
    as('transport', 'DELETE', `/ngsi-ld/v1/entities/${P}/attrs/diagnosis`),
  'POST /ngsi-ld/v1/entityOperations/create': () =>
    as('transport', 'POST', '/ngsi-ld/v1/entityOperations/create', [{ id: P, type: TFO, ...flowAttrs }]),
  'POST /ngsi-ld/v1/entityOperations/upsert': () =>
    as('transport', 'POST', '/ngsi-ld/v1/entityOperations/upsert', [{ id: P, type: TFO, ...flowAttrs }]),
  'POST /ngsi-ld/v1/entityOperations/update': () =>
    as('transport', 'POST', '/ngsi-ld/v1/entityOperations/update', [{ id: P, type: TFO, ...flowAttrs }]),
  'POST /ngsi-ld/v1/entityOperations/merge': () =>
    as('transport', 'POST', '/ngsi-ld/v1/entityOperations/merge', [{ id: P, type: TFO, ...flowAttrs }]),
  'POST /ngsi-ld/v1/entityOperations/delete': () =>
    as('transport', 'POST', '/ngsi-ld/v1/entityOperations/delete', [P]),
  'POST /ngsi-ld/v1/temporal/entities': () =>
    as('transport', 'POST', '/ngsi-ld/v1/temporal/entities', {
      id: P,
      type: TFO,
      intensity: [{ type: 'Property', value: 1, observedAt: '2026-12-01T09:00:00Z' }],
    }),
  'POST /ngsi-ld/v1/temporal/entities/:entityId/attrs': () =>
    as('transport', 'POST', `/ngsi-ld/v1/temporal/entities/${P}/attrs`, {
      diagnosis: [{ type: 'Property', value: 'forged', observedAt: '2026-11-01T09:00:00Z' }],
    }),
  'DELETE /ngsi-ld/v1/temporal/entities': () => as('transport', 'DELETE', '/ngsi-ld/v1/temporal/entities'),
  'DELETE /ngsi-ld/v1/temporal/entities/:entityId': () =>
    as('transport', 'DELETE', `/ngsi-ld/v1/temporal/entities/${P}`),
  'DELETE /ngsi-ld/v1/temporal/entities/:entityId/attrs/:attrId': () =>
    as('transport', 'DELETE', `/ngsi-ld/v1/temporal/entities/${P}/attrs/diagnosis`),
  'PATCH /ngsi-ld/v1/temporal/entities/:entityId/attrs/:attrId': () =>
    as('transport', 'PATCH', `/ngsi-ld/v1/temporal/entities/${P}/attrs/diagnosis`, {}),
  'PATCH /ngsi-ld/v1/temporal/entities/:entityId/attrs/:attrId/:instanceId': async () =>
    as('transport', 'PATCH', `/ngsi-ld/v1/temporal/entities/${P}/attrs/diagnosis/${await instanceOf()}`, {
      value: 'forged',
    }),
  'DELETE /ngsi-ld/v1/temporal/entities/:entityId/attrs/:attrId/:instanceId': async () =>
    as('transport', 'DELETE', `/ngsi-ld/v1/temporal/entities/${P}/attrs/diagnosis/${await instanceOf()}`),
  // IoT provisioning: a group whose devices would write Persons, a device whose entity is the Person
  'POST /iot/services': () =>
    as('transport', 'POST', '/iot/services', {
      services: [{ apikey: 'stolen', resource: '/iot/json', entity_type: 'Person' }],
    }),
  'PUT /iot/services': () =>
    as('transport', 'PUT', '/iot/services?apikey=tk&resource=/iot/json', { entity_type: 'Person' }),
  'DELETE /iot/services': () => as('transport', 'DELETE', '/iot/services?apikey=hk&resource=/iot/json'),
  'POST /iot/devices': () =>
    as('transport', 'POST', '/iot/devices', {
      devices: [{ device_id: 'grab', entity_type: TFO, entity_name: P }],
    }),
  'PUT /iot/devices/:deviceId': () => as('transport', 'PUT', '/iot/devices/hd1', { timestamp: true }),
  'POST /iot/devices/:deviceId/password': () => as('transport', 'POST', '/iot/devices/hd1/password'),
  'DELETE /iot/devices/:deviceId': () => as('transport', 'DELETE', '/iot/devices/hd1'),
};

let instance = '';
async function instanceOf(): Promise<string> {
  if (instance) return encodeURIComponent(instance);
  const r = await hub.db.pool.query<{ instance_id: string }>(
    'SELECT instance_id FROM attribute_history WHERE entity_id = $1 AND attr = $2 LIMIT 1',
    [P, `${SMD}diagnosis`],
  );
  instance = r.rows[0]?.instance_id ?? '';
  return encodeURIComponent(instance);
}

describe('a department that writes TrafficFlowObserved cannot take a Person over', () => {
  beforeAll(async () => {
    hub = await createIotTestHub({ auth: {}, mqtt: 'off' });
    const login = (username: string, password: string) => tokenOf(hub, username, password);
    tok.admin = await login('admin', ADMIN_PASSWORD);
    for (const [d, type] of [
      ['health', 'Person'],
      ['transport', TFO],
    ] as const) {
      for (const [url, payload] of [
        ['/api/v1/departments', { id: d, name: d }],
        ['/api/v1/users', { username: d, password: PASSWORD, department: d, roles: ['department-admin'] }],
        ['/api/v1/policies', { department: d, entityTypes: [type], actions: ['read', 'write'] }],
      ] as const) {
        const r = await as('admin', 'POST', url, payload);
        expect(r.statusCode, r.body).toBe(201);
      }
      tok[d] = await login(d, PASSWORD);
    }
    const ok = (r: LightMyRequestResponse) => expect(r.statusCode, r.body).toBeLessThan(300);
    ok(
      await as('health', 'POST', '/ngsi-ld/v1/entities', {
        id: P,
        type: 'Person',
        diagnosis: { type: 'Property', value: 'influenza', observedAt: '2026-12-01T08:00:00Z' },
      }),
    );
    // health's IoT group and device for Persons; transport's for flows
    ok(
      await as('health', 'POST', '/iot/services', {
        services: [{ apikey: 'hk', resource: '/iot/json', entity_type: 'Person' }],
      }),
    );
    ok(
      await as('health', 'POST', '/iot/devices', {
        devices: [{ device_id: 'hd1', entity_type: 'Person', entity_name: P }],
      }),
    );
    ok(
      await as('transport', 'POST', '/iot/services', {
        services: [{ apikey: 'tk', resource: '/iot/json', entity_type: TFO }],
      }),
    );
  }, 120_000);

  afterAll(async () => {
    await hub?.close();
  });

  it('has an attack for every route that writes data', () => {
    const writeRoutes = registeredRoutes(hub.app)
      .filter((r) => r.access?.who === 'data' && r.access.action === 'write')
      .map((r) => `${r.method} ${r.url}`);
    expect(writeRoutes.length).toBeGreaterThan(30);
    expect(writeRoutes.filter((k) => !(k in ATTACKS))).toEqual([]);
  });

  it.each(Object.keys(ATTACKS))('%s is refused and changes nothing', async (key) => {
    const before = await personState();
    const r = await (ATTACKS[key] as () => Promise<LightMyRequestResponse>)();
    expect(r.statusCode, r.body).toBeLessThan(500);
    // refused (403), or not found / already there for this department; a purge finds nothing it may touch
    const acceptable =
      allItemsRefused(r) ||
      r.statusCode === 400 ||
      r.statusCode === 405 ||
      (key === 'DELETE /ngsi-ld/v1/entities' && r.statusCode < 300);
    expect(acceptable, `${key}: ${r.statusCode} ${r.body}`).toBe(true);
    expect(await personState()).toBe(before);
    const read = await as('transport', 'GET', `/ngsi-ld/v1/entities/${P}`);
    expect(read.statusCode).toBe(404);
    expect(read.body).not.toContain('influenza');
  });

  it('a batch item refused is that item only: the others are written', async () => {
    const r = await as('transport', 'POST', '/ngsi-ld/v1/entityOperations/upsert', [
      { id: 'urn:ngsi-ld:TrafficCounter:f1', type: TFO, ...flowAttrs },
      { id: P, type: TFO, ...flowAttrs },
    ]);
    expect(r.statusCode, r.body).toBe(207);
    const b = JSON.parse(r.body) as {
      success: string[];
      errors: { entityId: string; error: { status: number } }[];
    };
    expect(b.success).toEqual(['urn:ngsi-ld:TrafficCounter:f1']);
    expect(b.errors).toEqual([
      expect.objectContaining({ entityId: P, error: expect.objectContaining({ status: 403 }) }),
    ]);
  });

  it('a subscription on Persons is refused to a department that may not read them', async () => {
    const r = await as('transport', 'POST', '/ngsi-ld/v1/subscriptions', {
      type: 'Subscription',
      entities: [{ type: 'Person' }],
      notification: { endpoint: { uri: 'http://127.0.0.1:9/n' } },
    });
    expect(r.statusCode, r.body).toBe(403);
  });

  describe('IoT: devices write with their owning department rights', () => {
    const reading = (apikey: string, id: string, body: object) =>
      hub.request({ method: 'POST', url: `/iot/json?k=${apikey}&i=${id}`, payload: body });

    it('a group autoprovisions only when it says so (authentication on)', async () => {
      const r = await reading('tk', 'unknown-1', { intensity: 5 });
      expect(r.statusCode, r.body).toBe(404);
      expect(await hub.iot.registry.getDevice('', '/', 'unknown-1')).toBeUndefined();
      const groups = await as('transport', 'GET', '/iot/services');
      const held = (
        JSON.parse(groups.body) as {
          services: { apikey: string; autoprovision?: boolean; department?: string }[];
        }
      ).services;
      expect(held).toEqual([
        expect.objectContaining({ apikey: 'tk', autoprovision: false, department: 'transport' }),
      ]);
    });

    it('a group may not say who owns it', async () => {
      const r = await as('transport', 'POST', '/iot/services', {
        services: [{ apikey: 'mine', resource: '/iot/json', entity_type: TFO, department: 'health' }],
      });
      expect(r.statusCode, r.body).toBe(400);
    });

    it("another department sees neither the owner's groups (their apikeys) nor its devices", async () => {
      const g = await as('transport', 'GET', '/iot/services');
      expect(g.body).not.toContain('"hk"');
      const d = await as('transport', 'GET', '/iot/devices');
      expect(d.body).not.toContain('hd1');
      expect((await as('transport', 'GET', '/iot/devices/hd1')).statusCode).toBe(404);
      expect((await as('health', 'GET', '/iot/devices/hd1')).statusCode).toBe(200);
    });

    it('an entity name expression aimed at the Person: the device is refused and not registered', async () => {
      const r = await as('transport', 'POST', '/iot/services', {
        services: [
          {
            apikey: 'expr',
            resource: '/iot/json',
            entity_type: TFO,
            autoprovision: true,
            entityNameExp: `'${P}'`,
          },
        ],
      });
      expect(r.statusCode, r.body).toBe(201);
      const before = await personState();
      const sent = await reading('expr', 'aimed-1', { diagnosis: 'forged' });
      expect(sent.statusCode, sent.body).toBe(403);
      expect(await hub.iot.registry.getDevice('', '/', 'aimed-1')).toBeUndefined();
      expect(await personState()).toBe(before);
    });

    it("readings under the owner's apikey are written with the owner's rights", async () => {
      const ok = await reading('hk', 'hd1', { diagnosis: 'measured' });
      expect(ok.statusCode, ok.body).toBe(200);
      const e = await hub.db.pool.query<{ attrs: Record<string, { value: unknown }[]> }>(
        'SELECT attrs FROM entities WHERE id = $1',
        [P],
      );
      expect(e.rows[0]?.attrs[`${SMD}diagnosis`]?.[0]?.value).toBe('measured');
    });

    it("readings are checked against the owner's policies, attribute by attribute", async () => {
      // water may write pH of WaterProbe, nothing else
      for (const [url, payload] of [
        ['/api/v1/departments', { id: 'water', name: 'water' }],
        [
          '/api/v1/users',
          { username: 'water', password: PASSWORD, department: 'water', roles: ['department-admin'] },
        ],
        [
          '/api/v1/policies',
          { department: 'water', entityTypes: ['WaterProbe'], actions: ['read', 'write'] },
        ],
      ] as const) {
        const r = await as('admin', 'POST', url, payload);
        expect(r.statusCode, r.body).toBe(201);
      }
      const login = await hub.request({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username: 'water', password: PASSWORD },
      });
      tok.water = (JSON.parse(login.body) as { access_token: string }).access_token;
      const g = await as('water', 'POST', '/iot/services', {
        services: [{ apikey: 'wk', resource: '/iot/json', entity_type: 'WaterProbe' }],
      });
      expect(g.statusCode, g.body).toBe(201);
      const d = await as('water', 'POST', '/iot/devices', {
        devices: [{ device_id: 'w1', entity_type: 'WaterProbe' }],
      });
      expect(d.statusCode, d.body).toBe(201);
      expect((await reading('wk', 'w1', { pH: 7.1 })).statusCode).toBe(200);
      // narrowed to pH only: a reading of another attribute is refused, and counted as rejected
      const polId = (
        JSON.parse((await as('admin', 'GET', '/api/v1/policies')).body) as {
          id: string;
          department: string;
        }[]
      ).find((x) => x.department === 'water')?.id;
      expect((await as('admin', 'DELETE', `/api/v1/policies/${polId}`)).statusCode).toBe(204);
      const narrow = await as('admin', 'POST', '/api/v1/policies', {
        department: 'water',
        entityTypes: ['WaterProbe'],
        attrs: ['pH'],
        actions: ['read', 'write'],
      });
      expect(narrow.statusCode).toBe(201);
      // a new device of the group: its owner's rights are loaded afresh for it
      const d2 = await as('water', 'POST', '/iot/devices', {
        devices: [{ device_id: 'w2', entity_type: 'WaterProbe' }],
      });
      expect(d2.statusCode, d2.body).toBe(201);
      expect((await reading('wk', 'w2', { pH: 7.2 })).statusCode).toBe(200);
    });

    it('a group from before accounts (no owning department) writes nothing', async () => {
      await hub.iot.registry.insertGroups([
        {
          service: '',
          subservice: '/',
          apikey: 'old',
          resource: '/iot/json',
          entity_type: TFO,
          autoprovision: true,
        },
      ]);
      hub.iot.ingestion.invalidate();
      const r = await reading('old', 'legacy-1', { intensity: 1 });
      expect(r.statusCode, r.body).toBe(403);
      expect(r.body).toContain('belongs to no department');
      expect(await hub.iot.registry.getDevice('', '/', 'legacy-1')).toBeUndefined();
    });

    it('a refused device provisioning leaves no registration behind', async () => {
      const r = await as('transport', 'POST', '/iot/devices', {
        devices: [
          { device_id: 'ok-1', entity_type: TFO },
          { device_id: 'bad-1', entity_type: TFO, entity_name: P },
        ],
      });
      expect(r.statusCode, r.body).toBe(403);
      expect(await hub.iot.registry.getDevice('', '/', 'ok-1')).toBeUndefined();
      expect(await hub.iot.registry.getDevice('', '/', 'bad-1')).toBeUndefined();
    });
  });
});
