/**
 * The access layer of the hub, built once in createHubServices: authentication of every request
 * (hub JWT, external OIDC JWT, API key), the per-request access carried to the guarded store,
 * write checks inside each entity write's transaction, security headers, rate limits, and the
 * identity, sharing and audit routes. Also the small API the subscription and live-stream code
 * calls: principalFor(request) and readFilter(principal, tenant).
 */
import { flushStagedAudit } from './audit-log.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { EntityChange, EntityService } from '../broker/entity-service.js';
import type { EntityQuery, Store } from '../core/store.js';
import { HubError } from '../core/errors.js';
import { tenantOf } from '../http/ngsi-request.js';
import { matchedRoute, routeAccessOf } from '../http/route-access.js';
import type { AccessGrant, AccessPolicy, CatalogEntry, Principal } from '../core/access/access-model.js';
import {
  buildReadFilter,
  canWrite,
  canWriteTenant,
  changedAttributes,
  typesOfChange,
  type ReadFilter,
} from '../core/access/read-filter.js';
import type { AuditEvent } from '../core/access/audit-chain.js';
import type { AccessStore } from '../core/access/access-store.js';
import type { AccessPort } from '../core/access/access-port.js';
import { createFieldCrypto } from './field-crypto.js';
import { createGuardedStore, filterScope, namedTypes } from './guarded-store.js';
import { createIdentityService } from './identity-service.js';
import { createRequestAccess, currentAccess, runWithAccess, type RequestAccess } from './request-access.js';
import { createSecurityEvents } from './security-events.js';
import { createTokenService, type OidcSetting } from './token-service.js';
import { createSharingService } from './sharing-service.js';

export interface AccessOptions {
  store: AccessStore;
  /** AES-256 key for sensitive personal values at rest; without one they are stored in clear. */
  dataKey?: Buffer;
  oidc?: OidcSetting;
  /** Require TOTP for administrator roles; default true. */
  adminTotp?: boolean;
  /** Password of the `admin` account created on first start; generated and logged when absent. */
  adminPassword?: string;
  /** Requests per minute per account (or address) on the API, and login attempts per minute per address; false: off. */
  rateLimit?: { api: number; login: number } | false;
  log?: (line: string) => void;
  now?: () => Date;
}

/** The header in which a request states the purpose of its reads (PIPL Art.6 purpose limitation). */
export const PURPOSE_HEADER = 'citypivot-purpose';

