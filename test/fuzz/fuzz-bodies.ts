/**
 * Request bodies: a valid body for the route from a small set of templates (entities, fragments,
 * batches, subscriptions, temporal instances, IoT groups and devices, the /api/v1 administration),
 * then, often, mutated (body-mutations.ts). A route without a template gets a random JSON value,
 * so that new routes are fuzzed too.
 */
import type { Rng } from './prng.js';
import { DATES, qExpression, TYPES } from './fuzz-values.js';
import { breakJson, deepText, mutate, randomJson } from './body-mutations.js';

type J = unknown;
type Obj = Record<string, J>;

const CORE = 'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld';

export interface BodyContext {
  rng: Rng;
  entityIds: readonly string[];
  deviceIds: readonly string[];
  subscriptionIds: readonly string[];
  /** A @context URL nobody serves locally (the sentinel): the hub must never fetch it. */
  unknownContext: string;
  /** Entity types the principal may write, picked more often so that more writes go through. */
  ownTypes: readonly string[];
}

function point(rng: Rng): J {
  return rng.pick<J>([
    { type: 'Point', coordinates: [113.6 + rng.int(0, 99) / 1000, 34.7] },
    { type: 'Point', coordinates: [181, 91] },
    { type: 'Point', coordinates: [1e308, -1e308] },
    { type: 'Point', coordinates: [] },
    {
      type: 'Polygon',
      coordinates: [
        [
          [113.5, 34.6],
          [113.8, 34.6],
          [113.8, 34.9],
          [113.5, 34.6],
        ],
      ],
    },
    { type: 'LineString', coordinates: Array.from({ length: 3000 }, (_v, i) => [i % 180, i % 90]) },
    { type: 'GeometryCollection', geometries: [{ type: 'Point', coordinates: [1, 2] }] },
    { type: 'Circle', coordinates: [1, 2] },
  ]);
}

function attribute(rng: Rng): J {
  return rng.weighted<() => J>([
    [5, () => ({ type: 'Property', value: rng.pick<J>([1, 12.5, 'text', true, null, { a: 1 }, [1, 2]]) })],
    [2, () => ({ type: 'Property', value: rng.int(0, 500), observedAt: rng.pick(DATES), unitCode: 'KMH' })],
    [1, () => ({ type: 'GeoProperty', value: point(rng) })],
    [1, () => ({ type: 'Relationship', object: rng.pick(['urn:ngsi-ld:Person:p-2', 'not a uri', '']) })],
    [1, () => ({ type: 'LanguageProperty', languageMap: { en: 'x', zh: '是' } })],
    [1, () => ({ type: 'VocabProperty', vocab: 'Person' })],
    [1, () => ({ type: 'JsonProperty', json: { nested: [1, { a: null }] } })],
    [1, () => ({ type: 'ListProperty', valueList: [1, 2, 3] })],
    [
      1,
      () => [
        { type: 'Property', value: 1, datasetId: 'urn:ngsi-ld:dataset:a' },
        { type: 'Property', value: 2 },
      ],
    ],
    [1, () => rng.pick<J>([5, 'bare', null, [], { value: 1 }, { type: 'Bogus', value: 1 }])],
  ])();
}

function entity(c: BodyContext, forType?: string): Obj {
  const { rng } = c;
  const type =
    forType ??
    (c.ownTypes.length > 0 && rng.chance(0.5)
      ? rng.pick(c.ownTypes)
      : rng.pick(['TrafficFlowObserved', 'Person', 'Device', 'MedicalRecord', 'Thing']));
  const id = rng.chance(0.5) ? rng.pick(c.entityIds) : `urn:ngsi-ld:${type}:fz-${rng.int(1, 12)}`;
  const e: Obj = { id, type };
  const pool =
    type === 'Person'
      ? ['name', 'mobile', 'idNumber', 'diagnosis', 'location']
      : type === 'TrafficFlowObserved'
        ? ['intensity', 'location', 'occupancy']
        : ['batteryLevel', 'note', 'location'];
  for (const a of pool) if (rng.chance(0.6)) e[a] = attribute(rng);
  if (rng.chance(0.1)) e.scope = rng.pick<J>(['/a/b', ['/a', '/b'], 'no-slash']);
  return e;
}

