/**
 * The HTTP application: Fastify with NGSI-LD content types, ProblemDetails for every error, and
 * the route modules. Built without listening, so that tests inject requests in-process.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import Fastify from 'fastify';
import { databaseHubError } from '../store/sql-errors.js';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { HubError, toProblemDetails } from '../core/errors.js';
import type { Store } from '../core/store.js';
import type { EntityService } from '../broker/entity-service.js';
import { registerBatchRoutes } from '../api/batch-routes.js';
import { registerContextRoutes } from '../api/context-routes.js';
import type { ContextRouteDeps } from '../api/context-routes.js';
import { registerDiscoveryRoutes } from '../api/discovery-routes.js';
import { registerEntityRoutes } from '../api/entity-routes.js';
import type { ContextResolverPort } from '../http/ngsi-request.js';
import { createTenantGuard, type TenantGuard } from '../api/tenant-guard.js';
import { NOT_SUPPORTED } from '../api/route-params.js';
import { InvalidContextError } from '../core/context/context-source.js';
import { LdContextNotAvailableError } from '../broker/context-resolver.js';
import { ANYONE, guarded, matchedRoute, routeAccessOf, type RouteAccess } from '../http/route-access.js';
import { canonicalUrl, safeHeaderValue } from '../api/canonical-url.js';
import { registerApiDocsRoutes, registerOpenApi } from './openapi.js';

export interface HttpAppDeps {
  store: Store;
  entities: EntityService;
  contexts: ContextResolverPort & Pick<ContextRouteDeps, 'forget' | 'reload'>;
  coreContextDocument: unknown;
  /** Largest accepted body in bytes; default 8 MiB. */
  bodyLimit?: number;
  logger?: boolean | object;
  /** More route sets (subscriptions, temporal, IoT…), registered before the app is ready. */
  routes?: ((app: FastifyInstance) => unknown)[];
  /** Runs before any route is added: the access layer's hooks and plugins (authentication, headers, rate limits). */
  prepare?: (app: FastifyInstance) => Promise<void>;
  /** TLS: serve HTTPS with this PEM key and certificate. */
  https?: { key: string | Buffer; cert: string | Buffer };
  /** The known-tenant check, shared with the routes added through `routes`; default: one of its own. */
  tenants?: TenantGuard;
  /**
   * Proxies whose X-Forwarded-For is believed (addresses or CIDR ranges). Default none: the
   * client's address is the connection's, whatever headers it sends (rate limits, audit).
   */
  trustProxy?: string[];
}

const JSON_TYPES = [
  'application/json',
  'application/ld+json',
  'application/merge-patch+json',
  'application/geo+json',
];

/** A route as registered: method, URL pattern and the access rule it declares. */
export interface RegisteredRoute {
  method: string;
  url: string;
  access: RouteAccess | undefined;
}

const registered = new WeakMap<FastifyInstance, RegisteredRoute[]>();

/** Every route of an app built by buildHttpApp, as Fastify's onRoute saw it (HEAD routes included). */
export function registeredRoutes(app: FastifyInstance): readonly RegisteredRoute[] {
  return registered.get(app) ?? [];
}

