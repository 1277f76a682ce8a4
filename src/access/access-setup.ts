/**
 * The access module's port (core/access/access-port.ts) and the services behind it, built once
 * per hub from its store: the data key check, tokens and identities, the catalog cache
 * (catalog-cache.ts), department policies and grants (department-access.ts), the audit trail
 * (audit-trail.ts), what reads leave behind (read-records.ts), the guard on entity writes
 * (write-guard.ts), the gate on HTTP requests (request-gate.ts) and the checks of subscription
 * filters (filter-checks.ts). access-module.ts makes the module (routes, start, stop) around it.
 */
import { flushStagedAudit } from './audit-log.js';
import type { FastifyRequest } from 'fastify';
import type { Principal } from '../core/access/access-model.js';
import type { AccessStore } from '../core/access/access-store.js';
import type { AccessPort, EntityWriteHooks } from '../core/access/access-port.js';
import type { EntityQuery, Store } from '../core/store.js';
import { createFieldCrypto } from './field-crypto.js';
import { createGuardedStore } from './guarded-store.js';
import { createIdentityService } from './identity-service.js';
import { currentAccess, runWithAccess, type RequestAccess } from './request-access.js';
import { createSecurityEvents } from './security-events.js';
import { createTokenService, type OidcSetting } from './token-service.js';
import { createSharingService } from './sharing-service.js';
import { loadCatalogCache } from './catalog-cache.js';
import { createDepartmentAccess } from './department-access.js';
import { auditedBy, createAuditTrail } from './audit-trail.js';
import { createReadRecords } from './read-records.js';
import { guardWrites } from './write-guard.js';
import { createRequestGate } from './request-gate.js';
import { checkFilters } from './filter-checks.js';

export { PURPOSE_HEADER, undeclared } from './request-gate.js';

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
  const catalog = await loadCatalogCache(store);
  const departments = createDepartmentAccess({ store, catalog, now });
  const trail = createAuditTrail({ store, now, log });
  const onRead = createReadRecords({ store, events, trail });
  const gate = createRequestGate({
    identity,
    departments,
    events,
    trail,
    ...(opts.rateLimit === undefined ? {} : { rateLimit: opts.rateLimit }),
    log,
  });

  const hub = {
    // The port (core/access/access-port.ts).

    /** The store the services use: filtered reads, encrypted sensitive values. */
    guardStore(inner: Store): Store {
      return createGuardedStore(inner, {
        ...(crypto ? { crypto } : {}),
        isSensitive: catalog.isSensitive,
        onRead,
      });
    },
    guardWrites(entities: EntityWriteHooks): void {
      guardWrites(entities, { events, now });
    },
    prepare: gate.prepare,
    /** The principal of a request (undefined when authentication is off). For subscriptions and the stream. */
    principalFor(req: FastifyRequest): Principal | undefined {
      return gate.accessOf(req)?.principal;
    },
    /** Who an audit record of this request names: account, department, purpose, address. */
    auditedBy(req: FastifyRequest) {
      return auditedBy(gate.accessOf(req), req.ip);
    },
    /** The access of the work running now (a request's, or one runAs gave), if any. */
    current: currentAccess,
    /** A new access of a principal acting without a request (policies loaded on first use). */
    accessOf: (principal: Principal): RequestAccess => departments.accessFor(principal),
    runAs: <T>(access: RequestAccess, fn: () => Promise<T>): Promise<T> => runWithAccess(access, fn),
    /** The holder of a hub API key; undefined when the key is not a valid one. */
    async principalOfApiKey(key: string): Promise<Principal | undefined> {
      try {
        return await identity.byApiKey(key);
      } catch {
        return undefined;
      }
    },
    policiesOf: departments.policies,
    departmentSubtree: (department: string) => store.departmentSubtree(department),
    /**
     * What a principal may see of a tenant, for work done later on its behalf (notifications, the
     * live stream): allows(entity) and project(entity) (attributes dropped, tagged values masked).
     * Loads the department's policies and grants now; call again for a fresh view (grants expire).
     */
    readFilter: departments.readFilter,
    checkFilters: (tenant: string, query: EntityQuery) => checkFilters(events, tenant, query),
    denied(who: string, detail: Record<string, unknown>): void {
      events.emit('denied', who, detail);
    },
    audit: trail.audit,
    auditLater: trail.auditLater,

    // The rest: what the access module's routes, the CLI's demo and the tests use.
    identity,
    tokens,
    sharing,
    events,
    store,
    reloadCatalog: catalog.reload,
    catalog: catalog.entries,
    now,
    /** The access of a request: its principal, purpose, policies and grants. */
    accessFor(req: FastifyRequest): RequestAccess | undefined {
      return gate.accessOf(req);
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
      const catalogs = setInterval(() => queue(catalog.reload, 'catalog reload'), opts.catalogMs ?? 5000);
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
     * Runs `fn` as the hub itself acting for a department (the demo provisioning its sensors):
     * every read and write is checked against that department's policies and audited under
     * `system:<what>`.
     */
    actAsDepartment<T>(department: string, what: string, fn: () => Promise<T>): Promise<T> {
      const access = departments.accessFor({
        kind: 'user',
        id: `system:${what}`,
        name: `system:${what}`,
        department,
        roles: [],
      });
      return runWithAccess(access, fn);
    },

    /** Creates the first administrator when there is none (its password logged when generated). */
    async bootstrap(): Promise<void> {
      const r = await identity.bootstrap(opts.adminPassword);
      if (r.generated)
        log(
          `Created the account "admin" with the password ${r.generated} (shown once: change it and set up TOTP)`,
        );
      else if (r.created) log('Created the account "admin" with the password from CITYPIVOT_ADMIN_PASSWORD');
      if (r.created)
        await trail.audit({ actor: 'system', action: 'user.bootstrap', target: 'admin', outcome: 'success' });
    },
  };
  return hub satisfies AccessPort;
}

export type HubAccess = Awaited<ReturnType<typeof createHubAccess>>;
