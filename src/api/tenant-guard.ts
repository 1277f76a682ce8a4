/**
 * Tenants (NGSI-LD §4.14): created on first write, fully isolated; reading a tenant that was never
 * written answers NonexistentTenant. The known set is cached; a miss asks the store.
 */
import { HubError } from '../core/errors.js';
import type { Store } from '../core/store.js';

export interface TenantGuard {
  mustExistForRead(tenant: string): Promise<void>;
}

export function createTenantGuard(store: Store): TenantGuard {
  const known = new Set<string>(['']);
  return {
    async mustExistForRead(tenant) {
      if (known.has(tenant)) return;
      if (await store.tenantExists(tenant)) {
        known.add(tenant);
        return;
      }
      throw new HubError('NonexistentTenant', `Tenant ${tenant} does not exist`);
    },
  };
}