export async function buildHttpApp(deps: HttpAppDeps): Promise<FastifyInstance> {
  const routes: RegisteredRoute[] = [];
  const app = Fastify({
    // One spelling of every path before routing, so that the route matched and the URL every
    // later step reads are the same: unreserved characters decoded, doubled slashes folded.
    rewriteUrl: (raw) => canonicalUrl(raw.url ?? '/'),
    // Errors the router meets before any route (a malformed percent-encoding): ProblemDetails too.
    frameworkErrors: (err, _req, reply) => {
      const pd = toProblemDetails(toHubError(err));
      void (reply as FastifyReply).code(pd.status).type('application/json').send(pd);
    },
    // Requests Node's HTTP parser refuses (headers too large, bad request line) get a ProblemDetails.
    clientErrorHandler: answerClientError,
    logger: deps.logger ?? false,
    bodyLimit: deps.bodyLimit ?? 8 * 1024 * 1024,
    // Entity ids are URIs: colons and encoded slashes in path segments are normal.
    routerOptions: { maxParamLength: 2048, ignoreTrailingSlash: true },
    // Only named proxies may say who the client is: anyone can send X-Forwarded-For.
    trustProxy: deps.trustProxy && deps.trustProxy.length > 0 ? deps.trustProxy : false,
    // Node answers an HTTP/1.1 request without Host with a bare 400; the hook below answers it.
    http: { requireHostHeader: false },
    ...(deps.https ? { https: { ...deps.https, requireHostHeader: false } } : {}),
  });
  answerOutsideRoutes(app);

  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    // The rule is read when asked: onRoute hooks of a plugin's own scope (the dashboard's files,
    // the reference page's) set it after this hook of the root has run.
    for (const method of methods)
      routes.push({
        method,
        url: route.url,
        get access() {
          return route.config?.access;
        },
      });
  });
  registered.set(app, routes);
  // /openapi.json: every route added from here on is described (@fastify/swagger's onRoute). The
  // access layer (`prepare`) is what authenticates requests: without it no credentials are asked.
  await registerOpenApi(app, { authentication: deps.prepare !== undefined });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(JSON_TYPES, { parseAs: 'string' }, (req, body, done) => {
    const text = body as string;
    if (text.trim() === '') {
      // Clients send Content-Type on bodiless DELETE and GET requests: no body is no error there.
      if (req.method !== 'POST' && req.method !== 'PUT' && req.method !== 'PATCH') done(null, undefined);
      else done(new HubError('InvalidRequest', 'The request body is empty'), undefined);
      return;
    }
    try {
      // A number too large for a double parses as Infinity and would be stored as null: refuse it.
      const risky = /\d[eE]\+?\d{3}|\d{309}/.test(text);
      done(null, risky ? JSON.parse(text, finiteOnly) : JSON.parse(text));
    } catch (err) {
      done(
        new HubError('InvalidRequest', `The request body is not valid JSON: ${(err as Error).message}`),
        undefined,
      );
    }
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    // Rate limits (access layer): 429 has no NGSI-LD error type, so it is answered here.
    if (err.statusCode === 429) {
      return reply.code(429).type('application/json').send({
        type: 'about:blank',
        title: 'Too many requests',
        status: 429,
        detail: err.message,
      });
    }
    const hub = toHubError(err);
    if (hub.code === 'InternalError') req.log.error({ err }, 'internal error');
    const pd = toProblemDetails(hub);
    return reply.code(pd.status).type('application/json').send(pd);
  });
  app.setNotFoundHandler((req, reply) => {
    const pd = toProblemDetails(
      new HubError('ResourceNotFound', `No resource ${req.method} ${req.url.split('?')[0]}`),
    );
    return reply.code(404).type('application/json').send(pd);
  });
  // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400 (as a ProblemDetails, before anything else).
  app.addHook('onRequest', (req, _reply, done) => {
    if (req.raw.httpVersion === '1.1' && req.headers.host === undefined)
      done(new HubError('BadRequestData', 'An HTTP/1.1 request needs a Host header'));
    else done();
  });
  // Default deny: a route that declares no access rule answers 403 to everyone, authentication or not.
  app.addHook('onRequest', (req, _reply, done) => {
    if (matchedRoute(req) && !routeAccessOf(req))
      done(
        new HubError(
          'Forbidden',
          `${req.method} ${req.routeOptions.url ?? ''} declares no access rule, so nobody may call it`,
        ),
      );
    else done();
  });
  if (deps.prepare) await deps.prepare(app);

  // NGSI-LD §6.3.20: a parameter the operation does not define is an error, not silently ignored.
  app.addHook('onRequest', (req, _reply, done) => {
    const allowed = req.routeOptions.config?.params;
    const q = req.url.indexOf('?');
    if (allowed && q >= 0) {
      for (const key of new URLSearchParams(req.url.slice(q + 1)).keys()) {
        if (!allowed.includes(key)) {
          done(new HubError('InvalidRequest', `Unknown query parameter ${JSON.stringify(key)}`));
          return;
        }
        if (NOT_SUPPORTED.includes(key)) {
          done(
            new HubError(
              'OperationNotSupported',
              `The parameter ${key} is not supported by this version of CityPivot`,
            ),
          );
          return;
        }
      }
    }
    done();
  });

  app.addHook('onSend', async (req, reply, payload) => {
    // Header values go out as ASCII: an id with characters outside it (a Location, a Link) is
    // percent-encoded here, so that no answer to a write that happened can fail while being sent.
    for (const [name, value] of Object.entries(reply.getHeaders())) {
      if (typeof value === 'string') {
        const safe = safeHeaderValue(value);
        if (safe !== value) void reply.header(name, safe);
      } else if (Array.isArray(value) && value.some((v) => safeHeaderValue(v) !== v)) {
        void reply.header(name, value.map(safeHeaderValue));
      }
    }
    const tenant = req.headers['ngsild-tenant'];
    if (typeof tenant === 'string' && tenant !== '') void reply.header('NGSILD-Tenant', tenant);
    // Media types exactly as NGSI-LD names them, without the charset Fastify appends (JSON is UTF-8 anyway).
    const ct = reply.getHeader('content-type');
    if (typeof ct === 'string' && /^application\/([a-z+-]*json)\s*;\s*charset=utf-8$/i.test(ct)) {
      void reply.header('content-type', ct.split(';')[0]);
    }
    return payload;
  });

  app.get('/health', guarded(ANYONE, []), async (_req, reply) => {
    await deps.store.ping();
    return reply.send({ status: 'ok' });
  });

  const tenants = deps.tenants ?? createTenantGuard(deps.store);
  registerEntityRoutes(app, { entities: deps.entities, contexts: deps.contexts, tenants });
  registerBatchRoutes(app, { entities: deps.entities, contexts: deps.contexts, tenants });
  registerDiscoveryRoutes(app, { store: deps.store, contexts: deps.contexts, tenants });
  registerContextRoutes(app, {
    store: deps.store,
    startedAt: new Date().toISOString(),
    coreDocument: deps.coreContextDocument,
    forget: (url) => deps.contexts.forget(url),
    reload: (url) => deps.contexts.reload(url),
  });
  for (const register of deps.routes ?? []) await register(app);
  registerApiDocsRoutes(app);
  await app.ready();
  return app;
}

