/**
 * The composition root: from one configuration, open the database (embedded or external), the
 * store, the services and the HTTP app; start them in order and stop them in reverse.
 */
import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { createEntityService } from '../broker/entity-service.js';
import type { EntityService } from '../broker/entity-service.js';
import { createContextResolver } from '../broker/context-resolver.js';
import type { Store } from '../core/store.js';
import { openDatabase } from '../store/database-setting.js';
import type { DatabaseHandle } from '../store/embedded-server.js';
import { createPostgresStore } from '../store/postgres-store.js';
import { loadBundledContexts } from './bundled-contexts.js';
import { buildHttpApp } from './http-app.js';
import { createStoreContextDocuments } from './store-context-documents.js';

export interface HubConfig {
  port: number;
  host: string;
  /** ./data (embedded, a directory), memory:// (embedded, temporary) or postgres://… */
  db: string;
  /** Fetch unknown @context URLs from the network; default true. */
  fetchContexts?: boolean;
  logger?: boolean | object;
  log?: (line: string) => void;
}

export interface Hub {
  url: string;
  app: FastifyInstance;
  store: Store;
  entities: EntityService;
  database: DatabaseHandle;
  stop(): Promise<void>;
}

/** Builds everything but the listening socket (tests use app.inject). */
export async function createHubServices(store: Store, opts: { fetchContexts?: boolean; logger?: boolean | object } = {}) {
  const bundled = await loadBundledContexts();
  const coreDoc = [...bundled.entries()].find(([url]) => url.includes('ngsi-ld-core-context'))?.[1];
  const documents = createStoreContextDocuments(store);
  const resolver = createContextResolver({
    bundled,
    store: documents,
    ...(opts.fetchContexts === false
      ? {
          fetchDocument: (url: string) => Promise.reject(new Error(`Fetching ${url} is turned off; preload it with citypivot contexts add`)),
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

export async function startHub(config: HubConfig): Promise<Hub> {
  const log = config.log ?? (() => undefined);
  const database = await openDatabase(config.db, log);
  let store: Store | undefined;
  try {
    store = await createPostgresStore({ url: database.url });
    const { app, entities } = await createHubServices(store, {
      ...(config.fetchContexts === undefined ? {} : { fetchContexts: config.fetchContexts }),
      ...(config.logger === undefined ? {} : { logger: config.logger }),
    });
    const address = await app.listen({ port: config.port, host: config.host });
    const s = store;
    let stopping: Promise<void> | undefined;
    return {
      url: address,
      app,
      store: s,
      entities,
      database,
      stop() {
        stopping ??= (async () => {
          await app.close();
          await s.close();
          await database.stop();
        })();
        return stopping;
      },
    };
  } catch (err) {
    await store?.close().catch(() => undefined);
    await database.stop().catch(() => undefined);
    throw err;
  }
}

export async function readJsonFile(path: string): Promise<unknown> {
  return JSON.parse(await readFile(path, 'utf8')) as unknown;
}
