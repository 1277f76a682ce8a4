/**
 * The hub's services on a store, without a listening socket or a database server: what tests
 * drive with app.inject, and what startHub listens with.
 */
import { createEntityService } from '../broker/entity-service.js';
import { createContextResolver } from '../broker/context-resolver.js';
import type { FastifyInstance } from 'fastify';
import type { Store } from '../core/store.js';
import { loadBundledContexts } from './bundled-contexts.js';
import { buildHttpApp } from './http-app.js';
import { createStoreContextDocuments } from './store-context-documents.js';
import { createNotificationServices, type DeliveryOptions } from './notification-services.js';
import { createHistoryServices } from '../broker/history-services.js';
import { registerTemporalRoutes } from '../api/temporal-routes.js';
import { createTenantGuard } from '../api/tenant-guard.js';
import { createHubIot, iotRoutes, type IotHubOptions } from '../iot/iot-setup.js';
import { createHubAccess, type AccessOptions } from '../access/access-setup.js';
import { accessRoutes } from '../api/access-routes.js';
import { dashboardRoutes } from './dashboard-routes.js';
import { registerExportRoutes } from '../api/export-routes.js';
import { createEntityCache, type EntityCacheOptions } from '../store/entity-cache.js';
import { CHANGES_CHANNEL } from '../broker/change-stream.js';
import type { ChangeConsumer } from '../core/change-feed.js';
import type { SingletonJob } from '../core/module.js';
import { createChangeFeedServices, type ChangeFeedOptions } from './change-feed-services.js';

/** Address ranges (CIDR) outbound requests are refused or allowed besides the built-in rules. */
export interface OutboundRules {
  deny?: string[];
  allow?: string[];
}

