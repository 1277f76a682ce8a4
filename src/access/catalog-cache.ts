/**
 * The data catalog held in memory: which attributes of which entity types are personal or
 * sensitive personal data, and how they are masked. Read at start, again after a change made
 * through this instance, and every few seconds by the background work (a change made through
 * another hub instance).
 */
import type { CatalogEntry } from '../core/access/access-model.js';
import type { AccessStore } from '../core/access/access-store.js';

export interface CatalogCache {
  /** The catalog as last read. */
  entries: () => CatalogEntry[];
  /** Reads it again. */
  reload: () => Promise<void>;
  /** Is this attribute of an entity of these types sensitive personal data (encrypted at rest)? */
  isSensitive: (tenant: string, types: string[], attr: string) => boolean;
}

export async function loadCatalogCache(store: AccessStore): Promise<CatalogCache> {
  let catalog: CatalogEntry[] = await store.listCatalog();
  return {
    entries: () => catalog,
    async reload() {
      catalog = await store.listCatalog();
    },
    isSensitive: (tenant, types, attr) =>
      catalog.some(
        (c) =>
          c.sensitivity === 'sensitive-personal' &&
          c.attr === attr &&
          (c.tenant === '*' || c.tenant === tenant) &&
          types.includes(c.entityType),
      ),
  };
}
