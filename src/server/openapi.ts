/**
 * The hub's OpenAPI 3.1 document (`GET /openapi.json`) and its reference page (`GET /docs`),
 * generated from the routes as Fastify registers them, so that they cannot drift apart:
 * @fastify/swagger collects every route through onRoute (it is registered before any route), and
 * `describeRoute` derives each operation's tag, access rule, security requirements and parameters
 * from the route's own URL and `config` (its access rule, route-access.ts; the query parameters an
 * NGSI-LD operation defines, route-params.ts). Only the one-line summaries are written by hand
 * (openapi-summaries.ts).
 *
 * The document is a description only: no route gets a validation or response schema from it (the
 * transform's output is used for the document alone), so requests are parsed and errors answered
 * as before (ProblemDetails). The document and the page read nothing from the database; the page
 * is Swagger UI from @fastify/swagger-ui's own files, with no request to another origin.
 */
import { createRequire } from 'node:module';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifySchema, RouteOptions } from 'fastify';
import { ANYONE, guarded, type RouteAccess } from '../http/route-access.js';
import { NOT_SUPPORTED } from '../api/route-params.js';
import { SUMMARIES } from './openapi-summaries.js';

export const OPENAPI_PATH = '/openapi.json';
export const DOCS_PATH = '/docs';

/** The tags, in the order the reference page shows them, and the paths each one covers. */
export const TAGS: readonly { name: string; description: string; paths: readonly string[] }[] = [
  {
    name: 'NGSI-LD entities',
    description: 'Context information: create, query, retrieve, replace, merge, delete; bulk export',
    paths: ['/ngsi-ld/v1/entities', '/api/v1/export'],
  },
  {
    name: 'NGSI-LD batch operations',
    description: 'Many entities in one request, with a result per entity',
    paths: ['/ngsi-ld/v1/entityOperations'],
  },
  {
    name: 'NGSI-LD temporal',
    description: 'The history of entities: temporal queries, provision, instance changes',
    paths: ['/ngsi-ld/v1/temporal'],
  },
  {
    name: 'NGSI-LD subscriptions',
    description: 'Subscriptions, their undelivered notifications and replays, the live stream (SSE)',
    paths: ['/ngsi-ld/v1/subscriptions', '/api/v1/notifications', '/api/v1/stream'],
  },
  {
    name: 'NGSI-LD discovery',
    description: 'The entity types and attributes present',
    paths: ['/ngsi-ld/v1/types', '/ngsi-ld/v1/attributes'],
  },
  {
    name: 'NGSI-LD @context documents',
    description: 'The @context documents the hub serves, hosts and caches',
    paths: ['/ngsi-ld/v1/jsonldContexts'],
  },
  {
    name: 'Sign-in',
    description: 'Sessions, the caller’s identity, passwords, TOTP, the token keys',
    paths: ['/api/v1/auth'],
  },
  {
    name: 'Access administration',
    description: 'Departments, accounts, API keys, access policies, the password policy, the data catalog',
    paths: [
      '/api/v1/departments',
      '/api/v1/users',
      '/api/v1/api-keys',
      '/api/v1/policies',
      '/api/v1/password-policy',
      '/api/v1/catalog',
      '/api/v1/security',
    ],
  },
  {
    name: 'Data sharing',
    description: 'Datasets, share requests, grants and the sharing ledger between departments',
    paths: ['/api/v1/datasets', '/api/v1/share-requests', '/api/v1/grants', '/api/v1/sharing-ledger'],
  },
  {
    name: 'Environment',
    description:
      'Environmental indicators: the air quality index (HJ 633-2012, HJ 633-2026), surface-water classes (GB 3838-2002), environmental noise (GB 3096-2008)',
    paths: ['/api/v1/environment'],
  },
  {
    name: 'Traffic',
    description:
      'Road traffic: the traffic performance index, fastest routes, parking occupancy and guidance',
    paths: ['/api/v1/traffic', '/api/v1/parking'],
  },
  {
    name: 'Energy',
    description:
      'Online energy monitoring of key energy-using units: consumption per hour, day and month, quota use, intensity, anomalies',
    paths: ['/api/v1/energy'],
  },
  { name: 'Audit', description: 'The hash-chained audit log', paths: ['/api/v1/audit'] },
  {
    name: 'IoT',
    description: 'IoT Agent: config groups, devices, southbound readings over HTTP, device statistics',
    paths: ['/iot', '/api/v1/iot'],
  },
  {
    name: 'Operations',
    description: 'Health, metrics, this document, the reference page and the dashboard',
    paths: ['/health', '/metrics', OPENAPI_PATH, DOCS_PATH],
  },
];

