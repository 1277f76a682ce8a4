/**
 * What the fuzzed hub holds before the first fuzzed request, written through its own API as the
 * administrator and the departments would: two departments (transport, health) with a user, an
 * API key, policies, a tenant of their own for their devices, entities with history, a
 * subscription, an IoT config group and devices each; an auditor; the data catalog tagging
 * Person `diagnosis` as sensitive personal (and `mobile`, `idNumber` as personal); a purpose
 * grant that lets health read `diagnosis` unmasked for "treatment"; a dataset and a pending
 * share request. The secret Person's values are markers the leak oracle looks for.
 */
import type { FastifyInstance, InjectOptions } from 'fastify';
import { ADMIN_PASSWORD, USER_PASSWORD } from './fuzz-hub.js';

/** Values that only the secret Person holds; no generated request contains them. */
export const MARKERS = {
  /** Sensitive personal: unmasked only for health, with the purpose "treatment". */
  diagnosis: 'dx-marker-Q7ZK2VX9-tuberculosis',
  /** Personal: masked for every caller (no grant covers it). */
  mobile: '13987654321',
  idNumber: '110101199512317766',
  /** A MedicalRecord's note: health's type, which transport may not read at all. */
  note: 'note-marker-J3K8WQ-confidential',
} as const;

/**
 * Ids of entities only one department may read, kept out of the generator's pools: an answer to
 * the other department that names one has leaked it (the audit log, for auditors, names them).
 */
export const HIDDEN = {
  health: 'urn:ngsi-ld:MedicalRecord:mr-hidden-X4T9',
  transport: 'urn:ngsi-ld:TrafficFlowObserved:tf-hidden-P5R7',
} as const;

/** The prefix of values encrypted at rest (src/access/field-crypto.ts): never in an answer. */
export const CIPHERTEXT_PREFIX = 'cpenc:v1:';

export const SECRET_ID = 'urn:ngsi-ld:Person:secret-1';
export const PURPOSE = 'treatment';
export const NOTIFY_URI = 'http://notify.invalid/fuzz';

/** The secret Person as created (the fuzzer writes it again if a request changed it). */
export function secretPerson(): Record<string, unknown> {
  return {
    id: SECRET_ID,
    type: 'Person',
    name: { type: 'Property', value: '李秘密' },
    mobile: { type: 'Property', value: MARKERS.mobile },
    idNumber: { type: 'Property', value: MARKERS.idNumber },
    diagnosis: { type: 'Property', value: MARKERS.diagnosis },
    location: { type: 'GeoProperty', value: { type: 'Point', coordinates: [113.625368, 34.746599] } },
  };
}

/** Entities the oracles rely on: written again as seeded when a request changed them. */
export function protectedEntities(): { tenant: string; id: string; body: Record<string, unknown> }[] {
  return [
    { tenant: '', id: SECRET_ID, body: secretPerson() },
    {
      tenant: '',
      id: HIDDEN.health,
      body: { id: HIDDEN.health, type: 'MedicalRecord', note: { type: 'Property', value: MARKERS.note } },
    },
    {
      tenant: '',
      id: HIDDEN.transport,
      body: { id: HIDDEN.transport, type: 'TrafficFlowObserved', intensity: { type: 'Property', value: 7 } },
    },
  ];
}

/** Who the seeded accounts and keys are. */
export interface SeedAccounts {
  admin: string;
  transport: string;
  health: string;
  auditor: string;
  /** A token of transport-user whose session was logged out. */
  revoked: string;
  transportKey: string;
  healthKey: string;
}

/** Ids the seed created, for the generator's pools of path parameters. */
export interface SeedIds {
  entities: string[];
  users: string[];
  departments: string[];
  policies: string[];
  grants: string[];
  apiKeys: string[];
  datasets: string[];
  shareRequests: string[];
  subscriptions: string[];
  contexts: string[];
  devices: string[];
  instances: string[];
}

export interface Seed {
  accounts: SeedAccounts;
  ids: SeedIds;
}

type Json = Record<string, unknown> | unknown[];

