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
import { createNotificationServices, type DeliveryOptions } from './notification-services.js';
import { createHistoryServices } from '../broker/history-services.js';
import { registerTemporalRoutes } from '../api/temporal-routes.js';
import { createTenantGuard } from '../api/tenant-guard.js';
import { createHubIot, iotRoutes, type IotHubOptions } from '../iot/iot-setup.js';

/** Builds everything but the listening socket (tests use app.inject). */
export async function createHubServices(
  store: Store,
  opts: {
    fetchContexts?: boolean;
    logger?: boolean | object;
    /** Notification delivery tuning (retries, timeouts); tests shorten it. */
    delivery?: DeliveryOptions;
    onError?: (err: unknown) => void;
    /** The IoT edge (device registry, ingestion, commands); off without a registry. */
    iot?: IotHubOptions;
  } = {},
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
  // History first: its hook writes the instances in every entity write's transaction.
  const history = createHistoryServices({
    store,
    entities,
    ...(opts.onError ? { jobs: { onError: opts.onError } } : {}),
  });
  const notifications = createNotificationServices({
    store,
    entities,
    resolve: (v) => resolver.resolve(v),
    ...(opts.delivery ? { delivery: opts.delivery } : {}),
    ...(opts.onError ? { onError: opts.onError } : {}),
  });
  const iot = opts.iot
    ? createHubIot(opts.iot, {
        entities,
        bundled,
        resolve: (v) => resolver.resolve(v),
        ...(opts.onError ? { onError: opts.onError } : {}),
      })
    : undefined;
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
    routes: [
      notifications.routes,
      (a) =>
        registerTemporalRoutes(a, {
          temporal: history.temporal,
          contexts: { resolve: (v) => resolver.resolve(v) },
          tenants: createTenantGuard(store),
        }),
      ...(iot ? [iotRoutes(iot)] : []),
    ],
  });
  return {
    app,
    entities,
    resolver,
    notifications,
    history,
    iot,
    /** Starts the background workers (notification delivery, periodic subscriptions). */
    async start(): Promise<void> {
      await notifications.start();
      await history.jobs.start();
    },
    /** Stops them, waiting for deliveries in flight. */
    async stop(): Promise<void> {
      await history.jobs.stop();
      await notifications.stop();
      await iot?.stop();
    },
  };
}
