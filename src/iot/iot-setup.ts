/**
 * What the composition root needs to add the IoT edge to a hub: the service on the hub's entity
 * service and context resolver, and its route registration for buildHttpApp.
 */
import type { FastifyInstance } from 'fastify';
import type { EntityService } from '../broker/entity-service.js';
import type { ActiveContext } from '../core/context/active-context.js';
import type { DeviceRegistry } from '../core/iot/device-registry.js';
import { registerIotRoutes } from './iot-http-routes.js';
import { createIotService } from './iot-service.js';
import type { IotService } from './iot-service.js';
import { createSchemaValidator } from './sdm-schema-validator.js';
import { createTypeContexts } from './type-contexts.js';
import type { IotAuthority } from './iot-authority.js';

/** IoT options of createHubServices. */
export interface IotHubOptions {
  registry: DeviceRegistry;
  /** Smart Data Models directory (`dataModel.*\/{Type}/schema.json`) for schema_validation. */
  schemasDir?: string;
  counterFlushMs?: number;
  healthSweepMs?: number;
}

/** Builds the IoT service of a hub. */
export function createHubIot(
  opts: IotHubOptions,
  deps: {
    entities: EntityService;
    bundled: ReadonlyMap<string, unknown>;
    resolve: (contextValue: unknown) => Promise<ActiveContext>;
    onError?: (err: unknown) => void;
    /** Authentication on: who may provision, and with whose rights devices write. */
    authority?: IotAuthority;
  },
): IotService {
  return createIotService({
    registry: opts.registry,
    entities: deps.entities,
    contexts: createTypeContexts(deps.bundled, deps.resolve),
    ...(opts.schemasDir ? { schemas: createSchemaValidator(opts.schemasDir) } : {}),
    ...(opts.counterFlushMs ? { counterFlushMs: opts.counterFlushMs } : {}),
    ...(opts.healthSweepMs ? { healthSweepMs: opts.healthSweepMs } : {}),
    ...(deps.onError ? { onError: deps.onError } : {}),
    ...(deps.authority ? { authority: deps.authority } : {}),
  });
}

/** The route registration buildHttpApp runs before the app is ready. */
export function iotRoutes(
  iot: IotService,
  opts: { deviceSecrets?: boolean } = {},
): (app: FastifyInstance) => void {
  return (app) => registerIotRoutes(app, iot, opts);
}
