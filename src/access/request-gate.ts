/**
 * The access module's gate on HTTP requests, registered on the app before any route: security
 * headers (helmet), rate limits, authentication of every request against the access rule its
 * route declares (http/route-access.ts: session token, API key or OIDC token), the tenant
 * checked against the department's policies, the per-request access carried to the handler (and
 * from there to the guarded store), and the audit of requests whose route names an audit action.
 */
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal } from '../core/access/access-model.js';
import { canWriteTenant } from '../core/access/read-filter.js';
import { HubError } from '../core/errors.js';
import { tenantOf } from '../http/ngsi-request.js';
import { matchedRoute, routeAccessOf } from '../http/route-access.js';
import { auditedBy, type AuditTrail } from './audit-trail.js';
import type { DepartmentAccess } from './department-access.js';
import type { IdentityService } from './identity-service.js';
import { runWithAccess, type RequestAccess } from './request-access.js';
import type { SecurityEvents } from './security-events.js';

/** The header in which a request states the purpose of its reads (PIPL Art.6 purpose limitation). */
export const PURPOSE_HEADER = 'citypivot-purpose';

export interface RequestGate {
  /** Registers headers, rate limits, authentication and the per-request access; call before any route is added. */
  prepare: (app: FastifyInstance) => Promise<void>;
  /** The access of a request: its principal, purpose, policies and grants (undefined: none). */
  accessOf: (req: FastifyRequest) => RequestAccess | undefined;
}