function fragment(c: BodyContext): Obj {
  const e = entity(c);
  delete e.id;
  if (c.rng.chance(0.7)) delete e.type;
  if (Object.keys(e).length === 0) e.intensity = attribute(c.rng);
  return e;
}

function subscription(c: BodyContext): Obj {
  const { rng } = c;
  const s: Obj = {
    type: 'Subscription',
    entities: [{ type: rng.pick(['TrafficFlowObserved', 'Person', 'MedicalRecord', 'Device']) }],
    notification: {
      endpoint: {
        uri: rng.pick([
          'http://notify.invalid/fuzz',
          'mqtt://notify.invalid/topic',
          'ftp://x',
          'not a uri',
          'http://169.254.169.254/latest/meta-data',
        ]),
      },
      ...(rng.chance(0.3) ? { attributes: ['name', 'diagnosis'] } : {}),
      ...(rng.chance(0.2) ? { format: rng.pick(['keyValues', 'normalized', 'bogus']) } : {}),
    },
  };
  if (rng.chance(0.3)) s.q = qExpression(rng);
  if (rng.chance(0.2))
    s.geoQ = { geometry: 'Point', coordinates: [113.6, 34.7], georel: 'near;maxDistance==100' };
  if (rng.chance(0.2)) s.watchedAttributes = ['diagnosis'];
  if (rng.chance(0.1)) s.timeInterval = rng.pick([1, 0, -1, 1e9]);
  if (rng.chance(0.1)) s.throttling = 5;
  if (rng.chance(0.1)) s.id = rng.pick(c.subscriptionIds);
  return s;
}

function temporalEntity(c: BodyContext): Obj {
  const e = entity(c);
  for (const [k, v] of Object.entries(e))
    if (k !== 'id' && k !== 'type' && typeof v === 'object' && v !== null && !Array.isArray(v))
      e[k] = [
        { ...(v as Obj), observedAt: c.rng.pick(DATES) },
        { ...(v as Obj), observedAt: c.rng.pick(DATES) },
      ];
  return e;
}

function serviceGroup(c: BodyContext): Obj {
  const { rng } = c;
  return {
    apikey: rng.pick(['traffic-key', 'clinic-key', `fz-key-${rng.int(1, 5)}`, 'bad key!']),
    resource: rng.pick(['/iot/json', '/iot/d', 'no-slash']),
    entity_type: rng.pick(['TrafficFlowObserved', 'Device', 'Person', 'MedicalRecord']),
    attributes: [
      {
        object_id: rng.pick(['i', 'b', 'x']),
        name: rng.pick(['intensity', 'batteryLevel', 'diagnosis', 'id']),
        type: 'Number',
        ...(rng.chance(0.3)
          ? { expression: rng.pick(['i * 2', 'i |', '((((((((((i))))))))))'.repeat(50), 'constructor']) }
          : {}),
      },
    ],
    ...(rng.chance(0.2) ? { static_attributes: [{ name: 'owner', type: 'Text', value: 'x' }] } : {}),
    ...(rng.chance(0.2) ? { autoprovision: rng.pick<J>([true, 'yes']) } : {}),
    ...(rng.chance(0.1) ? { schema_validation: rng.pick(['reject', 'quarantine', 'bogus']) } : {}),
  };
}

