/**
 * The pools of values the fuzzer draws from: path parameters by name, query parameters by name,
 * and the hostile strings any of them may get instead. Pools hold seeded ids (so that requests
 * reach real data of both departments) next to unknown, malformed and oversized ones.
 */
import { GEO_RELS } from '../../src/core/geo/geo-query.js';
import type { Rng } from './prng.js';
import type { SeedIds } from './fuzz-seed.js';

/** Strings that break parsers, encoders, SQL, regexes and logs. */
export const HOSTILE = [
  '',
  ' ',
  '%',
  '%25',
  '%00',
  '%zz',
  '..',
  '.',
  '/',
  '\\',
  '*',
  'null',
  'undefined',
  'true',
  '[]',
  '{}',
  '-1',
  '0',
  '1e309',
  'NaN',
  'é',
  '😀',
  'urn:ngsi-ld:T:😀-1',
  'urn:ngsi-ld:T:é',
  'urn:ngsi-ld:T:%',
  'urn:ngsi-ld:T:..',
  'urn:ngsi-ld:T:a/b',
  'urn:ngsi-ld:T:a?b#c',
  "urn:ngsi-ld:T:' OR '1'='1",
  "'; DROP TABLE entities; --",
  '$(id)',
  '${jndi:ldap://127.0.0.1/a}',
  '<script>alert(1)</script>',
  '../../../../etc/passwd',
  'javascript:alert(1)',
  'file:///etc/passwd',
  '\u0000',
  'a\u0000b',
  '\r\nX-Injected: 1',
  '\u202e',
  '\ufeff',
  '\ud800',
  'x'.repeat(300),
  'urn:ngsi-ld:T:' + 'a'.repeat(3000),
  'é'.repeat(1500),
] as const;

const ENTITY_UNKNOWN = [
  'urn:ngsi-ld:Person:nobody',
  'urn:ngsi-ld:TrafficFlowObserved:none',
  'urn:ngsi-ld:Thing:1',
  'urn:ngsi-ld:Person:secret-1:extra',
  'URN:NGSI-LD:PERSON:SECRET-1',
  'http://example.org/entity/1',
  'urn:x',
];

export const ATTRS = [
  'intensity',
  'name',
  'mobile',
  'idNumber',
  'diagnosis',
  'location',
  'batteryLevel',
  'observedAt',
  'createdAt',
  'type',
  'id',
  '@id',
  '@context',
  '@type',
  'scope',
  'diagnosis_status',
  'https://uri.etsi.org/ngsi-ld/default-context/diagnosis',
  'https://uri.etsi.org/ngsi-ld/default-context/intensity',
  'a.b',
  'é',
  '😀',
  'x'.repeat(300),
  '__proto__',
  'constructor',
];

export const TYPES = [
  'Person',
  'TrafficFlowObserved',
  'Device',
  'MedicalRecord',
  'Thing',
  'Person,TrafficFlowObserved',
  'Person|TrafficFlowObserved',
  '(Person;TrafficFlowObserved)',
  'Person;Device',
  'https://uri.etsi.org/ngsi-ld/default-context/Person',
  '*',
  'é',
  'Subscription',
  '@id',
];

export const TENANTS = ['', 'traffic', 'clinic', 'other', 'Traffic', 'nonexistent'];
export const BAD_TENANTS = ['bad tenant', 'x'.repeat(65), 'é', '../clinic', 'traffic,clinic', '*', 'a;b'];
export const SERVICE_PATHS = [
  '/',
  '/roads',
  '/wards',
  '/*',
  'roads',
  '/a//b',
  `/${'a'.repeat(60)}`,
  '/é',
  '/#',
];

export const DATES = [
  '2024-05-01T08:00:00Z',
  '2024-05-01T08:00:00.123Z',
  '2024-05-01T08:00:00+08:00',
  '2030-01-01T00:00:00Z',
  '1970-01-01T00:00:00Z',
  '2024-13-45T25:61:61Z',
  '2024-02-30T00:00:00Z',
  '0000-00-00T00:00:00Z',
  '9999-12-31T23:59:59Z',
  '+275760-09-13T00:00:00.001Z',
  '-271821-04-20T00:00:00Z',
  '2024-05-01',
  '2024-05-01T08:00:00+25:00',
  '1e10',
  'now',
  'yesterday',
  '',
];

