/**
 * The traffic part of the transport module, assembled on its kernel: the TPI calculator route,
 * the consumer that keeps road segments' traffic (`transport.segment-tpi`), and the jobs that
 * learn free-flow speeds (`transport.free-flow`) and index districts and the city
 * (`transport.area-tpi`).
 */
import type { FastifyInstance } from 'fastify';
import type { ChangeConsumer } from '../core/change-feed.js';
import type { SingletonJob } from '../core/module.js';
import type { EntityService } from '../broker/entity-service.js';
import type { ActiveContext } from '../core/context/active-context.js';
import type { StoredEntity } from '../core/entity-model.js';
import type { HistoryStore } from '../core/history-store.js';
import type { EntityQuery } from '../core/query/entity-query.js';
import type { QueryResult } from '../core/store.js';
import { areaTpiJob } from './traffic-areas.js';
import { freeFlowJob } from './traffic-free-flow.js';
import { registerTrafficRoutes } from './traffic-routes.js';
import { segmentTpiConsumer } from './traffic-segments.js';

/** Tuning of the traffic indicators (tests shorten the periods). */
export interface TrafficOptions {
  /** Reading time between two writes of a segment whose level is unchanged (ms; default 60 s). */
  segmentIntervalMs?: number;
  /** Period of the district and city index (ms; default 60 s). */
  areaIntervalMs?: number;
  /** Period of the free-flow learning (ms; default 1 h). */
  freeFlowIntervalMs?: number;
  /** Hours of readings before a segment's free flow is learned (default 24). */
  freeFlowMinHours?: number;
}

/** What the traffic part needs of the transport module's kernel (TransportKernel has it). */
export interface TrafficKernel {
  entities: Pick<EntityService, 'merge' | 'create'>;
  history: Pick<HistoryStore, 'aggregate'>;
  readEntity(tenant: string, id: string): Promise<StoredEntity | undefined>;
  queryEntities(tenant: string, query: EntityQuery): Promise<QueryResult>;
  resolve(contextValue: unknown): Promise<ActiveContext>;
  listTenants(): Promise<string[]>;
}

export function trafficParts(
  k: TrafficKernel,
  o: TrafficOptions = {},
): { routes(app: FastifyInstance): void; consumers: ChangeConsumer[]; jobs: SingletonJob[] } {
  const coreContext = () => k.resolve(undefined);
  const merge = (t: string, id: string, body: Record<string, unknown>, ctx: ActiveContext) =>
    k.entities.merge(t, id, body, ctx);
  return {
    routes: (app) => registerTrafficRoutes(app),
    consumers: [
      segmentTpiConsumer({
        getEntity: (t, id) => k.readEntity(t, id),
        queryEntities: (t, q) => k.queryEntities(t, q),
        merge,
        coreContext,
        ...(o.segmentIntervalMs === undefined ? {} : { minIntervalMs: o.segmentIntervalMs }),
      }),
    ],
    jobs: [
      freeFlowJob({
        history: k.history,
        listTenants: () => k.listTenants(),
        queryEntities: (t, q) => k.queryEntities(t, q),
        merge,
        coreContext,
        ...(o.freeFlowIntervalMs === undefined ? {} : { intervalMs: o.freeFlowIntervalMs }),
        ...(o.freeFlowMinHours === undefined ? {} : { minHours: o.freeFlowMinHours }),
      }),
      areaTpiJob({
        listTenants: () => k.listTenants(),
        getEntity: (t, id) => k.readEntity(t, id),
        queryEntities: (t, q) => k.queryEntities(t, q),
        create: (t, body, ctx) => k.entities.create(t, body, ctx),
        merge,
        coreContext,
        ...(o.areaIntervalMs === undefined ? {} : { intervalMs: o.areaIntervalMs }),
      }),
    ],
  };
}