/** The tag of a route: the first whose paths hold its URL (a path or one below it); `/` is the dashboard. */
export function tagOf(url: string): string | undefined {
  if (url === '/') return 'Operations';
  return TAGS.find((t) => t.paths.some((p) => url === p || url.startsWith(`${p}/`)))?.name;
}

/** How a request proves who sends it (access/request-gate.ts, identity-service.ts, iot-http-routes.ts). */
const SECURITY_SCHEMES = {
  bearerToken: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      'A session token from `POST /api/v1/auth/login`, or a token of the OpenID Connect provider the hub is set up to trust: `Authorization: Bearer <token>`.',
  },
  apiKey: {
    type: 'apiKey',
    in: 'header',
    name: 'X-API-Key',
    description:
      'An API key (`POST /api/v1/api-keys`), for systems: `X-API-Key: <key>`, or `Authorization: ApiKey <key>`.',
  },
  accessToken: {
    type: 'apiKey',
    in: 'query',
    name: 'access_token',
    description:
      'The bearer token in the query, accepted only where an operation says so (an EventSource cannot set headers).',
  },
  deviceKey: {
    type: 'apiKey',
    in: 'query',
    name: 'k',
    description: "A device's config group apikey (`k`), with the device id in `i`.",
  },
  deviceSecret: {
    type: 'http',
    scheme: 'basic',
    description:
      'A device that has a secret (`POST /iot/devices/{deviceId}/password`) sends it too: `Authorization: Basic` with its device id (or `apikey/deviceId`) and secret.',
  },
} as const;

type SecurityRequirement = Record<keyof typeof SECURITY_SCHEMES, string[]>;
const ACCOUNT_CREDENTIALS: Partial<SecurityRequirement>[] = [{ bearerToken: [] }, { apiKey: [] }];

/** The credentials an operation takes, from its access rule (none where anyone may call it). */
export function securityOf(access: RouteAccess | undefined): Partial<SecurityRequirement>[] {
  switch (access?.who) {
    case undefined:
    case 'anyone':
      return [];
    case 'device':
      return [{ deviceKey: [] }, { deviceKey: [], deviceSecret: [] }];
    case 'account':
    case 'role':
      return ACCOUNT_CREDENTIALS;
    case 'data':
      return access.tokenInQuery ? [...ACCOUNT_CREDENTIALS, { accessToken: [] }] : ACCOUNT_CREDENTIALS;
  }
}