function device(c: BodyContext): Obj {
  const { rng } = c;
  return {
    device_id: rng.chance(0.5) ? rng.pick(c.deviceIds) : `fz-dev-${rng.int(1, 8)}`,
    ...(rng.chance(0.6)
      ? { entity_name: rng.pick([...c.entityIds, `urn:ngsi-ld:Device:fz-${rng.int(1, 5)}`]) }
      : {}),
    ...(rng.chance(0.5) ? { entity_type: rng.pick(['TrafficFlowObserved', 'Device', 'Person']) } : {}),
    ...(rng.chance(0.4)
      ? { apikey: rng.pick(['traffic-key', 'clinic-key', `fz-key-${rng.int(1, 5)}`]) }
      : {}),
    ...(rng.chance(0.2) ? { password: rng.pick(['short', 'fz-secret-0123456789abcdef', null]) } : {}),
    ...(rng.chance(0.3) ? { attributes: [{ object_id: 'i', name: 'intensity', type: 'Number' }] } : {}),
  };
}

function query(c: BodyContext, temporal: boolean): Obj {
  const { rng } = c;
  const q: Obj = { type: rng.pick(['Query', 'query', 'Bogus']) };
  if (rng.chance(0.7))
    q.entities = rng.pick<J>([
      [{ type: rng.pick(TYPES) }],
      [{ id: rng.pick(c.entityIds) }, { idPattern: '.*' }],
      [],
      [5],
    ]);
  if (rng.chance(0.4)) q.q = qExpression(rng);
  if (rng.chance(0.3)) q.attrs = rng.pick<J>([['name', 'diagnosis'], 'name', []]);
  if (rng.chance(0.3))
    q.geoQ = {
      geometry: rng.pick(['Point', 'Polygon']),
      coordinates: [113.6, 34.7],
      georel: 'near;maxDistance==10',
    };
  if (temporal || rng.chance(0.2))
    q.temporalQ = {
      timerel: rng.pick(['before', 'after', 'between']),
      timeAt: rng.pick(DATES),
      endTimeAt: rng.pick(DATES),
    };
  return q;
}

