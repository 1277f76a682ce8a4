/**
 * What the access layer knows about the request being served: the principal, the purpose it
 * states, its policies and grants (loaded once per request). Carried in an AsyncLocalStorage so
 * that the guarded store applies it on every read path without each route passing it along;
 * background work (notifications, history jobs, device ingestion) runs outside any request and
 * is not filtered.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { AccessGrant, AccessPolicy, CatalogEntry, Principal } from '../core/access/access-model.js';
import type { RequestAccess } from '../core/access/access-port.js';
import { buildReadFilter } from '../core/access/read-filter.js';

export type { RequestAccess };

const storage = new AsyncLocalStorage<RequestAccess>();

/** The access of the request in progress, if any. */
export function currentAccess(): RequestAccess | undefined {
  return storage.getStore();
}

export function runWithAccess<T>(access: RequestAccess | undefined, fn: () => T): T {
  return access ? storage.run(access, fn) : fn();
}

/** Builds the per-request access; policies and grants are loaded at most once. */
export function createRequestAccess(deps: {
  principal: Principal;
  purpose?: string;
  ip?: string;
  loadPolicies: (p: Principal) => Promise<AccessPolicy[]>;
  loadGrants: (p: Principal) => Promise<AccessGrant[]>;
  catalog: () => CatalogEntry[];
  now?: () => Date;
}): RequestAccess {
  let policies: Promise<AccessPolicy[]> | undefined;
  let grants: Promise<AccessGrant[]> | undefined;
  const access: RequestAccess = {
    principal: deps.principal,
    ...(deps.purpose !== undefined ? { purpose: deps.purpose } : {}),
    ...(deps.ip !== undefined ? { ip: deps.ip } : {}),
    policies: () => (policies ??= deps.loadPolicies(deps.principal)),
    grants: () => (grants ??= deps.loadGrants(deps.principal)),
    async filter(tenant) {
      const [p, g] = await Promise.all([access.policies(), access.grants()]);
      return buildReadFilter({
        tenant,
        policies: p,
        grants: g,
        catalog: deps.catalog(),
        ...(deps.purpose !== undefined ? { purpose: deps.purpose } : {}),
        now: (deps.now ?? (() => new Date()))(),
      });
    },
  };
  return access;
}