/**
 * Node's HTTP parser refused the request before Fastify saw it (headers too large: 431; a URL or
 * request line it cannot parse: 400): answered with a ProblemDetails and the connection closed.
 */
/** A ProblemDetails as a whole HTTP/1.1 answer that closes the connection, for a bare socket. */
function rawProblem(status: number, reason: string, pd: object, extra = ''): string {
  const body = JSON.stringify(pd);
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`;
}

/**
 * What Node's HTTP server answers by itself, before any route, gets a ProblemDetails too: an
 * `Expect` the hub does not meet (417) and `CONNECT` (405: the hub is no proxy).
 */
function answerOutsideRoutes(app: FastifyInstance): void {
  app.server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const pd = toProblemDetails(
      new HubError('BadRequestData', `Expect: ${String(req.headers.expect)} is not supported`),
    );
    const body = JSON.stringify({ ...pd, status: 417, title: 'Expectation failed' });
    res
      .writeHead(417, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        connection: 'close',
      })
      .end(body);
  });
  app.server.on('connect', (_req: IncomingMessage, socket: Socket) => {
    const pd = toProblemDetails(
      new HubError('MethodNotAllowed', 'CONNECT is not supported: this is not a proxy'),
    );
    socket.on('error', () => undefined);
    socket.end(rawProblem(405, 'Method Not Allowed', pd, 'Allow: GET, HEAD, POST, PUT, PATCH, DELETE\r\n'));
  });
}

/** Longest wait for the answers already under way on a connection before a parse error's 400. */
const CLIENT_ERROR_GRACE_MS = 10_000;

/**
 * Runs `then` once the connection has no answer under way to a request read whole before the bad
 * bytes (pipelined, or streaming), so that the 400 never cuts into one of them; after
 * {@link CLIENT_ERROR_GRACE_MS} the connection is closed instead.
 */
function afterAnswersUnderWay(socket: Socket, then: () => void): void {
  const deadline = setTimeout(() => socket.destroy(), CLIENT_ERROR_GRACE_MS);
  deadline.unref();
  const step = () => {
    const current = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
    if (current && !current.writableFinished && !current.destroyed && current.req.complete) {
      current.once('finish', () => setImmediate(step));
      current.once('close', () => setImmediate(step));
      return;
    }
    clearTimeout(deadline);
    if (socket.destroyed) return;
    // The bad bytes were the body of the request being answered: it never ends, so its answer is
    // the 400, unless that answer has begun (then the connection can only be closed).
    if (current && !current.writableFinished && current.headersSent) socket.destroy();
    else then();
  };
  step();
}

function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  afterAnswersUnderWay(socket, () => {
    if (socket.writable) socket.end(parseErrorAnswer(err));
    else socket.destroy();
  });
}

function parseErrorAnswer(err: Error & { code?: string }): string {
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? 431 : err.code === 'HPE_URI_TOO_LONG' ? 414 : 400;
  const reason = tooLarge
    ? 'Request Header Fields Too Large'
    : status === 414
      ? 'URI Too Long'
      : 'Bad Request';
  return rawProblem(status, reason, {
    type: 'https://uri.etsi.org/ngsi-ld/errors/BadRequestData',
    title: tooLarge ? 'Request headers too large' : 'Malformed request',
    status,
    detail: tooLarge
      ? 'The request line and headers are larger than this server accepts'
      : `The request could not be parsed (${err.code ?? 'bad request'})`,
  });
}

function finiteOnly(_key: string, value: unknown): unknown {
  if (typeof value === 'number' && !Number.isFinite(value)) throw new Error('a number is out of range');
  return value;
}

/** Maps anything thrown to a HubError; unknown throwables become InternalError with no detail leaked. */
export function toHubError(err: unknown): HubError {
  if (err instanceof HubError) return err;
  // Whatever path a database error took to get here, its SQLSTATE decides (a value the database
  // refuses is the request's fault, an unavailable database a 503), as in the stores.
  const fromDatabase = databaseHubError(err);
  if (fromDatabase) return fromDatabase;
  if (err instanceof InvalidContextError) return new HubError('BadRequestData', err.message, { cause: err });
  // Pathologically nested input (thousands of brackets in q) exhausts the parser's stack.
  if (err instanceof RangeError && /call stack/i.test(err.message)) {
    return new HubError('BadRequestData', 'The request is nested too deeply', { cause: err });
  }
  if (err instanceof LdContextNotAvailableError)
    return new HubError('LdContextNotAvailable', err.message, { cause: err });
  const code = (err as { code?: unknown }).code;
  const message = (err as Error).message ?? '';
  switch (code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HubError(
        'UnsupportedMediaType',
        'Unsupported Content-Type: use application/json or application/ld+json',
        { cause: err },
      );
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HubError('PayloadTooLarge', 'The request body is too large', { cause: err });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new HubError('InvalidRequest', 'The request body is not valid JSON', { cause: err });
    default:
      break;
  }
  const status = (err as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new HubError(
      status === 413 ? 'PayloadTooLarge' : status === 415 ? 'UnsupportedMediaType' : 'BadRequestData',
      message,
      { cause: err },
    );
  }
  return new HubError('InternalError', 'An internal error occurred', { cause: err });
}