/** Templates by "METHOD url pattern". */
function template(key: string, c: BodyContext): J {
  const { rng } = c;
  const any = (n: number, make: () => J) => Array.from({ length: n }, make);
  switch (key) {
    case 'POST /ngsi-ld/v1/entities':
    case 'PUT /ngsi-ld/v1/entities/:entityId':
      return entity(c);
    case 'PATCH /ngsi-ld/v1/entities/:entityId':
    case 'POST /ngsi-ld/v1/entities/:entityId/attrs':
    case 'PATCH /ngsi-ld/v1/entities/:entityId/attrs':
    case 'POST /ngsi-ld/v1/temporal/entities/:entityId/attrs':
      return fragment(c);
    case 'PATCH /ngsi-ld/v1/entities/:entityId/attrs/:attrId':
    case 'PUT /ngsi-ld/v1/entities/:entityId/attrs/:attrId':
    case 'PATCH /ngsi-ld/v1/temporal/entities/:entityId/attrs/:attrId/:instanceId':
      return attribute(rng);
    case 'POST /ngsi-ld/v1/entityOperations/create':
    case 'POST /ngsi-ld/v1/entityOperations/upsert':
    case 'POST /ngsi-ld/v1/entityOperations/update':
    case 'POST /ngsi-ld/v1/entityOperations/merge':
      return any(rng.int(1, 4), () => entity(c));
    case 'POST /ngsi-ld/v1/entityOperations/delete':
      return any(rng.int(1, 3), () => rng.pick(c.entityIds));
    case 'POST /ngsi-ld/v1/entityOperations/query':
      return query(c, false);
    case 'POST /ngsi-ld/v1/temporal/entityOperations/query':
      return query(c, true);
    case 'POST /ngsi-ld/v1/temporal/entities':
      return temporalEntity(c);
    case 'POST /ngsi-ld/v1/subscriptions':
    case 'PATCH /ngsi-ld/v1/subscriptions/:id':
      return subscription(c);
    case 'POST /ngsi-ld/v1/jsonldContexts':
      return { '@context': rng.pick<J>([{ fz: 'https://example.org/fz#' }, c.unknownContext, [CORE], 5]) };
    case 'POST /api/v1/notifications/replay':
      return {
        subscriptionId: rng.pick(c.subscriptionIds),
        ...(rng.chance(0.5) ? { seqs: ['1', '2'] } : {}),
      };
    case 'POST /iot/services':
      return { services: any(rng.int(1, 2), () => serviceGroup(c)) };
    case 'PUT /iot/services':
      return serviceGroup(c);
    case 'POST /iot/devices':
      return { devices: any(rng.int(1, 2), () => device(c)) };
    case 'PUT /iot/devices/:deviceId':
      return device(c);
    case 'POST /iot/json':
      return { i: rng.int(0, 300), b: 0.5, x: 'text' };
    case 'POST /iot/d':
      return rng.pick(['i|12', 'b|0.4|i|3', '|||', 'i', `i|${'9'.repeat(400)}`]);
    case 'POST /api/v1/auth/login':
      return {
        username: rng.pick(['admin', 'transport-user', 'health-user', 'auditor', 'nobody', '']),
        password: rng.pick(['Chief-Passw0rd!', 'User-Passw0rd!', 'wrong', '']),
        ...(rng.chance(0.2) ? { totp: rng.pick<J>(['000000', 123456]) } : {}),
      };
    case 'POST /api/v1/auth/password':
      return {
        currentPassword: rng.pick(['User-Passw0rd!', 'Chief-Passw0rd!', 'wrong']),
        newPassword: rng.pick(['New-Passw0rd-2024!', 'short']),
      };
    case 'POST /api/v1/auth/totp/confirm':
      return { code: rng.pick(['000000', '123456', 'abcdef']) };
    case 'POST /api/v1/departments':
      return {
        id: rng.pick(['fz-dept', 'transport', 'bad id!']),
        name: 'Fuzz',
        parent: rng.pick<J>([null, 'health', 'fz-dept']),
      };
    case 'PATCH /api/v1/departments/:id':
      return {
        name: 'Renamed',
        ...(rng.chance(0.5) ? { parent: rng.pick<J>(['transport', 'health', 'city', null]) } : {}),
      };
    case 'POST /api/v1/users':
      return {
        username: rng.pick(['fz-user', 'admin', 'bad name']),
        password: rng.pick(['Fuzz-Passw0rd!', 'short']),
        department: rng.pick(['transport', 'health', 'nowhere']),
        roles: rng.pick<J>([
          ['department-user'],
          ['security-administrator'],
          ['auditor', 'security-administrator'],
          ['god'],
        ]),
      };
    case 'PATCH /api/v1/users/:id':
      return rng.pick<J>([
        { department: rng.pick(['transport', 'health']) },
        { roles: ['department-admin'] },
        { disabled: true },
        { displayName: 'x' },
      ]);
    case 'POST /api/v1/users/:id/password':
      return { password: rng.pick(['Fuzz-Passw0rd!', 'short']) };
    case 'POST /api/v1/api-keys':
      return {
        name: 'fz-key',
        department: rng.pick(['transport', 'health', 'city']),
        roles: rng.pick<J>([['department-user'], ['system-administrator']]),
        ...(rng.chance(0.3) ? { expiresAt: rng.pick(DATES) } : {}),
      };
    case 'POST /api/v1/policies':
      return {
        department: rng.pick(['transport', 'health', 'nowhere']),
        tenant: rng.pick(['', 'traffic', '*']),
        entityTypes: rng.pick<J>([['Person'], ['*'], ['MedicalRecord']]),
        ...(rng.chance(0.5) ? { attrs: ['diagnosis'] } : {}),
        actions: rng.pick<J>([['read'], ['read', 'write'], ['delete']]),
        ...(rng.chance(0.2)
          ? { area: rng.pick<J>([{ bbox: [113.5, 34.6, 113.8, 34.9] }, { bbox: [1] }, point(rng)]) }
          : {}),
      };
    case 'PUT /api/v1/password-policy':
      return rng.pick<J>([{ minLength: 12 }, { idleSeconds: 1 }, { minLength: -1 }, { maxFailures: 'x' }]);
    case 'PUT /api/v1/catalog':
      return {
        entityType: rng.pick(['Person', 'TrafficFlowObserved']),
        attr: rng.pick(['diagnosis', 'name', 'intensity']),
        sensitivity: rng.pick(['general', 'personal', 'sensitive-personal', 'secret']),
        ...(rng.chance(0.3) ? { mask: rng.pick(['auto', 'none', 'bogus']) } : {}),
      };
    case 'POST /api/v1/grants':
      return {
        department: rng.pick(['transport', 'health']),
        entityType: rng.pick(['Person', 'MedicalRecord']),
        attrs: ['diagnosis'],
        purpose: rng.pick(['treatment', 'research']),
        validUntil: rng.pick(['2099-01-01T00:00:00Z', 'never', '2000-01-01T00:00:00Z']),
      };
    case 'POST /api/v1/datasets':
      return {
        title: 'Fuzz data',
        entityType: rng.pick(['Person', 'TrafficFlowObserved', 'MedicalRecord']),
        ...(rng.chance(0.5) ? { attrs: ['name', 'diagnosis'] } : {}),
        ...(rng.chance(0.2) ? { tenant: rng.pick(['', 'clinic', 'traffic']) } : {}),
      };
    case 'POST /api/v1/datasets/:id/requests':
      return {
        purpose: 'fuzz purpose',
        validUntil: rng.pick(['2099-01-01T00:00:00Z', '2000-01-01T00:00:00Z', 'soon']),
        ...(rng.chance(0.3) ? { validFrom: rng.pick(DATES) } : {}),
      };
    case 'POST /api/v1/share-requests/:id/approve':
    case 'POST /api/v1/share-requests/:id/deny':
      return rng.chance(0.5) ? { reason: 'fuzz' } : undefined;
    default:
      return undefined;
  }
}

