/**
 * The HTTP application: Fastify with NGSI-LD content types, ProblemDetails for every error, and
 * the route modules. Built without listening, so that tests inject requests in-process.
 */
import Fastify from 'fastify';
import type { FastifyError, FastifyInstance } from 'fastify';
import { HubError, toProblemDetails } from '../core/errors.js';
import type { Store } from '../core/store.js';
import type { EntityService } from '../broker/entity-service.js';
import { registerBatchRoutes } from '../api/batch-routes.js';
import { registerContextRoutes } from '../api/context-routes.js';
import type { ContextRouteDeps } from '../api/context-routes.js';
import { registerDiscoveryRoutes } from '../api/discovery-routes.js';
import { registerEntityRoutes } from '../api/entity-routes.js';
import type { ContextResolverPort } from '../api/ngsi-request.js';
import { createTenantGuard } from '../api/tenant-guard.js';
import { InvalidContextError } from '../core/context/context-source.js';
import { LdContextNotAvailableError } from '../broker/context-resolver.js';

export interface HttpAppDeps {
  store: Store;
  entities: EntityService;
  contexts: ContextResolverPort & Pick<ContextRouteDeps, 'forget' | 'reload'>;
  coreContextDocument: unknown;
  /** Largest accepted body in bytes; default 8 MiB. */
  bodyLimit?: number;
  logger?: boolean | object;
}

const JSON_TYPES = ['application/json', 'application/ld+json', 'application/merge-patch+json', 'application/geo+json'];

export async function buildHttpApp(deps: HttpAppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? false,
    bodyLimit: deps.bodyLimit ?? 8 * 1024 * 1024,
    // Entity ids are URIs: colons and encoded slashes in path segments are normal.
    routerOptions: { maxParamLength: 2048, ignoreTrailingSlash: true },
    trustProxy: true,
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(JSON_TYPES, { parseAs: 'string' }, (_req, body, done) => {
    const text = body as string;
    if (text.trim() === '') {
      done(new HubError('InvalidRequest', 'The request body is empty'), undefined);
      return;
    }
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(new HubError('InvalidRequest', `The request body is not valid JSON: ${(err as Error).message}`), undefined);
    }
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const hub = toHubError(err);
    if (hub.code === 'InternalError') req.log.error({ err }, 'internal error');
    const pd = toProblemDetails(hub);
    return reply.code(pd.status).type('application/json').send(pd);
  });
  app.setNotFoundHandler((req, reply) => {
    const pd = toProblemDetails(new HubError('ResourceNotFound', `No resource ${req.method} ${req.url.split('?')[0]}`));
    return reply.code(404).type('application/json').send(pd);
  });

  app.addHook('onSend', async (req, reply) => {
    const tenant = req.headers['ngsild-tenant'];
    if (typeof tenant === 'string' && tenant !== '') void reply.header('NGSILD-Tenant', tenant);
  });

  app.get('/health', async (_req, reply) => {
    await deps.store.ping();
    return reply.send({ status: 'ok' });
  });

  const tenants = createTenantGuard(deps.store);
  registerEntityRoutes(app, { entities: deps.entities, contexts: deps.contexts, tenants });
  registerBatchRoutes(app, { entities: deps.entities, contexts: deps.contexts, tenants });
  registerDiscoveryRoutes(app, { store: deps.store, contexts: deps.contexts, tenants });
  registerContextRoutes(app, {
    store: deps.store,
    coreDocument: deps.coreContextDocument,
    forget: (url) => deps.contexts.forget(url),
    reload: (url) => deps.contexts.reload(url),
  });
  await app.ready();
  return app;
}

/** Maps anything thrown to a HubError; unknown throwables become InternalError with no detail leaked. */
export function toHubError(err: unknown): HubError {
  if (err instanceof HubError) return err;
  if (err instanceof InvalidContextError) return new HubError('BadRequestData', err.message, { cause: err });
  if (err instanceof LdContextNotAvailableError) return new HubError('LdContextNotAvailable', err.message, { cause: err });
  const code = (err as { code?: unknown }).code;
  const message = (err as Error).message ?? '';
  switch (code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HubError('UnsupportedMediaType', 'Unsupported Content-Type: use application/json or application/ld+json', { cause: err });
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
    return new HubError(status === 413 ? 'PayloadTooLarge' : status === 415 ? 'UnsupportedMediaType' : 'BadRequestData', message, { cause: err });
  }
  return new HubError('InternalError', 'An internal error occurred', { cause: err });
}
