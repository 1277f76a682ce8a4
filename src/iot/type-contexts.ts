/**
 * The @context a device's entity is written with: the Smart Data Models context of its domain
 * when the entity type is a Smart Data Models type (so that `AirQualityObserved` and `NO2` expand
 * to the SDM IRIs the API's clients use), the NGSI-LD core context otherwise.
 */
import type { ActiveContext } from '../core/context/active-context.js';
import { isPlainObject } from '../core/validation.js';

const SDM_PREFIX = 'https://smart-data-models.github.io/';

export interface TypeContexts {
  /** The context for an entity type's mapping names. */
  contextFor(entityType: string): Promise<ActiveContext>;
  /** The SDM context URL that defines the type, if any. */
  sdmContextUrl(entityType: string): string | undefined;
}

/**
 * Builds the lookup from the bundled context documents (URL → document): a type is an SDM type
 * when one of the `smart-data-models.github.io` contexts defines it as a term. `resolve` compiles
 * a context value (the hub's context resolver); `undefined` gives the core context.
 */
export function createTypeContexts(
  bundled: ReadonlyMap<string, unknown>,
  resolve: (contextValue: unknown) => Promise<ActiveContext>,
): TypeContexts {
  const byType = new Map<string, string>();
  for (const [url, doc] of bundled) {
    if (!url.startsWith(SDM_PREFIX) || !isPlainObject(doc)) continue;
    const ctx = doc['@context'];
    if (!isPlainObject(ctx)) continue;
    for (const term of Object.keys(ctx)) {
      // Entity types are capitalised terms; attribute names are not.
      if (/^[A-Z]/.test(term) && !byType.has(term)) byType.set(term, url);
    }
  }
  return {
    sdmContextUrl: (type) => byType.get(type),
    contextFor: (type) => resolve(byType.get(type)),
  };
}