/** Bodies stay under the hub's 8 MiB limit (a larger one is a 413 at the first byte over). */
const MAX_BODY = 2_000_000;

function sizeOf(v: J): number {
  try {
    return JSON.stringify(v)?.length ?? 0;
  } catch {
    return Infinity; // too deep or too long to write
  }
}

export interface GeneratedBody {
  /** The body as sent (JSON text, text, or broken JSON). */
  text: string;
  /** Whether it was derived from a template (for statistics). */
  templated: boolean;
}

/** The body of a request to `key` ("METHOD url pattern"), or undefined for none. */
export function bodyFor(
  key: string,
  c: BodyContext,
  withContext: string | undefined,
): GeneratedBody | undefined {
  const { rng } = c;
  const method = key.split(' ')[0];
  const wantsBody = method === 'POST' || method === 'PUT' || method === 'PATCH';
  if (!wantsBody && !rng.chance(0.05)) return undefined;
  let body = template(key, c);
  const templated = body !== undefined;
  if (body === undefined) {
    if (wantsBody && rng.chance(0.15)) return undefined;
    body = randomJson(rng);
  }
  const mutations = rng.weighted([
    [5, 0],
    [3, 1],
    [1, 2],
    [1, 3],
  ]);
  for (let i = 0; i < mutations; i++) {
    const next = mutate(rng, body);
    // Mutations compound: one that would make the body bigger than a few megabytes is skipped.
    if (sizeOf(next) < MAX_BODY) body = next;
  }
  if (withContext !== undefined && typeof body === 'object' && body !== null) {
    const add = (o: J) =>
      typeof o === 'object' && o !== null && !Array.isArray(o)
        ? { ...(o as Obj), '@context': withContext }
        : o;
    body = Array.isArray(body) ? body.map(add) : add(body);
  }
  if (typeof body === 'string' && key.endsWith('/iot/d')) return { text: body, templated };
  let text = JSON.stringify(body) ?? 'null';
  if (rng.chance(0.06)) text = breakJson(rng, text);
  else if (rng.chance(0.03)) text = deepText(rng, key);
  return { text, templated };
}
