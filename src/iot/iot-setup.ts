/**
 * The IoT module (core/module.ts): the IoT Agent edge on the hub's entity service and context
 * resolver, its HTTP routes, and the authority of its embedded MQTT broker. The server lists it
 * and hands it the kernel below; it knows the access module only through the access port.
 */
import type { EntityService } from '../broker/entity-service.js';
import type { AccessPort } from '../core/access/access-port.js';
import type { ActiveContext } from '../core/context/active-context.js';
import type { StoredEntity } from '../core/entity-model.js';
import type { DeviceRegistry } from '../core/iot/device-registry.js';
import type { HubModule, ModuleDefinition } from '../core/module.js';
import { iotAuthority, mqttAuthority } from './iot-access.js';
import { registerIotRoutes } from './iot-http-routes.js';
import { createIotService } from './iot-service.js';
import type { IotService } from './iot-service.js';
import type { MqttAuthority } from './mqtt-gateway.js';
import { createSchemaValidator } from './sdm-schema-validator.js';
import { createTypeContexts } from './type-contexts.js';

/** IoT options of createHubServices. */
export interface IotHubOptions {
  /** The device registry (postgres-iot.ts on the hub's pool). */
  registry: DeviceRegistry;
  /** Smart Data Models directory (`dataModel.*\/{Type}/schema.json`) for schema_validation. */
  schemasDir?: string;
  counterFlushMs?: number;
  healthSweepMs?: number;
}

/** What the server hands the IoT module: its options and the kernel's services. */
export interface IotKernel extends IotHubOptions {
  entities: EntityService;
  bundled: ReadonlyMap<string, unknown>;
  resolve: (contextValue: unknown) => Promise<ActiveContext>;
  onError?: (err: unknown) => void;
  /** Authentication on: who may provision, and with whose rights devices write. */
  access?: AccessPort;
  /** An entity as stored, unfiltered (provisioning checks an existing entity the caller may not see). */
  readEntity: (tenant: string, id: string) => Promise<StoredEntity | undefined>;
}

/** The IoT module as the server holds it. */
export interface IotModule extends HubModule {
  /** Provisioning, ingestion, commands, device health (the MQTT gateway and the HTTP routes call it). */
  service: IotService;
  /** Who may use the embedded MQTT broker; undefined without authentication (anyone may). */
  mqttAuthority(anonymous: boolean): MqttAuthority | undefined;
}

export const iotModule: ModuleDefinition<IotKernel, IotModule> = {
  name: 'iot',
  create(k) {
    const access = k.access;
    const service = createIotService({
      registry: k.registry,
      entities: k.entities,
      contexts: createTypeContexts(k.bundled, k.resolve),
      ...(k.schemasDir ? { schemas: createSchemaValidator(k.schemasDir) } : {}),
      ...(k.counterFlushMs ? { counterFlushMs: k.counterFlushMs } : {}),
      ...(k.healthSweepMs ? { healthSweepMs: k.healthSweepMs } : {}),
      ...(k.onError ? { onError: k.onError } : {}),
      ...(access ? { authority: iotAuthority(access, k.readEntity) } : {}),
    });
    return {
      name: 'iot',
      service,
      routes: (app) => registerIotRoutes(app, service, { deviceSecrets: access !== undefined }),
      mqttAuthority: (anonymous) => (access ? mqttAuthority(access, anonymous) : undefined),
      stop: () => service.stop(),
    };
  },
};