export async function seedHub(app: FastifyInstance): Promise<Seed> {
  const call = async (
    method: NonNullable<InjectOptions['method']>,
    url: string,
    token: string | undefined,
    payload?: Json,
    headers: Record<string, string> = {},
  ) => {
    const r = await app.inject({
      method,
      url,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
      ...(payload !== undefined ? { payload: payload as object } : {}),
    });
    if (r.statusCode >= 300) throw new Error(`Seeding ${method} ${url}: ${r.statusCode} ${r.body}`);
    return r;
  };
  const body = <T>(r: { body: string }) => JSON.parse(r.body) as T;
  const login = async (username: string, password: string) =>
    body<{ access_token: string }>(
      await call('POST', '/api/v1/auth/login', undefined, { username, password }),
    ).access_token;
  const locationId = (r: { headers: Record<string, unknown> }) =>
    decodeURIComponent(String(r.headers.location).split('/').pop() ?? '');

  const ids: SeedIds = {
    entities: [],
    users: [],
    departments: ['city', 'transport', 'health'],
    policies: [],
    grants: [],
    apiKeys: [],
    datasets: [],
    shareRequests: [],
    subscriptions: [],
    contexts: [],
    devices: [],
    instances: [],
  };
  const admin = await login('admin', ADMIN_PASSWORD);
  await call('POST', '/api/v1/departments', admin, { id: 'transport', name: 'Transport bureau' });
  await call('POST', '/api/v1/departments', admin, { id: 'health', name: 'Health commission' });
  for (const [username, department, roles] of [
    ['transport-user', 'transport', ['department-admin']],
    ['health-user', 'health', ['department-admin']],
    ['auditor', undefined, ['auditor']],
  ] as const) {
    const u = await call('POST', '/api/v1/users', admin, {
      username,
      password: USER_PASSWORD,
      roles,
      ...(department ? { department } : {}),
    });
    ids.users.push(body<{ id: string }>(u).id);
  }
  const policy = async (p: Record<string, unknown>) =>
    ids.policies.push(body<{ id: string }>(await call('POST', '/api/v1/policies', admin, p)).id);
  await policy({ department: 'transport', entityTypes: ['TrafficFlowObserved'], actions: ['read', 'write'] });
  await policy({
    department: 'transport',
    entityTypes: ['Person'],
    attrs: ['name', 'mobile', 'idNumber', 'location'],
    actions: ['read'],
  });
  await policy({
    department: 'transport',
    tenant: 'traffic',
    entityTypes: ['*'],
    actions: ['read', 'write'],
  });
  await policy({
    department: 'health',
    entityTypes: ['Person', 'MedicalRecord'],
    actions: ['read', 'write'],
  });
  await policy({ department: 'health', tenant: 'clinic', entityTypes: ['*'], actions: ['read', 'write'] });
  for (const [attr, sensitivity] of [
    ['diagnosis', 'sensitive-personal'],
    ['mobile', 'personal'],
    ['idNumber', 'personal'],
  ] as const)
    await call('PUT', '/api/v1/catalog', admin, { entityType: 'Person', attr, sensitivity });
  const grant = await call('POST', '/api/v1/grants', admin, {
    department: 'health',
    entityType: 'Person',
    attrs: ['diagnosis'],
    purpose: PURPOSE,
    validUntil: new Date(Date.now() + 7 * 86_400_000).toISOString(),
  });
  ids.grants.push(body<{ id: string }>(grant).id);
  const key = async (name: string, department: string) => {
    const k = body<{ id: string; key: string }>(
      await call('POST', '/api/v1/api-keys', admin, { name, department, roles: ['department-user'] }),
    );
    ids.apiKeys.push(k.id);
    return k.key;
  };
  const transportKey = await key('transport-system', 'transport');
  const healthKey = await key('health-system', 'health');

  const transport = await login('transport-user', USER_PASSWORD);
  const health = await login('health-user', USER_PASSWORD);
  const auditor = await login('auditor', USER_PASSWORD);
  const revoked = await login('transport-user', USER_PASSWORD);
  await call('POST', '/api/v1/auth/logout', revoked);

  // Data of both departments, each entity written a few times so that it has a history.
  const create = async (token: string, entity: Record<string, unknown>, tenant = '') => {
    await call('POST', '/ngsi-ld/v1/entities', token, entity, tenant ? { 'NGSILD-Tenant': tenant } : {});
    ids.entities.push(entity.id as string);
  };
  const patch = (token: string, id: string, attrs: Record<string, unknown>, tenant = '') =>
    call(
      'PATCH',
      `/ngsi-ld/v1/entities/${encodeURIComponent(id)}/attrs`,
      token,
      attrs,
      tenant ? { 'NGSILD-Tenant': tenant } : {},
    );
  await create(health, secretPerson());
  await create(health, {
    id: 'urn:ngsi-ld:Person:p-2',
    type: 'Person',
    name: { type: 'Property', value: '王五' },
    diagnosis: { type: 'Property', value: 'influenza' },
  });
  for (const n of [1, 2, 3]) {
    await create(transport, {
      id: `urn:ngsi-ld:TrafficFlowObserved:tf-${n}`,
      type: 'TrafficFlowObserved',
      intensity: { type: 'Property', value: 100 + n, observedAt: '2024-05-01T08:00:00Z' },
      location: { type: 'GeoProperty', value: { type: 'Point', coordinates: [113.6 + n / 100, 34.7] } },
    });
  }
  await create(health, { id: 'urn:ngsi-ld:Device:ward-1', type: 'Device', batteryLevel: 0.8 }, 'clinic');
  // Subscriptions first, so that the writes below leave notifications in the outbox. Those in
  // the pools may be changed or deleted by the fuzzer; the others (ids nobody knows) keep their
  // undelivered notifications, which name the hidden entities, for the whole run.
  for (const [token, selector, pooled] of [
    [transport, { type: 'TrafficFlowObserved' }, true],
    [health, { type: 'Person' }, true],
    [transport, { type: 'TrafficFlowObserved', id: HIDDEN.transport }, false],
    [health, { type: 'MedicalRecord' }, false],
  ] as const) {
    const s = await call('POST', '/ngsi-ld/v1/subscriptions', token, {
      type: 'Subscription',
      entities: [selector],
      notification: { endpoint: { uri: NOTIFY_URI } },
    });
    if (pooled) ids.subscriptions.push(locationId(s));
  }
  // Not in the pools: only their owners may ever see these ids.
  const [, hiddenHealth, hiddenTransport] = protectedEntities();
  await call('POST', '/ngsi-ld/v1/entities', health, hiddenHealth?.body);
  await call('POST', '/ngsi-ld/v1/entities', transport, hiddenTransport?.body);
  for (const n of [1, 2]) {
    await patch(health, HIDDEN.health, { note: { type: 'Property', value: `${MARKERS.note}-${n}` } });
    await patch(transport, HIDDEN.transport, { intensity: { type: 'Property', value: 7 + n } });
    await patch(health, SECRET_ID, { name: { type: 'Property', value: `李秘密${n}` } });
    await patch(transport, 'urn:ngsi-ld:TrafficFlowObserved:tf-1', {
      intensity: {
        type: 'Property',
        value: 200 + n,
        observedAt: `2024-05-01T${String(8 + n).padStart(2, '0')}:00:00Z`,
      },
    });
  }

  // Devices: transport's in tenant traffic, health's in tenant clinic.
  const iot = (tenant: string, path: string) => ({ 'fiware-service': tenant, 'fiware-servicepath': path });
  await call(
    'POST',
    '/iot/services',
    transport,
    {
      services: [
        {
          apikey: 'traffic-key',
          resource: '/iot/json',
          entity_type: 'TrafficFlowObserved',
          attributes: [{ object_id: 'i', name: 'intensity', type: 'Number' }],
        },
      ],
    },
    iot('traffic', '/roads'),
  );
  await call(
    'POST',
    '/iot/devices',
    transport,
    {
      devices: [
        { device_id: 'tf-sensor-1', entity_name: 'urn:ngsi-ld:TrafficFlowObserved:iot-1' },
        { device_id: 'tf-sensor-2', password: 'tf2-secret-0123456789' },
      ],
    },
    iot('traffic', '/roads'),
  );
  await call(
    'POST',
    '/iot/services',
    health,
    {
      services: [
        {
          apikey: 'clinic-key',
          resource: '/iot/d',
          entity_type: 'Device',
          attributes: [{ object_id: 'b', name: 'batteryLevel', type: 'Number' }],
        },
      ],
    },
    iot('clinic', '/wards'),
  );
  await call(
    'POST',
    '/iot/devices',
    health,
    { devices: [{ device_id: 'bed-1', entity_name: 'urn:ngsi-ld:Device:bed-1' }] },
    iot('clinic', '/wards'),
  );
  ids.devices.push('tf-sensor-1', 'tf-sensor-2', 'bed-1');
  ids.entities.push('urn:ngsi-ld:TrafficFlowObserved:iot-1', 'urn:ngsi-ld:Device:bed-1');
  for (const n of [1, 2]) {
    await call('POST', '/iot/json?k=traffic-key&i=tf-sensor-1', undefined, { i: 10 * n });
    const ul = await app.inject({
      method: 'POST',
      url: '/iot/d?k=clinic-key&i=bed-1',
      headers: { 'content-type': 'text/plain' },
      payload: `b|0.${n}`,
    });
    if (ul.statusCode !== 200) throw new Error(`Seeding an Ultralight reading: ${ul.statusCode} ${ul.body}`);
  }

  // Sharing: health publishes a dataset, transport asks for it (left pending).
  const ds = body<{ id: string }>(
    await call('POST', '/api/v1/datasets', health, {
      title: 'Persons',
      entityType: 'Person',
      attrs: ['name'],
    }),
  );
  ids.datasets.push(ds.id);
  const req = body<{ id: string }>(
    await call('POST', `/api/v1/datasets/${ds.id}/requests`, transport, {
      purpose: 'route planning',
      validUntil: new Date(Date.now() + 30 * 86_400_000).toISOString(),
    }),
  );
  ids.shareRequests.push(req.id);
  const ctx = await call('POST', '/ngsi-ld/v1/jsonldContexts', transport, {
    '@context': { intensity: 'https://example.org/traffic#intensity' },
  });
  ids.contexts.push(locationId(ctx));

  // Instance ids of the secret's history (temporal instance routes).
  const t = body<Record<string, unknown>>(
    await call('GET', `/ngsi-ld/v1/temporal/entities/${encodeURIComponent(SECRET_ID)}`, health),
  );
  for (const v of Object.values(t)) {
    if (!Array.isArray(v)) continue;
    for (const inst of v as { instanceId?: unknown }[])
      if (typeof inst.instanceId === 'string') ids.instances.push(inst.instanceId);
  }
  return {
    accounts: { admin, transport, health, auditor, revoked, transportKey, healthKey },
    ids,
  };
}
