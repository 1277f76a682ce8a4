/**
 * The environment module (core/module.ts): the city's environmental indicators. The air quality
 * index of HJ 633 (2012 and 2026) as a plain API; each air quality station's real-time AQI
 * (`environment.station-aqi`) and daily AQI (`environment.daily-aqi`) kept up to date from the
 * change feed; the district and city AQI published by the singleton job `environment.area-aqi`;
 * surface-water classes (GB 3838-2002, `environment.water-class`), environmental noise against the
 * zone limits (GB 3096-2008, `environment.noise`) and the energy use of key energy-using units
 * (`environment.energy-units`), each with its calculator.
 */
import type { EntityService } from '../broker/entity-service.js';
import type { ActiveContext } from '../core/context/active-context.js';
import type { StoredEntity } from '../core/entity-model.js';
import type { HistoryStore } from '../core/history-store.js';
import type { HubModule, ModuleDefinition } from '../core/module.js';
import type { EntityQuery } from '../core/query/entity-query.js';
import type { QueryResult } from '../core/store.js';
import { DEFAULT_AQI_STANDARD, registerEnvironmentRoutes } from './environment-routes.js';
import { standardFor, type AqiStandardChoice } from './aqi-edition.js';
import { areaAqiJob } from './area-aqi.js';
import { dailyAqiConsumer } from './daily-aqi.js';
import { stationAqiConsumer } from './station-aqi.js';
import { registerWaterRoutes } from './water-routes.js';
import { registerNoiseRoutes } from './noise-routes.js';
import { waterClassConsumer } from './water-class-consumer.js';
import { noiseConsumer } from './noise-consumer.js';
import { energyUnitsConsumer } from './energy-units.js';
import { registerEnergyRoutes } from './energy-routes.js';

/** What the server hands the environment module. */
export interface EnvironmentKernel {
  entities: EntityService;
  history: Pick<HistoryStore, 'instances' | 'aggregate'>;
  /** An entity as stored, unfiltered (the kernel's view). */
  readEntity(tenant: string, id: string): Promise<StoredEntity | undefined>;
  /** Entities as stored, unfiltered (the kernel's view). */
  queryEntities(tenant: string, query: EntityQuery): Promise<QueryResult>;
  listTenants(): Promise<string[]>;
  /** Temporal provision, Add Attributes (NGSI-LD §5.6.12): the daily AQI, one instance per day. */
  addTemporalAttributes(
    tenant: string,
    id: string,
    body: Record<string, unknown>,
    ctx: ActiveContext,
  ): Promise<void>;
  resolve(contextValue: unknown): Promise<ActiveContext>;
  /** The AQI standard of the city, or `by-date`; default the one in force (HJ 633-2026). */
  aqiStandard?: AqiStandardChoice;
  /** How often the district and city AQI are recomputed (ms; default one minute). */
  areaAqiIntervalMs?: number;
}

export const environmentModule: ModuleDefinition<EnvironmentKernel> = {
  name: 'environment',
  indicators: true,
  create(k): HubModule {
    const standard = k.aqiStandard ?? DEFAULT_AQI_STANDARD;
    const station = {
      getEntity: (t: string, id: string) => k.readEntity(t, id),
      merge: (t: string, id: string, body: Record<string, unknown>, ctx: ActiveContext) =>
        k.entities.merge(t, id, body, ctx),
      coreContext: () => k.resolve(undefined),
      standard,
    };
    return {
      name: 'environment',
      // The calculator's default when a request names no edition: by date, the one in force now.
      routes: (app) => {
        registerEnvironmentRoutes(app, standardFor(standard, Date.now()));
        registerWaterRoutes(app);
        registerNoiseRoutes(app);
        registerEnergyRoutes(app, (t, q) => k.entities.query(t, q));
      },
      consumers: [
        stationAqiConsumer({ ...station, history: k.history }),
        dailyAqiConsumer({
          ...station,
          history: k.history,
          provide: (t, id, body, ctx) => k.addTemporalAttributes(t, id, body, ctx),
        }),
        waterClassConsumer({
          getEntity: (t, id) => k.readEntity(t, id),
          merge: (t, id, body, ctx) => k.entities.merge(t, id, body, ctx),
          coreContext: () => k.resolve(undefined),
        }),
        noiseConsumer({
          history: k.history,
          getEntity: (t, id) => k.readEntity(t, id),
          merge: (t, id, body, ctx) => k.entities.merge(t, id, body, ctx),
          coreContext: () => k.resolve(undefined),
        }),
        // Key energy-using units' consumption, quota use and anomalies (energy-units.ts).
        energyUnitsConsumer({
          history: k.history,
          getEntity: (t, id) => k.readEntity(t, id),
          merge: (t, id, body, ctx) => k.entities.merge(t, id, body, ctx),
          coreContext: () => k.resolve(undefined),
        }),
      ],
      jobs: [
        areaAqiJob({
          ...station,
          listTenants: () => k.listTenants(),
          queryEntities: (t, q) => k.queryEntities(t, q),
          create: async (t, body, ctx) => {
            await k.entities.create(t, body, ctx);
          },
          ...(k.areaAqiIntervalMs !== undefined ? { intervalMs: k.areaAqiIntervalMs } : {}),
        }),
      ],
    };
  },
};