/** Ids of each kind the seed created, plus ones nobody has. */
export function idPools(ids: SeedIds): Record<string, readonly string[]> {
  return {
    entity: [...ids.entities, ...ENTITY_UNKNOWN],
    instance: [...ids.instances, 'urn:ngsi-ld:instance:none', 'urn:ngsi-ld:1'],
    user: [...ids.users, 'admin', '00000000-0000-0000-0000-000000000000'],
    department: [...ids.departments, 'nowhere', 'city.sub'],
    policy: [...ids.policies, '00000000-0000-0000-0000-000000000000'],
    grant: [...ids.grants, '00000000-0000-0000-0000-000000000000'],
    apiKey: [...ids.apiKeys, '0000000000000000'],
    dataset: [...ids.datasets, '00000000-0000-0000-0000-000000000000'],
    shareRequest: [...ids.shareRequests, '00000000-0000-0000-0000-000000000000'],
    subscription: [...ids.subscriptions, 'urn:ngsi-ld:Subscription:none'],
    context: [
      ...ids.contexts,
      'ngsi-ld-core-context',
      'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld',
      'https%3A%2F%2Furi.etsi.org%2Fngsi-ld%2Fv1%2Fngsi-ld-core-context.jsonld',
      'https://smart-data-models.github.io/dataModel.Device/context.jsonld',
      'https://example.org/unknown.jsonld',
    ],
    device: [...ids.devices, 'none', 'tf-sensor-1/x'],
    attr: ATTRS,
    type: TYPES,
  };
}

/** Which pool a path parameter draws from, by its name and the route it is in. */
export function poolOf(param: string, url: string): string {
  switch (param) {
    case 'entityId':
      return 'entity';
    case 'attrId':
      return 'attr';
    case 'instanceId':
      return 'instance';
    case 'contextId':
      return 'context';
    case 'deviceId':
      return 'device';
    case 'type':
      return 'type';
    default:
      break;
  }
  const byPrefix: [string, string][] = [
    ['/api/v1/users', 'user'],
    ['/api/v1/departments', 'department'],
    ['/api/v1/policies', 'policy'],
    ['/api/v1/grants', 'grant'],
    ['/api/v1/api-keys', 'apiKey'],
    ['/api/v1/datasets', 'dataset'],
    ['/api/v1/share-requests', 'shareRequest'],
    ['/ngsi-ld/v1/subscriptions', 'subscription'],
  ];
  return byPrefix.find(([p]) => url.startsWith(p))?.[1] ?? 'entity';
}

/** A random q expression (NGSI-LD §4.9): mostly well formed, sometimes not, sometimes huge. */
export function qExpression(rng: Rng, depth = 0): string {
  const attr = rng.pick([
    'intensity',
    'name',
    'mobile',
    'diagnosis',
    'batteryLevel',
    'location',
    'intensity.observedAt',
    'name[first]',
    'address[city.name]',
    'é',
    'a..b',
  ]);
  const op = rng.pick(['==', '!=', '>', '>=', '<', '<=', '~=', '!~=', '=', '===', '']);
  const value = rng.pick([
    '100',
    '-1.5e3',
    '1e309',
    '"text"',
    '"with \\" quote"',
    '"unterminated',
    "'single'",
    'true',
    'null',
    '2024-05-01T08:00:00Z',
    '2024-13-45T99:00:00Z',
    '1..5',
    '"a","b"',
    '"(a+)+$"',
    '"(?i)tuberc.*"',
    '"dx-mark.*"',
    '"1398765.*"',
    '"[["',
    'urn:ngsi-ld:Person:secret-1',
    '',
  ]);
  let term = op === '' ? attr : `${attr}${op}${value}`;
  if (rng.chance(0.1)) term = `!${term}`;
  if (depth < 3 && rng.chance(0.35)) {
    const join = rng.pick([';', '|', ';;', '||', ' AND ', ',']);
    term = `${term}${join}${qExpression(rng, depth + 1)}`;
  }
  if (rng.chance(0.2)) term = `(${term})`;
  return term;
}