/** Who may call an operation, in words, from its access rule. */
export function describeAccess(access: RouteAccess | undefined): string {
  const audited = access && 'audit' in access && access.audit ? ` Audited as \`${access.audit}\`.` : '';
  switch (access?.who) {
    case undefined:
      return '**Access:** the route declares no access rule, so it is refused to everyone (403).';
    case 'anyone':
      return '**Access:** anyone, without credentials.';
    case 'device':
      return "**Access:** devices, with their config group's apikey (`k`) and device id (`i`), and their secret when they have one; what they write is checked against the rights of the department that owns the config group.";
    case 'account':
      return `**Access:** any signed-in account (user session, API key, external OIDC token)${
        access.enrolment ? ", and an administrator's first token, before TOTP is set up" : ''
      }.${audited}`;
    case 'role':
      return `**Access:** accounts holding the role ${access.roles.map((r) => `\`${r}\``).join(' or ')}.${audited}`;
    case 'data':
      return `**Access:** accounts whose department may ${access.action} data of the request's tenant (\`NGSILD-Tenant\`); each entity is checked again against the department's policies (types, attributes, areas, masking).${
        access.tokenInQuery ? ' The token may come as `?access_token=`.' : ''
      }${audited}`;
  }
}

/** Words for the query parameters the NGSI-LD operations define (route-params.ts). */
const QUERY_TEXT: Readonly<Record<string, string>> = {
  type: 'Entity type selection: names or IRIs, with `,` (or), `;` (and), `|` and brackets',
  id: 'Entity ids, comma-separated',
  idPattern: 'A regular expression entity ids match',
  q: 'NGSI-LD query language filter on attribute values',
  scopeQ: 'Scope query',
  attrs: 'Attribute names, comma-separated',
  pick: 'Members to keep in each entity (projection)',
  omit: 'Members to drop from each entity (projection)',
  georel: 'Geo-relationship: near;maxDistance==…, within, intersects, contains, disjoint, overlaps, equals',
  geometry: 'Geometry of the geo-query: Point, LineString, Polygon…',
  coordinates: 'Coordinates of the geo-query geometry (JSON array)',
  geoproperty: 'The GeoProperty the geo-query applies to (default location)',
  geometryProperty: 'The GeoProperty a GeoJSON answer uses as geometry',
  limit: 'Page size',
  offset: 'Page start',
  count: '`true`: the total in the NGSILD-Results-Count header',
  orderBy: 'Sort order',
  options: 'Representation: normalized, concise, keyValues, sysAttrs…',
  format: 'Representation (instead of options): normalized, concise, simplified',
  local: '`true`: this hub only (no context sources)',
  lang: 'Language of LanguageProperties',
  join: 'Linked entity retrieval: inline or flat',
  joinLevel: 'Depth of linked entity retrieval',
  datasetId: 'Dataset id of multi-attributes',
  deleteAll: '`true`: every instance of the attribute',
  observedAt: 'observedAt of the attributes written',
  details: '`true`: details rather than names',
  kind: 'Kind of @context: Hosted, Cached, ImplicitlyCreated',
  reload: '`true`: fetch a cached @context again rather than delete it',
  keep: 'Attributes to keep when purging',
  drop: 'Attributes to drop when purging',
  subscriptionId: 'A subscription of yours',
  state: 'pending or failed',
};

/** Words for path parameters, by name. */
const PATH_TEXT: Readonly<Record<string, string>> = {
  entityId: 'The entity id (a URI, percent-encoded)',
  attrId: 'The attribute name or IRI',
  instanceId: 'The attribute instance id',
  contextId: 'The @context id (as listed) or its URL, percent-encoded',
  type: 'The entity type name or IRI',
  deviceId: 'The device id',
  id: 'The id',
};

const tenantHeader = () => ({
  type: 'object',
  properties: {
    'NGSILD-Tenant': { type: 'string', description: 'The tenant (default: the default tenant)' },
  },
});

type Schema = Record<string, unknown>;

/** A JSON Schema object with one string property per name (for parameters of the document only). */
function stringProperties(names: readonly string[], text: Readonly<Record<string, string>>): Schema {
  return Object.fromEntries(
    names.map((n) => [n, { type: 'string', ...(text[n] ? { description: text[n] } : {}) }]),
  );
}

/**
 * An operation's description, from the route as registered. It is given to @fastify/swagger
 * for the document only: the route keeps its own (empty) schema, so nothing is validated.
 */
export function describeRoute(route: RouteOptions, schema: FastifySchema | undefined): FastifySchema {
  // Routes that hide themselves (the reference page's files, the dashboard's) stay hidden.
  if (schema?.hide) return schema;
  const access = route.config?.access;
  const url = route.url;
  const methods = [route.method].flat().filter((m) => m !== 'HEAD');
  const summary = methods.length === 1 ? SUMMARIES[`${methods[0]} ${url}`] : undefined;
  const out: Schema = {
    ...schema,
    tags: schema?.tags ?? [tagOf(url) ?? 'Untagged'],
    summary: schema?.summary ?? summary ?? `${methods.join(', ')} ${url}`,
    description: [schema?.description, describeAccess(access)].filter(Boolean).join('\n\n'),
    security: schema?.security ?? securityOf(access),
  };
  if (access) out['x-citypivot-access'] = access;
  if (methods.length === 1 && !schema?.operationId) out.operationId = operationIdOf(methods[0] ?? '', url);
  const pathParams = [...url.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1] ?? '');
  if (pathParams.length > 0 && !schema?.params)
    out.params = {
      type: 'object',
      properties: stringProperties(pathParams, PATH_TEXT),
      required: pathParams,
    };
  // The query parameters the operation defines (others are refused), less those not built yet.
  const query = (route.config?.params ?? []).filter((p) => !NOT_SUPPORTED.includes(p));
  if (access?.who === 'device') query.push('i', 't');
  if (query.length > 0 && !schema?.querystring) {
    out.querystring = {
      type: 'object',
      properties: stringProperties(query, {
        ...QUERY_TEXT,
        i: 'The device id',
        t: 'Time of the readings (ISO 8601); default: when they arrive',
      }),
      ...(access?.who === 'device' ? { required: ['i'] } : {}),
    };
  }
  if (access?.who === 'data' && !schema?.headers) out.headers = tenantHeader();
  return out;
}

/** `GET /ngsi-ld/v1/entities/:entityId` → `getNgsiLdV1EntitiesByEntityId` (unique per method and URL). */
export function operationIdOf(method: string, url: string): string {
  const words = url
    .split('/')
    .filter((s) => s !== '')
    .map((s) => (s.startsWith(':') ? `By-${s.slice(1)}` : s))
    .flatMap((s) => s.split(/[^A-Za-z0-9]+/))
    .filter((w) => w !== '')
    .map((w) => w[0]?.toUpperCase() + w.slice(1));
  return `${method.toLowerCase()}${words.join('')}${url.length > 1 && url.endsWith('/') ? 'Slash' : ''}`;
}

const PROBLEM_DETAILS = {
  type: 'object' as const,
  description: 'An NGSI-LD ProblemDetails (RFC 9457), as every error of the hub is answered',
  properties: {
    type: {
      type: 'string' as const,
      description: 'The error type, e.g. https://uri.etsi.org/ngsi-ld/errors/BadRequestData',
    },
    title: { type: 'string' as const },
    status: { type: 'integer' as const },
    detail: { type: 'string' as const },
    instance: { type: 'string' as const },
  },
  required: ['type', 'title', 'status'],
};

const JSON_BODY = { schema: {} };
const METHODS_WITH_BODY = new Set(['post', 'put', 'patch']);

/**
 * Completes every operation of the generated document: the answers (any success; any error as a
 * ProblemDetails) and, where a body may be sent, its media types, so that the reference page can
 * send one. Bodies are NGSI-LD's: their schemas are the standard's, not repeated here.
 */
function completeOperations(doc: Schema): Schema {
  const paths = (doc.paths ?? {}) as Record<string, Record<string, Schema>>;
  for (const [path, item] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(item)) {
      op.responses = {
        '2XX': { description: 'Success (the status and the media type depend on the operation)' },
        default: { $ref: '#/components/responses/Problem' },
      };
      if (METHODS_WITH_BODY.has(method) && op.requestBody === undefined) {
        op.requestBody = {
          required: false,
          content:
            path === '/iot/d'
              ? { 'text/plain': JSON_BODY }
              : {
                  'application/json': JSON_BODY,
                  'application/ld+json': JSON_BODY,
                  ...(method === 'patch' ? { 'application/merge-patch+json': JSON_BODY } : {}),
                },
        };
      }
    }
  }
  return doc;
}

function packageVersion(): string {
  const require = createRequire(import.meta.url);
  return (require('../../package.json') as { version: string }).version;
}

function overview(authentication: boolean): string {
  return [
    'The HTTP API of this CityPivot hub, generated from its routes as they are registered.',
    '',
    '- **NGSI-LD** (ETSI GS CIM 009 v1.8) under `/ngsi-ld/v1/`; the tenant is the `NGSILD-Tenant` header.',
    '- **Platform** under `/api/v1/`: sign-in, access administration, data sharing, audit, notifications, the live stream, export.',
    '- **IoT Agent** under `/iot/`: config groups, devices, southbound readings.',
    '- Every error is an NGSI-LD ProblemDetails (`type`, `title`, `status`, `detail`). Every `GET` also answers `HEAD`.',
    '- Bodies and answers are NGSI-LD’s; this document lists the operations, their parameters and who may call each.',
    '',
    'Each operation says who may call it, and carries the rule its route declares as `x-citypivot-access`: `anyone`, `device`, `account`, `role` (with `roles`) or `data` (with `action`).',
    authentication
      ? 'Accounts send a session token or an OIDC token as `Authorization: Bearer`, or an API key as `X-API-Key`; a read may state its purpose in the `CityPivot-Purpose` header.'
      : '**This hub runs without authentication** (`--auth none`): anyone may call every operation. The rules shown apply when authentication is on.',
  ].join('\n');
}

/**
 * Collects the routes for the document: call before any route is added (onRoute sees only the
 * routes added after it). `authentication`: whether the hub authenticates requests (off: every
 * operation is described as open, its rule kept for information).
 */
export async function registerOpenApi(
  app: FastifyInstance,
  opts: { authentication: boolean },
): Promise<void> {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'CityPivot',
        version: packageVersion(),
        description: overview(opts.authentication),
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      tags: TAGS.map(({ name, description }) => ({ name, description })),
      components: {
        securitySchemes: SECURITY_SCHEMES,
        schemas: { ProblemDetails: PROBLEM_DETAILS },
        responses: {
          Problem: {
            description: 'An error, as an NGSI-LD ProblemDetails',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/ProblemDetails' } } },
          },
        },
      },
    },
    transform: ({ schema, url, route }) => {
      const described = describeRoute(route, schema);
      // Without authentication nothing asks for credentials.
      return { url, schema: opts.authentication ? described : { ...described, security: [] } };
    },
    transformObject: (doc) =>
      completeOperations(('openapiObject' in doc ? doc.openapiObject : doc.swaggerObject) as Schema),
  });
}

/**
 * `GET /openapi.json` and the reference page under `/docs`: public, and reading nothing but the
 * routes. The page's routes (its HTML, Swagger UI's files, its own copies of the document at
 * /docs/json and /docs/yaml) are @fastify/swagger-ui's; they are hidden from the document but
 * the page itself, and get the public rule here, in a scope of their own.
 */
export function registerApiDocsRoutes(app: FastifyInstance): void {
  app.get(OPENAPI_PATH, guarded(ANYONE, []), (_req, reply) => reply.send(app.swagger()));
  void app.register(async (docs) => {
    docs.addHook('onRoute', (route) => {
      const methods = [route.method].flat();
      const read = methods.every((m) => m === 'GET' || m === 'HEAD');
      if (read && (route.url === DOCS_PATH || route.url.startsWith(`${DOCS_PATH}/`)))
        route.config = { ...route.config, access: ANYONE };
      if (route.url === DOCS_PATH) route.schema = { ...route.schema, hide: false };
    });
    // A trailing slash names the same resource, as everywhere in the hub (ignoreTrailingSlash);
    // Swagger UI's files are served by a wildcard route and a redirect that read the URL itself
    // (`swagger-ui.css/` would be no file, `index.html/` would redirect to itself). The page
    // keeps its slash: it names its files relatively from `/docs/`.
    docs.addHook('onRequest', (req, _reply, done) => {
      if (req.routeOptions.url !== DOCS_PATH) {
        const q = req.raw.url?.indexOf('?') ?? -1;
        const path = q < 0 ? (req.raw.url ?? '') : (req.raw.url ?? '').slice(0, q);
        const trimmed = path.replace(/\/+$/, '');
        if (trimmed !== path && trimmed !== '')
          req.raw.url = trimmed + (q < 0 ? '' : (req.raw.url ?? '').slice(q));
      }
      done();
    });
    await docs.register(fastifySwaggerUi, {
      routePrefix: DOCS_PATH,
      theme: { title: 'CityPivot API' },
      // No validator badge: it would send the document to an outside service.
      validatorUrl: false,
      // No top bar: its box loads other documents, and its logo is Fastify's.
      uiConfig: { layout: 'BaseLayout', deepLinking: true, docExpansion: 'list' },
    });
  });
}