/** Builds everything but the listening socket (tests use app.inject). */
export async function createHubServices(
  rawStore: Store,
  opts: {
    fetchContexts?: boolean;
    logger?: boolean | object;
    /** Notification delivery tuning (retries, timeouts); tests shorten it. */
    delivery?: DeliveryOptions;
    onError?: (err: unknown) => void;
    /** The IoT edge (device registry, ingestion, commands); off without a registry. */
    iot?: IotHubOptions;
    /** Authentication, department access, masking, sharing and audit; absent: no authentication (tests, --auth none). */
    access?: AccessOptions;
    /** Serve HTTPS with this PEM key and certificate. */
    https?: { key: string | Buffer; cert: string | Buffer };
    /** Instances per attribute in one temporal answer before pagination (default 1000). */
    temporalLimit?: number;
    /** Serve the dashboard from this directory (web/dist) at `/`. */
    dashboardDir?: string;
    /** The read-through cache of entity rows (Retrieve Entity); on by default, `false` turns it off. */
    entityCache?: false | Pick<EntityCacheOptions, 'maxEntries' | 'ttlMs'>;
    /** Proxies whose X-Forwarded-For counts (addresses or CIDR ranges); default none. */
    trustProxy?: string[];
    /** Outbound address rules (notifications, @context fetches). */
    outbound?: OutboundRules;
    /** The change feed: retention and polling. */
    feed?: ChangeFeedOptions;
    /** Change-feed consumers and singleton jobs run by this hub (the modules'). */
    consumers?: ChangeConsumer[];
    jobs?: SingletonJob[];
  } = {},
) {
  const access = opts.access ? await createHubAccess(opts.access) : undefined;
  const cache =
    opts.entityCache === false
      ? undefined
      : createEntityCache(rawStore, {
          ...opts.entityCache,
          channel: CHANGES_CHANNEL,
          ownOrigin: () => notifications.stream.origin,
          ...(opts.onError ? { onError: opts.onError } : {}),
        });
  // Reads made while serving a request pass the access layer (filtered, masked, decrypted), above the cache.
  const cachedStore = cache?.store ?? rawStore;
  const store = access ? access.guardStore(cachedStore) : cachedStore;
  const bundled = await loadBundledContexts();
  const coreDoc = [...bundled.entries()].find(([url]) => url.includes('ngsi-ld-core-context'))?.[1];
  const documents = createStoreContextDocuments(store);
  const resolver = createContextResolver({
    bundled,
    store: documents,
    ...(opts.outbound ? { outbound: opts.outbound } : {}),
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
  access?.attach(entities);
  // History first: its hook writes the instances in every entity write's transaction.
  const history = createHistoryServices({
    store,
    entities,
    ...(opts.onError ? { jobs: { onError: opts.onError } } : {}),
    ...(opts.temporalLimit !== undefined ? { maxInstances: opts.temporalLimit } : {}),
  });
  // The feed is read by the kernel's own identity: below the access layer, beside the cache.
  const feed = createChangeFeedServices({
    store: rawStore,
    entities,
    consumers: opts.consumers ?? [],
    jobs: opts.jobs ?? [],
    ...(opts.feed ? { feed: opts.feed } : {}),
    ...(opts.onError ? { onError: opts.onError } : {}),
  });
  const notifications = createNotificationServices({
    store,
    entities,
    metrics: [() => feed.metrics()],
    resolve: (v) => resolver.resolve(v),
    ...(opts.delivery ? { delivery: opts.delivery } : {}),
    ...(access ? { access } : {}),
    ...(opts.outbound ? { outbound: opts.outbound } : {}),
    ...(opts.onError ? { onError: opts.onError } : {}),
  });
  const iot = opts.iot
    ? createHubIot(opts.iot, {
        entities,
        bundled,
        resolve: (v) => resolver.resolve(v),
        ...(opts.onError ? { onError: opts.onError } : {}),
        // Provisioning checks an existing entity's types unfiltered: the caller may not see it.
        ...(access ? { authority: access.iotAuthority((t, id) => rawStore.getEntity(t, id)) } : {}),
      })
    : undefined;
  const tenants = createTenantGuard(store);
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
    tenants,
    ...(access ? { prepare: (a: FastifyInstance) => access.prepare(a) } : {}),
    ...(opts.https ? { https: opts.https } : {}),
    ...(opts.logger === undefined ? {} : { logger: opts.logger }),
    ...(opts.trustProxy ? { trustProxy: opts.trustProxy } : {}),
    routes: [
      notifications.routes,
      (a) =>
        registerTemporalRoutes(a, {
          temporal: history.temporal,
          contexts: { resolve: (v) => resolver.resolve(v) },
          tenants,
        }),
      (a) =>
        registerExportRoutes(a, {
          entities,
          contexts: { resolve: (v) => resolver.resolve(v) },
          tenants,
          ...(access
            ? {
                onExported: (req, e) =>
                  access.audit({
                    ...access.auditedBy(req),
                    action: 'data.export',
                    target: e.tenant,
                    outcome: e.complete ? 'success' : 'failure',
                    detail: { query: e.query, entities: e.entities },
                  }),
              }
            : {}),
        }),
      ...(iot ? [iotRoutes(iot, { deviceSecrets: access !== undefined })] : []),
      ...(access
        ? [
            accessRoutes(access, {
              contexts: { resolve: (v) => resolver.resolve(v) },
              rawStore,
              loginPerMinute:
                opts.access?.rateLimit === false ? false : (opts.access?.rateLimit?.login ?? 10),
            }),
          ]
        : []),
      ...(opts.dashboardDir ? [dashboardRoutes(opts.dashboardDir)] : []),
    ],
  });
  let stopAccessWork: (() => Promise<void>) | undefined;
  return {
    app,
    entities,
    resolver,
    notifications,
    history,
    iot,
    access,
    cache,
    feed,
    /**
     * Creates the first administrator when there is none (its one-time password logged now: the
     * hub calls this once it listens, so a start that fails creates no account), then starts the
     * background workers (notification delivery, periodic subscriptions) and the entity cache.
     */
    async start(): Promise<void> {
      await access?.bootstrap();
      await cache?.start();
      await notifications.start();
      await history.jobs.start();
      feed.start();
      if (access) stopAccessWork = access.startBackground();
    },
    /** Stops them, waiting for deliveries in flight. */
    async stop(): Promise<void> {
      await stopAccessWork?.();
      await feed.stop();
      await history.jobs.stop();
      await notifications.stop();
      await iot?.stop();
      await cache?.stop();
    },
  };
}
