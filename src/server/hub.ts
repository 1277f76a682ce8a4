/**
 * The composition root: from one configuration, open the database (embedded or external), the
 * store, the services and the HTTP app; start them in order and stop them in reverse.
 */
import type { FastifyInstance } from 'fastify';
import type { EntityService } from '../broker/entity-service.js';
import type { Store } from '../core/store.js';
import { openDatabase } from '../store/database-setting.js';
import type { DatabaseHandle } from '../store/embedded-server.js';
import { createPostgresStore } from '../store/postgres-store.js';
import { createHubServices } from './hub-services.js';

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
