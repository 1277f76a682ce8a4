/**
 * The transport module (core/module.ts): the city's road traffic, routes and parking indicators
 * (issue 18). Built on the kernel only: it reads road segments, detectors and car parks as
 * entities, follows their changes on the change feed and publishes what it derives as NGSI-LD
 * entities through the write queue.
 */
import type { EntityService } from '../broker/entity-service.js';
import type { ActiveContext } from '../core/context/active-context.js';
import type { StoredEntity } from '../core/entity-model.js';
import type { HistoryStore } from '../core/history-store.js';
import type { HubModule, ModuleDefinition } from '../core/module.js';
import type { QueryResult } from '../core/store.js';
import type { EntityQuery } from '../core/query/entity-query.js';
import { trafficParts, type TrafficOptions } from './traffic-setup.js';
import { parkingOccupancyConsumer } from './parking-occupancy.js';
import { registerParkingRoutes } from './parking-routes.js';
import { RoadNetworks } from './route-networks.js';
import { registerRouteRoutes } from './route-routes.js';

/** What the server hands the transport module. */
export interface TransportKernel {
  entities: EntityService;
  history: Pick<HistoryStore, 'instances' | 'aggregate'>;
  /** An entity as stored, unfiltered (the kernel's view). */
  readEntity(tenant: string, id: string): Promise<StoredEntity | undefined>;
  /** Entities as stored, unfiltered (the kernel's view). */
  queryEntities(tenant: string, query: EntityQuery): Promise<QueryResult>;
  resolve(contextValue: unknown): Promise<ActiveContext>;
  /** The tenants (the jobs index each). */
  listTenants(): Promise<string[]>;
  /** Tuning of the traffic indicators. */
  traffic?: TrafficOptions;
}

export const transportModule: ModuleDefinition<TransportKernel> = {
  name: 'transport',
  indicators: true,
  create(k): HubModule {
    const traffic = trafficParts(k, k.traffic);
    // Routes and parking guidance (issue 18 items 4 and 5): road graphs per tenant in memory.
    const now = () => Date.now();
    const networks = new RoadNetworks({ queryEntities: (t, q) => k.queryEntities(t, q), now });
    return {
      name: 'transport',
      routes(app) {
        traffic.routes(app);
        registerRouteRoutes(app, networks, now);
        registerParkingRoutes(app, { queryEntities: (t, q) => k.queryEntities(t, q), networks, now });
      },
      consumers: [
        ...traffic.consumers,
        parkingOccupancyConsumer({
          history: k.history,
          getEntity: (t, id) => k.readEntity(t, id),
          queryEntities: (t, q) => k.queryEntities(t, q),
          create: async (t, body, ctx) => void (await k.entities.create(t, body, ctx)),
          merge: (t, id, body, ctx) => k.entities.merge(t, id, body, ctx),
          coreContext: () => k.resolve(undefined),
        }),
      ],
      jobs: [...traffic.jobs],
    };
  },
};
