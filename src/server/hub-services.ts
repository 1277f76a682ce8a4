/**
 * The hub's services on a store, without a listening socket or a database server: what tests
 * drive with app.inject, and what startHub listens with. The kernel (the entity service, the
 * context resolver, history, notifications, the entity cache, the HTTP app) and the modules
 * (core/module.ts): access first, whose port guards the store, the entity writes and every
 * request; then IoT. Modules add their routes, start after the kernel's background work and stop
 * before it, in reverse order.
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
import { iotModule, type IotHubOptions } from '../iot/iot-setup.js';
import type { AccessOptions } from '../access/access-setup.js';
import { accessModule } from '../access/access-module.js';
import { environmentModule } from '../environment/environment-module.js';
import { transportModule } from '../transport/transport-module.js';
import type { AqiStandardChoice } from '../environment/aqi-edition.js';
import type { TrafficOptions } from '../transport/traffic-setup.js';
import type { HubModule } from '../core/module.js';
import { dashboardRoutes } from './dashboard-routes.js';
import { registerExportRoutes } from '../api/export-routes.js';
import { createEntityCache, type EntityCacheOptions } from '../store/entity-cache.js';
import { CHANGES_CHANNEL } from '../broker/change-stream.js';
import type { ChangeConsumer } from '../core/change-feed.js';
import type { SingletonJob } from '../core/module.js';
import { createChangeFeedServices, type ChangeFeedOptions } from './change-feed-services.js';

/** The hub's modules, in the order they are created and started (stopped in reverse). */
export const MODULES = [accessModule, iotModule, environmentModule, transportModule] as const;

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
    /** The air quality index standard of the city (default HJ 633-2026). */
    aqiStandard?: AqiStandardChoice;
    /** How often the district and city AQI are recomputed (ms; default one minute; tests shorten it). */
    areaAqiIntervalMs?: number;
    /** Keep the indicator modules' derived entities up to date (default true); false: calculators only. */
    indicators?: boolean;
    /** Tuning of the traffic indicators (transport module). */
    traffic?: TrafficOptions;
    /** The change feed: retention and polling. */
    feed?: ChangeFeedOptions;
    /** Change-feed consumers and singleton jobs run by this hub (the modules'). */
    consumers?: ChangeConsumer[];
    jobs?: SingletonJob[];
  } = {},
) {
  // Access first: its port guards the store, the entity writes and every request.
  const accessMod = opts.access
    ? await accessModule.create({
        options: opts.access,
        rawStore,
        // Requests come once the app is built, after the resolver.
        contexts: { resolve: (v) => resolver.resolve(v) },
      })
    : undefined;
  const access = accessMod?.access;
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
  access?.guardWrites(entities);
  // History first: its hook writes the instances in every entity write's transaction.
  const history = createHistoryServices({
    store,
    entities,
    ...(opts.onError ? { jobs: { onError: opts.onError } } : {}),
    ...(opts.temporalLimit !== undefined ? { maxInstances: opts.temporalLimit } : {}),
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
  const iotMod = opts.iot
    ? await iotModule.create({
        ...opts.iot,
        entities,
        bundled,
        resolve: (v) => resolver.resolve(v),
        ...(opts.onError ? { onError: opts.onError } : {}),
        ...(access ? { access } : {}),
        // Provisioning checks an existing entity's types unfiltered: the caller may not see it.
        readEntity: (t, id) => rawStore.getEntity(t, id),
      })
    : undefined;
  const iot = iotMod?.service;
  // The hub's modules, in the order they were created and start (they stop in reverse).
  const environmentMod = await environmentModule.create({
    entities,
    history: rawStore.history,
    readEntity: (t, id) => rawStore.getEntity(t, id),
    queryEntities: (t, q) => rawStore.queryEntities(t, q),
    listTenants: () => rawStore.listTenants(),
    addTemporalAttributes: (t, id, body, ctx) => history.temporal.addAttributes(t, id, body, ctx),
    resolve: (v) => resolver.resolve(v),
    ...(opts.aqiStandard ? { aqiStandard: opts.aqiStandard } : {}),
    ...(opts.areaAqiIntervalMs !== undefined ? { areaAqiIntervalMs: opts.areaAqiIntervalMs } : {}),
  });
  const transportMod = await transportModule.create({
    entities,
    history: rawStore.history,
    readEntity: (t, id) => rawStore.getEntity(t, id),
    queryEntities: (t, q) => rawStore.queryEntities(t, q),
    resolve: (v) => resolver.resolve(v),
    listTenants: () => rawStore.listTenants(),
    ...(opts.traffic ? { traffic: opts.traffic } : {}),
  });
  const modules: HubModule[] = [accessMod, iotMod, environmentMod, transportMod].filter(
    (m) => m !== undefined,
  );
  // Without indicators, the indicator modules serve their calculators but derive nothing.
  const derived = new Set(MODULES.filter((d) => d.indicators).map((d) => d.name));
  const running = modules.filter((m) => opts.indicators !== false || !derived.has(m.name));
  // The feed is read by the kernel's own identity: below the access layer, beside the cache.
  const feed = createChangeFeedServices({
    store: rawStore,
    entities,
    consumers: [...(opts.consumers ?? []), ...running.flatMap((m) => m.consumers ?? [])],
    jobs: [...(opts.jobs ?? []), ...running.flatMap((m) => m.jobs ?? [])],
    ...(opts.feed ? { feed: opts.feed } : {}),
    ...(opts.onError ? { onError: opts.onError } : {}),
  });
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
      ...modules.map((m) => (a: FastifyInstance) => m.routes?.(a)),
      ...(opts.dashboardDir ? [dashboardRoutes(opts.dashboardDir)] : []),
    ],
  });
  return {
    app,
    entities,
    resolver,
    notifications,
    history,
    iot,
    /** The IoT module (its service is `iot`), when the hub has the IoT edge. */
    iotModule: iotMod,
    access,
    cache,
    feed,
    /**
     * Starts the background work (the entity cache, notification delivery, periodic
     * subscriptions, history jobs, the change feed's consumers and jobs), then the modules in order: access creates the first
     * administrator when there is none (its one-time password logged now: the hub calls this once
     * it listens, so a start that fails creates no account).
     */
    async start(): Promise<void> {
      await cache?.start();
      await notifications.start();
      await history.jobs.start();
      feed.start();
      for (const m of modules) await m.start?.();
    },
    /** Stops the modules in reverse order, then the background work, waiting for deliveries in flight. */
    async stop(): Promise<void> {
      for (const m of [...modules].reverse()) await m.stop?.();
      await feed.stop();
      await history.jobs.stop();
      await notifications.stop();
      await cache?.stop();
    },
  };
}
