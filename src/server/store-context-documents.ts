/**
 * Adapts the store's jsonld_contexts table to the context resolver's document port. A URL of one
 * of our own hosted contexts (…/ngsi-ld/v1/jsonldContexts/{localId}) is found by its local id,
 * whatever host name the client used.
 */
import type { ContextDocumentStore } from '../broker/context-resolver.js';
import type { Store } from '../core/store.js';

const HOSTED_PATH = /\/ngsi-ld\/v1\/jsonldContexts\/([^/?#]+)$/;

export function createStoreContextDocuments(store: Store): ContextDocumentStore {
  return {
    async get(url) {
      let rec = await store.contexts.get(url);
      if (!rec) {
        const m = HOSTED_PATH.exec(url);
        if (m?.[1]) rec = await store.contexts.getByLocalId(decodeURIComponent(m[1]));
      }
      if (!rec) return undefined;
      void store.contexts.touch(rec.url).catch(() => undefined);
      return rec.document;
    },
    async put(url, document, origin) {
      await store.contexts.put(url, document, origin);
    },
  };
}
