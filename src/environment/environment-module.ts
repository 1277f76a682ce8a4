/**
 * The environment module (core/module.ts): the city's environmental indicators. Today the air
 * quality index calculator of HJ 633 (2012 and 2026) as a plain API; the continuous indicators
 * (station, district and city AQI from the change feed, water classes, noise) come next (issue 18).
 */
import type { HubModule, ModuleDefinition } from '../core/module.js';
import { registerEnvironmentRoutes } from './environment-routes.js';

export const environmentModule: ModuleDefinition<object> = {
  name: 'environment',
  create(): HubModule {
    return { name: 'environment', routes: (app) => registerEnvironmentRoutes(app) };
  },
};