/** Values of a query parameter, by its name; anything may also get a hostile string. */
export function queryValue(rng: Rng, name: string, ids: SeedIds): string {
  if (rng.chance(0.12)) return rng.pick(HOSTILE);
  const deep = (n: number) => '('.repeat(n) + 'intensity==1' + ')'.repeat(n);
  switch (name) {
    case 'q':
      return rng.weighted<() => string>([
        [8, () => qExpression(rng)],
        [1, () => deep(rng.pick([50, 2000, 20000]))],
        [1, () => Array.from({ length: 400 }, () => 'intensity==1').join(';')],
        [1, () => `name~="${'(a+)+'.repeat(5)}$"`],
      ])();
    case 'scopeQ':
      return rng.pick(['/a', '/a/b', '/#', '/a/+', '/a;/b', '/a|/b', 'a', '/', '//', `/${'a/'.repeat(500)}`]);
    case 'type':
      return rng.pick(TYPES);
    case 'id':
      return rng.chance(0.5)
        ? rng.pick([...ids.entities, ...ENTITY_UNKNOWN])
        : [...ids.entities, ...ENTITY_UNKNOWN].filter(() => rng.chance(0.4)).join(',');
    case 'idPattern':
      return rng.pick([
        '.*',
        'urn:ngsi-ld:Person:.*',
        '^urn:ngsi-ld:MedicalRecord',
        '(a+)+$',
        '[',
        '\\',
        '.*'.repeat(300),
      ]);
    case 'attrs':
    case 'pick':
    case 'omit':
    case 'watchedAttributes':
      return rng.chance(0.2)
        ? rng.pick(['name{first}', 'a{b{c}}', '{', 'name,', ',', 'id,type,diagnosis', 'diagnosis'.repeat(50)])
        : ATTRS.filter(() => rng.chance(0.2)).join(',') || 'name';
    case 'georel':
      return rng.pick([
        'near;maxDistance==1000',
        'near;minDistance==10',
        'near;maxDistance==-1',
        'near;maxDistance==1e309',
        ...GEO_RELS,
        'Within',
        'near;foo==1',
      ]);
    case 'geometry':
      return rng.pick(['Point', 'Polygon', 'LineString', 'MultiPolygon', 'GeometryCollection', 'Circle', '']);
    case 'coordinates':
      return rng.pick([
        '[113.6,34.7]',
        '[[[113.5,34.6],[113.8,34.6],[113.8,34.9],[113.5,34.9],[113.5,34.6]]]',
        '[[113.5,34.6],[113.8,34.9]]',
        '[1e308,1e308]',
        '[181,91]',
        '[NaN,1]',
        '[',
        '[]',
        '[[[[[[[[[[1]]]]]]]]]]',
        JSON.stringify(Array.from({ length: 5000 }, (_v, i) => [i % 180, i % 90])),
        '113.6,34.7',
      ]);
    case 'geoproperty':
    case 'geometryProperty':
      return rng.pick(['location', 'observationSpace', '@id', 'diagnosis', 'é', '']);
    case 'limit':
    case 'offset':
    case 'lastN':
    case 'joinLevel':
    case 'afterSeq':
      return rng.pick([
        '0',
        '1',
        '3',
        '20',
        '1000',
        '1001',
        '99999999999',
        '-1',
        '1.5',
        'abc',
        '1e3',
        '0x10',
        '',
      ]);
    case 'count':
    case 'local':
    case 'details':
    case 'deleteAll':
    case 'reload':
    case 'status':
      return rng.pick(['true', 'false', 'TRUE', '1', '']);
    case 'options':
      return rng.pick([
        'keyValues',
        'sysAttrs',
        'concise',
        'normalized',
        'keyValues,sysAttrs',
        'keyValues,normalized',
        'noOverwrite',
        'replace',
        'update',
        'temporalValues',
        'bogus',
      ]);
    case 'format':
      return rng.pick(['keyValues', 'normalized', 'concise', 'simplified', 'temporalValues', 'bogus']);
    case 'lang':
      return rng.pick(['en', 'zh-CN', '*', 'en,zh', ';;', '@none', 'é']);
    case 'timerel':
      return rng.pick(['before', 'after', 'between', 'within', 'BEFORE', '']);
    case 'timeAt':
    case 'endTimeAt':
    case 'observedAt':
    case 'from':
    case 'to':
    case 't':
      return rng.pick(DATES);
    case 'timeproperty':
      return rng.pick(['observedAt', 'createdAt', 'modifiedAt', 'deletedAt', 'bogus']);
    case 'aggrMethods':
      return rng.pick([
        'totalCount,distinctCount,sum,avg,min,max,stddev,sumsq',
        'avg',
        'sum,sum',
        'bogus',
        '',
      ]);
    case 'aggrPeriodDuration':
      return rng.pick(['PT1H', 'P1D', 'PT0S', 'PT0.000001S', 'P1M', 'P99999999Y', 'PT', '1h', 'P1W']);
    case 'orderBy':
      return rng.pick([
        'name;desc',
        'id;asc',
        'diagnosis',
        'intensity.observedAt',
        'createdAt',
        'a;b;c',
        'é',
      ]);
    case 'join':
      return rng.pick(['flat', 'inline', '@none', 'bogus']);
    case 'datasetId':
      return rng.pick(['@none', 'urn:ngsi-ld:dataset:a', 'not a uri', '']);
    case 'keep':
    case 'drop':
      return rng.pick(['name', 'diagnosis', 'location,name', 'é']);
    case 'kind':
      return rng.pick(['Cached', 'Hosted', 'ImplicitlyCreated', 'bogus']);
    case 'access_token':
      return rng.pick(['not-a-token', 'eyJhbGciOiJub25lIn0.e30.']);
    case 'k':
    case 'apikey':
      // Half the time a key the fuzzer's own config groups may have (fz-key-N, fuzz-bodies.ts).
      return rng.chance(0.5)
        ? `fz-key-${rng.int(1, 5)}`
        : rng.pick(['traffic-key', 'clinic-key', 'unknown-key', 'traffic-key ', '']);
    case 'i':
      return rng.pick([...ids.devices, `fz-dev-${rng.int(1, 8)}`, 'new-device', '']);
    case 'resource':
      return rng.pick(['/iot/json', '/iot/d', 'iot/json', '']);
    case 'subscriptionId':
      return rng.pick([...ids.subscriptions, 'urn:x', 'bad id']);
    case 'state':
      return rng.pick(['pending', 'failed', 'delivered']);
    case 'actor':
      return rng.pick(['admin', 'transport-user', 'anonymous', '%']);
    case 'action':
      return rng.pick(['login', 'entity.write', 'read.personal', '%']);
    case 'outcome':
      return rng.pick(['success', 'failure', 'maybe']);
    case 'entityType':
    case 'attr':
      return rng.pick([...TYPES, ...ATTRS]);
    case 'tenant':
      return rng.pick([...TENANTS, '*']);
    default:
      return rng.pick(['1', 'true', 'x', ...HOSTILE]);
  }
}

/** Query parameters of routes that declare none (IoT provisioning, the /api/v1 administration). */
export const UNDECLARED_PARAMS = [
  'limit',
  'offset',
  'k',
  'i',
  't',
  'apikey',
  'resource',
  'status',
  'actor',
  'action',
  'outcome',
  'from',
  'to',
  'afterSeq',
  'entityType',
  'attr',
  'tenant',
  'subscriptionId',
  'state',
];

/** Names no route defines. */
export const UNKNOWN_PARAMS = ['foo', 'q[]', 'Q', 'limit ', '__proto__', 'access_token', ''];
