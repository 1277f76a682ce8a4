/**
 * The hub's services on a store, without a listening socket or a database server: what tests
 * drive with app.inject, and what startHub listens with.
 */
import { createEntityService } from '../broker/entity-service.js';
import { createContextResolver } from '../broker/context-resolver.js';
import type { Store } from '../core/store.js';
import { loadBundledContexts } from './bundled-contexts.js';
import { buildHttpApp } from './http-app.js';
import { createStoreContextDocuments } from './store-context-documents.js';

/** Builds everything but the listening socket (tests use app.inject). */
export async function createHubServices(
  store: Store,
  opts: { fetchContexts?: boolean; logger?: boolean | object } = {},
) {
  const bundled = await loadBundledContexts();
  const coreDoc = [...bundled.entries()].find(([url]) => url.includes('ngsi-ld-core-context'))?.[1];
  const documents = createStoreContextDocuments(store);
  const resolver = createContextResolver({
    bundled,
    store: documents,
    ...(opts.fetchContexts === false
      ? {
          fetchDocument: (url: string) =>
            Promise.reject(
              new Error(`Fetching ${url} is turned off; preload it with citypivot contexts add`),
            ),
        }
      : {}),
  });
  const entities = createEntityService({ store });
  const app = await buildHttpApp({
    store,
    entities,
    contexts: {
      resolve: (v) => resolver.resolve(v),
      forget: (url) => resolver.forget(url),
      reload: async (url) => {
        await resolver.reload(url);
      },
    },
    coreContextDocument: coreDoc,
    ...(opts.logger === undefined ? {} : { logger: opts.logger }),
  });
  return { app, entities, resolver };
}
