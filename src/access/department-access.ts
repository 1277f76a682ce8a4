/**
 * What a principal's department may do: the policies of its department and of the departments
 * below it, its active grants, and from them the access of a request (loaded at most once per
 * request) or a read filter for work done later on its behalf (notifications, the live stream).
 */
import type { AccessGrant, AccessPolicy, Principal } from '../core/access/access-model.js';
import type { AccessStore } from '../core/access/access-store.js';
import { buildReadFilter, type ReadFilter } from '../core/access/read-filter.js';
import type { CatalogCache } from './catalog-cache.js';
import { createRequestAccess, type RequestAccess } from './request-access.js';

export interface DepartmentAccess {
  /** The policies that apply to a principal: its department's and those of the departments below. */
  policies: (p: Principal) => Promise<AccessPolicy[]>;
  /** The grants of the principal's department that hold now. */
  grants: (p: Principal) => Promise<AccessGrant[]>;
  /** A new access of a principal (policies and grants loaded on first use, then kept). */
  accessFor: (principal: Principal, purpose?: string, ip?: string) => RequestAccess;
  /** What a principal may see of a tenant, from its policies and grants loaded now. */
  readFilter: (principal: Principal, tenant: string, purpose?: string) => Promise<ReadFilter>;
}

export function createDepartmentAccess(deps: {
  store: AccessStore;
  catalog: CatalogCache;
  now: () => Date;
}): DepartmentAccess {
  const { store, catalog, now } = deps;
  const policies = async (p: Principal): Promise<AccessPolicy[]> => {
    const departments = p.department ? await store.departmentSubtree(p.department) : [];
    return departments.length ? store.listPolicies(departments) : [];
  };
  const grants = async (p: Principal): Promise<AccessGrant[]> =>
    p.department ? store.sharing.activeGrants([p.department], now()) : [];
  return {
    policies,
    grants,
    accessFor: (principal, purpose, ip) =>
      createRequestAccess({
        principal,
        ...(purpose !== undefined ? { purpose } : {}),
        ...(ip !== undefined ? { ip } : {}),
        loadPolicies: policies,
        loadGrants: grants,
        catalog: () => catalog.entries(),
        now,
      }),
    async readFilter(principal, tenant, purpose) {
      const [p, g] = await Promise.all([policies(principal), grants(principal)]);
      return buildReadFilter({
        tenant,
        policies: p,
        grants: g,
        catalog: catalog.entries(),
        ...(purpose !== undefined ? { purpose } : {}),
        now: now(),
      });
    },
  };
}