export function createRequestGate(deps: {
  identity: IdentityService;
  departments: DepartmentAccess;
  events: SecurityEvents;
  trail: AuditTrail;
  /** Requests per minute per account (or address) on the API, and login attempts per minute per address; false: off. */
  rateLimit?: { api: number; login: number } | false;
  log: (line: string) => void;
}): RequestGate {
  const { identity, events } = deps;
  const byRequest = new WeakMap<FastifyRequest, RequestAccess>();

  /**
   * The gate of every request, from the rule the matched route declares (route-access.ts): who
   * may call it, checked before the handler runs. A route without a rule is refused; a request
   * that matched no route goes on to the not-found answer.
   */
  async function authenticateRequest(req: FastifyRequest): Promise<void> {
    if (!matchedRoute(req)) return;
    const rule = routeAccessOf(req);
    if (!rule) throw undeclared(req);
    if (rule.who === 'anyone' || rule.who === 'device') return;
    const route = req.routeOptions.url ?? '';
    const auth = req.headers.authorization;
    const key = req.headers['x-api-key'];
    // EventSource cannot set headers: routes that say so take the token in the query.
    const queryToken =
      rule.who === 'data' && rule.tokenInQuery
        ? (new URLSearchParams(req.url.slice(req.url.indexOf('?') + 1)).get('access_token') ?? undefined)
        : undefined;
    let principal: Principal | undefined;
    try {
      principal = await identity.authenticate(auth, typeof key === 'string' ? key : undefined, queryToken);
    } catch (err) {
      events.emit('denied', 'anonymous', { route, reason: (err as Error).message });
      throw err;
    }
    if (!principal)
      throw new HubError('Unauthorized', 'Authentication is required: log in at POST /api/v1/auth/login');
    const purposeRaw = req.headers[PURPOSE_HEADER];
    const purpose =
      typeof purposeRaw === 'string' && purposeRaw.trim() !== '' ? purposeRaw.trim() : undefined;
    const access = deps.departments.accessFor(principal, purpose, req.ip);
    byRequest.set(req, access);
    if (principal.scope === 'totp-enrolment' && !(rule.who === 'account' && rule.enrolment))
      throw new HubError(
        'Forbidden',
        'Set up TOTP first (POST /api/v1/auth/totp), then log in again with a code',
      );
    if (rule.who === 'role' && !rule.roles.some((r) => principal.roles.includes(r))) {
      events.emit('denied', principal.name, { route, needs: rule.roles });
      throw new HubError('Forbidden', `This needs the role ${rule.roles.join(' or ')}`);
    }
    if (rule.who === 'data') await checkTenant(req, access, rule.action);
  }

  /**
   * Requests are audited per request when their route names an audit action: every outcome of
   * writes that are not entity writes (device provisioning, subscriptions, @context documents,
   * temporal instances, replays); entity writes are audited in their transaction, so only their
   * refusals are recorded here. The /api/v1 administration routes audit their own actions, and
   * their refusals are recorded here as `request.refused`.
   */
  async function auditRequest(req: FastifyRequest, status: number): Promise<void> {
    const rule = matchedRoute(req) ? routeAccessOf(req) : undefined;
    const refused = status === 401 || status === 403;
    const changes = req.method !== 'GET' && req.method !== 'HEAD';
    // A refused request that would change something is recorded, whatever its route.
    const action =
      (rule && 'audit' in rule ? rule.audit : undefined) ??
      (refused && changes && rule !== undefined && rule.who !== 'anyone' && rule.who !== 'device'
        ? 'request.refused'
        : undefined);
    if (!action) return;
    if (action === 'entity.write' && !refused) return;
    const raw = req.headers['ngsild-tenant'] ?? req.headers['fiware-service'];
    const tenant = (Array.isArray(raw) ? raw[0] : raw) ?? '';
    await deps.trail
      .audit({
        ...auditedBy(byRequest.get(req), req.ip),
        action,
        target: req.url.split('?')[0] ?? '',
        outcome: status < 400 ? 'success' : 'failure',
        detail: { method: req.method, route: req.routeOptions.url, status, tenant },
      })
      .catch((err: unknown) => deps.log(`audit failed: ${(err as Error).message}`));
  }

  /**
   * A data route acts on the request's tenant: reading needs some right on it (a read policy, a
   * grant, or a write policy), writing a write policy. Each entity is checked again later.
   */
  async function checkTenant(req: FastifyRequest, access: RequestAccess, action: 'read' | 'write') {
    const tenant = tenantOf(req);
    const policies = await access.policies();
    const ok =
      action === 'read'
        ? (await access.filter(tenant)).tenantReadable || canWriteTenant(policies, tenant)
        : canWriteTenant(policies, tenant);
    if (!ok) {
      events.emit('denied', access.principal.name, { tenant, route: req.routeOptions.url, action });
      throw new HubError(
        'Forbidden',
        `Your department may not ${action} data of ${tenant === '' ? 'the default tenant' : `tenant ${tenant}`}`,
      );
    }
  }

  return {
    accessOf: (req) => byRequest.get(req),
    async prepare(app) {
      await app.register(helmet, {
        // JSON-LD and GeoJSON responses are plain data; the policy matters for the dashboard.
        contentSecurityPolicy: {
          directives: {
            defaultSrc: ["'self'"],
            imgSrc: ["'self'", 'data:', 'blob:', 'https:'],
            styleSrc: ["'self'", "'unsafe-inline'"],
            workerSrc: ["'self'", 'blob:'],
            connectSrc: ["'self'", 'https:'],
          },
        },
        // @context documents and data are fetched from other origins by design.
        crossOriginResourcePolicy: { policy: 'cross-origin' },
        crossOriginEmbedderPolicy: false,
      });
      app.addHook('onRequest', async (req) => authenticateRequest(req));
      app.addHook('onResponse', async (req, reply) => auditRequest(req, reply.statusCode));
      if (deps.rateLimit !== false) {
        const limits = deps.rateLimit ?? { api: 1200, login: 10 };
        await app.register(rateLimit, {
          global: true,
          max: limits.api,
          timeWindow: 60_000,
          keyGenerator: (req) => byRequest.get(req)?.principal.id ?? req.ip,
          // Requests without an account (health, @context documents, the dashboard, device
          // traffic) are not counted here; sign-in has a limit of its own per address.
          allowList: (req) => {
            const rule = matchedRoute(req) ? routeAccessOf(req) : undefined;
            return (rule?.who === 'anyone' || rule?.who === 'device') && !req.routeOptions.config.rateLimit;
          },
          errorResponseBuilder: (_req, ctx) =>
            Object.assign(
              new Error(`Too many requests: at most ${ctx.max} per ${ctx.after}; try again later`),
              {
                statusCode: 429,
              },
            ),
        });
      }
      app.addHook('onRoute', (route) => {
        const handler = route.handler;
        route.handler = function wrapped(this: unknown, req: FastifyRequest, reply) {
          return runWithAccess(byRequest.get(req), () => handler.call(this as FastifyInstance, req, reply));
        };
      });
    },
  };
}

/** A route without an access rule is refused, whoever asks (route-access.ts). */
export function undeclared(req: FastifyRequest): HubError {
  return new HubError(
    'Forbidden',
    `${req.method} ${req.routeOptions.url ?? ''} declares no access rule, so nobody may call it`,
  );
}
