/**
 * The environment module (core/module.ts): the city's environmental indicators. The air quality
 * index of HJ 633 (2012 and 2026) as a plain API, and each air quality station's real-time AQI
 * kept up to date from the change feed (`environment.station-aqi`). District and city indexes,
 * the daily AQI, water classes and noise come next (issue 18).
 */
import type { EntityService } from '../broker/entity-service.js';
import type { ActiveContext } from '../core/context/active-context.js';
import type { StoredEntity } from '../core/entity-model.js';
import type { HistoryStore } from '../core/history-store.js';
import type { HubModule, ModuleDefinition } from '../core/module.js';
import { DEFAULT_AQI_STANDARD, registerEnvironmentRoutes } from './environment-routes.js';
import type { AqiStandard } from './aqi.js';
import { stationAqiConsumer } from './station-aqi.js';
import { energyUnitsConsumer } from './energy-units.js';
import { registerEnergyRoutes } from './energy-routes.js';

/** What the server hands the environment module. */
export interface EnvironmentKernel {
  entities: EntityService;
  history: Pick<HistoryStore, 'instances' | 'aggregate'>;
  /** An entity as stored, unfiltered (the kernel's view). */
  readEntity(tenant: string, id: string): Promise<StoredEntity | undefined>;
  resolve(contextValue: unknown): Promise<ActiveContext>;
  /** The AQI standard of the city; default the one in force (HJ 633-2026). */
  aqiStandard?: AqiStandard;
}

export const environmentModule: ModuleDefinition<EnvironmentKernel> = {
  name: 'environment',
  create(k): HubModule {
    return {
      name: 'environment',
      routes: (app) => {
        registerEnvironmentRoutes(app, k.aqiStandard ?? DEFAULT_AQI_STANDARD);
        registerEnergyRoutes(app, (t, q) => k.entities.query(t, q));
      },
      consumers: [
        stationAqiConsumer({
          history: k.history,
          getEntity: (t, id) => k.readEntity(t, id),
          merge: (t, id, body, ctx) => k.entities.merge(t, id, body, ctx),
          coreContext: () => k.resolve(undefined),
          standard: k.aqiStandard ?? DEFAULT_AQI_STANDARD,
        }),
        // Key energy-using units' consumption, quota use and anomalies (energy-units.ts).
        energyUnitsConsumer({
          history: k.history,
          getEntity: (t, id) => k.readEntity(t, id),
          merge: (t, id, body, ctx) => k.entities.merge(t, id, body, ctx),
          coreContext: () => k.resolve(undefined),
        }),
      ],
    };
  },
};