export async function createHubAccess(opts: AccessOptions) {
  const { store } = opts;
  const now = opts.now ?? (() => new Date());
  const log = opts.log ?? (() => undefined);
  const crypto = opts.dataKey ? createFieldCrypto(opts.dataKey) : undefined;
  if (crypto) {
    const held = await store.initSetting('data-key-fingerprint', crypto.fingerprint);
    if (held !== crypto.fingerprint)
      throw new Error(
        'The data encryption key does not match the one this database was written with (CITYPIVOT_DATA_KEY or the key file)',
      );
  }
  const tokens = await createTokenService({ store, ...(opts.oidc ? { oidc: opts.oidc } : {}) });
  const identity = createIdentityService({
    store,
    tokens,
    ...(opts.adminTotp === undefined ? {} : { adminTotp: opts.adminTotp }),
    now,
  });
  const events = createSecurityEvents({ now });
  const sharing = createSharingService({ store, now });

  let catalog: CatalogEntry[] = await store.listCatalog();
  const reloadCatalog = async () => {
    catalog = await store.listCatalog();
  };
  const byRequest = new WeakMap<FastifyRequest, RequestAccess>();

  const audit = async (e: AuditEvent) => {
    await store.audit.append(e, now());
  };

  async function departmentsOf(p: Principal): Promise<string[]> {
    return p.department ? store.departmentSubtree(p.department) : [];
  }
  const loadPolicies = async (p: Principal): Promise<AccessPolicy[]> => {
    const deps = await departmentsOf(p);
    return deps.length ? store.listPolicies(deps) : [];
  };
  const loadGrants = async (p: Principal): Promise<AccessGrant[]> =>
    p.department ? store.sharing.activeGrants([p.department], now()) : [];

  function accessFor(principal: Principal, purpose?: string, ip?: string): RequestAccess {
    return createRequestAccess({
      principal,
      ...(purpose !== undefined ? { purpose } : {}),
      ...(ip !== undefined ? { ip } : {}),
      loadPolicies,
      loadGrants,
      catalog: () => catalog,
      now,
    });
  }

  const isSensitive = (tenant: string, types: string[], attr: string) =>
    catalog.some(
      (c) =>
        c.sensitivity === 'sensitive-personal' &&
        c.attr === attr &&
        (c.tenant === '*' || c.tenant === tenant) &&
        types.includes(c.entityType),
    );

  async function onRead(a: RequestAccess, tenant: string, f: ReadFilter, entities: { types: string[] }[]) {
    events.countRead(a.principal.name, entities.length);
    if (f.report.tagged.size > 0) {
      await audit({
        ...auditedBy(a),
        action: 'read.personal',
        target: tenant,
        outcome: 'success',
        detail: {
          attrs: [...f.report.tagged],
          entities: entities.length,
          unmasked: f.report.unmasked,
          types: [...new Set(entities.flatMap((e) => e.types))],
        },
      });
    }
    if (f.report.grantsUsed.size > 0 && a.principal.department) {
      const grants = (await a.grants()).filter((g) => f.report.grantsUsed.has(g.id));
      for (const g of grants) {
        await store.sharing.appendLedger({
          kind: 'read',
          ...(g.datasetId ? { datasetId: g.datasetId } : {}),
          ...(g.requestId ? { requestId: g.requestId } : {}),
          grantId: g.id,
          tenant,
          entityType: g.entityType,
          recipientDepartment: a.principal.department,
          purpose: a.purpose ?? g.purpose,
          scale: entities.filter((e) => e.types.includes(g.entityType)).length,
          actor: a.principal.name,
        });
      }
    }
  }

  /** A change inside its write's transaction: refused (403) unless the department may write it. */
  async function checkWrite(c: EntityChange): Promise<void> {
    const a = currentAccess();
    if (!a) return;
    const types = typesOfChange(c.before, c.after);
    const attrs = changedAttributes(c.before, c.after);
    const entity = {
      types,
      ...(c.before ? { before: c.before } : {}),
      ...(c.after ? { after: c.after } : {}),
    };
    if (!canWrite(await a.policies(), c.tenant, entity, attrs)) {
      events.emit('denied', a.principal.name, { tenant: c.tenant, entity: c.id, action: 'write' });
      throw new HubError(
        'Forbidden',
        `Your department may not ${c.kind === 'deleted' ? 'delete' : 'write'} entity ${c.id}${
          c.before && c.after && types.length > c.before.types.length ? ' as a new type' : ''
        }`,
      );
    }
  }

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
    const access = accessFor(principal, purpose, req.ip);
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
    await audit({
      ...auditedBy(byRequest.get(req), req.ip),
      action,
      target: req.url.split('?')[0] ?? '',
      outcome: status < 400 ? 'success' : 'failure',
      detail: { method: req.method, route: req.routeOptions.url, status, tenant },
    }).catch((err: unknown) => log(`audit failed: ${(err as Error).message}`));
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

  const hub = {
    /** The access of the work running now (a request's, or one runAs gave), if any. */
    current: currentAccess,
    /** A new access of a principal acting without a request (policies loaded on first use). */
    accessOf: (principal: Principal): RequestAccess => accessFor(principal),
    runAs: <T>(access: RequestAccess, fn: () => Promise<T>): Promise<T> => runWithAccess(access, fn),
    /** The holder of a hub API key; undefined when the key is not a valid one. */
    async principalOfApiKey(key: string): Promise<Principal | undefined> {
      try {
        return await identity.byApiKey(key);
      } catch {
        return undefined;
      }
    },
    policiesOf: loadPolicies,
    departmentSubtree: (department: string) => store.departmentSubtree(department),
    denied(who: string, detail: Record<string, unknown>): void {
      events.emit('denied', who, detail);
    },
    auditLater(e: AuditEvent): void {
      audit(e).catch((err: unknown) => log(`audit failed: ${(err as Error).message}`));
    },
    identity,
    tokens,
    sharing,
    events,
    store,
    audit,
    reloadCatalog,
    catalog: () => catalog,
    now,

    /** The store the services use: filtered reads, encrypted sensitive values. */
    guardStore(inner: Store): Store {
      return createGuardedStore(inner, { ...(crypto ? { crypto } : {}), isSensitive, onRead });
    },

    /**
     * Write checks on each writer's own changes, in its request's context, and its audit record
     * staged in the write's transaction (chained within a second by the chainer, or before the log
     * is read); when writes share a transaction, a refused one is refused alone.
     */
    attach(entities: EntityService): void {
      entities.onAuthorize(checkWrite);
      entities.onOwnChanges(async (tx, changes) => {
        const a = currentAccess();
        // Device traffic is not audited one write at a time (a city sends millions a day): it is
        // in the entities' history.
        if (a && a.principal.kind !== 'devices') await tx.auditTrail.stage(writeAudit(a, changes), now());
      });
    },

    /** Chains the staged write records now (before the log is read or verified). */
    flushAudit: () => flushStagedAudit(store),

    /**
     * Background work until the returned stop is called: staged write records are chained every
     * `auditMs` (default 1000), and the data catalog is read again every `catalogMs` (default
     * 5000) so that a change made through another hub instance takes effect here too.
     */
    startBackground(opts: { auditMs?: number; catalogMs?: number } = {}): () => Promise<void> {
      let running: Promise<unknown> = Promise.resolve();
      const queue = (work: () => Promise<void>, what: string) => {
        running = running.then(() =>
          work().catch((err: unknown) => log(`${what} failed: ${(err as Error).message}`)),
        );
      };
      const audits = setInterval(
        () => queue(() => flushStagedAudit(store), 'audit chaining'),
        opts.auditMs ?? 1000,
      );
      const catalogs = setInterval(() => queue(reloadCatalog, 'catalog reload'), opts.catalogMs ?? 5000);
      audits.unref();
      catalogs.unref();
      return async () => {
        clearInterval(audits);
        clearInterval(catalogs);
        await running;
        await flushStagedAudit(store).catch(() => undefined);
      };
    },

    /**
     * Registers security headers, rate limits, authentication and the per-request access on the
     * app; call before any route is added (the handlers are wrapped as they are registered).
     */
    async prepare(app: FastifyInstance): Promise<void> {
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
      if (opts.rateLimit !== false) {
        const limits = opts.rateLimit ?? { api: 1200, login: 10 };
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

    /** The principal of a request (undefined when authentication is off). For subscriptions and the stream. */
    principalFor(req: FastifyRequest): Principal | undefined {
      return byRequest.get(req)?.principal;
    },
    /** Who an audit record of this request names: account, department, purpose, address. */
    auditedBy(req: FastifyRequest) {
      return auditedBy(byRequest.get(req), req.ip);
    },
    /** The access of a request: its principal, purpose, policies and grants. */
    accessFor(req: FastifyRequest): RequestAccess | undefined {
      return byRequest.get(req);
    },
    /**
     * What a principal may see of a tenant, for work done later on its behalf (notifications, the
     * live stream): allows(entity) and project(entity) (attributes dropped, tagged values masked).
     * Loads the department's policies and grants now; call again for a fresh view (grants expire).
     */
    async readFilter(principal: Principal, tenant: string, purpose?: string): Promise<ReadFilter> {
      const [policies, grants] = await Promise.all([loadPolicies(principal), loadGrants(principal)]);
      return buildReadFilter({
        tenant,
        policies,
        grants,
        catalog,
        ...(purpose !== undefined ? { purpose } : {}),
        now: now(),
      });
    },

    /**
     * Refuses (403) a subscription's filters (q, geoQ) on attributes the requesting department
     * may not read or sees masked: they run later on unmasked values, where they would tell
     * which entities hold a value. No request access (authentication off): nothing to check.
     */
    async checkFilters(tenant: string, query: EntityQuery): Promise<void> {
      const a = currentAccess();
      if (!a) return;
      const f = await a.filter(tenant);
      if (!f.tenantReadable)
        throw new HubError(
          'Forbidden',
          `Your department may not read data of tenant ${JSON.stringify(tenant)}`,
        );
      // Watching a type the department may not read would watch nothing now and everything the
      // day a policy were widened without anyone looking at the subscriptions: refused.
      const hidden = namedTypes(query).filter((t) => f.readableTypes !== '*' && !f.readableTypes.includes(t));
      if (hidden.length > 0) {
        events.emit('denied', a.principal.name, { tenant, types: hidden, action: 'subscribe' });
        throw new HubError('Forbidden', `Your department may not read entities of type ${hidden.join(', ')}`);
      }
      filterScope(f, query, true);
    },

    /**
     * Runs `fn` as the hub itself acting for a department (the demo provisioning its sensors):
     * every read and write is checked against that department's policies and audited under
     * `system:<what>`.
     */
    actAsDepartment<T>(department: string, what: string, fn: () => Promise<T>): Promise<T> {
      const access = accessFor({
        kind: 'user',
        id: `system:${what}`,
        name: `system:${what}`,
        department,
        roles: [],
      });
      return runWithAccess(access, fn);
    },

    async bootstrap(): Promise<void> {
      const r = await identity.bootstrap(opts.adminPassword);
      if (r.generated)
        log(
          `Created the account "admin" with the password ${r.generated} (shown once: change it and set up TOTP)`,
        );
      else if (r.created) log('Created the account "admin" with the password from CITYPIVOT_ADMIN_PASSWORD');
      if (r.created)
        await audit({ actor: 'system', action: 'user.bootstrap', target: 'admin', outcome: 'success' });
    },
  };
  return hub satisfies AccessPort;
}

export type HubAccess = Awaited<ReturnType<typeof createHubAccess>>;

/** A route without an access rule is refused, whoever asks (route-access.ts). */
export function undeclared(req: FastifyRequest): HubError {
  return new HubError(
    'Forbidden',
    `${req.method} ${req.routeOptions.url ?? ''} declares no access rule, so nobody may call it`,
  );
}

/** Who an audit record names: the account (anonymous without one), its department, the purpose stated, the address. */
function auditedBy(a: RequestAccess | undefined, ip?: string) {
  const address = a?.ip ?? ip;
  return {
    actor: a?.principal.name ?? 'anonymous',
    ...(a?.principal.department ? { department: a.principal.department } : {}),
    ...(a?.purpose ? { purpose: a.purpose } : {}),
    ...(address ? { ip: address } : {}),
  };
}

/** One audit record per tenant one write touched: who, and which entities were created, changed, deleted. */
function writeAudit(a: RequestAccess, changes: EntityChange[]): AuditEvent[] {
  const byTenant = new Map<string, Record<string, string[]>>();
  for (const c of changes) {
    const t = byTenant.get(c.tenant) ?? {};
    (t[c.kind] ??= []).push(c.id);
    byTenant.set(c.tenant, t);
  }
  return [...byTenant].map(([tenant, ids]) => ({
    ...auditedBy(a),
    action: 'entity.write',
    target: tenant,
    outcome: 'success',
    detail: {
      ...ids,
      attrs: [
        ...new Set(
          changes.filter((c) => c.tenant === tenant).flatMap((c) => changedAttributes(c.before, c.after)),
        ),
      ],
    },
  }));
}
