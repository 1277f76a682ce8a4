/**
 * The IoT edge of the hub, composed: device registry provisioning, southbound ingestion,
 * commands, device health and reading counters. Transports (the MQTT gateway, the HTTP routes)
 * call into it; other modules subscribe to its events.
 */
import type { EntityService } from '../broker/entity-service.js';
import type { DeviceRegistry } from '../core/iot/device-registry.js';
import { createCommandService } from './command-service.js';
import type { CommandEvent, CommandPublisher } from './command-service.js';
import { createCounterBuffer } from './device-counters.js';
import { createDeviceHealth } from './device-health.js';
import type { DeviceHealthEvent } from './device-health.js';
import { createIngestionService } from './ingestion-service.js';
import { createProvisioningService } from './provisioning-service.js';
import type { SchemaValidator } from './sdm-schema-validator.js';
import type { TypeContexts } from './type-contexts.js';
import type { IotAuthority } from './iot-authority.js';

export interface IotServiceOptions {
  registry: DeviceRegistry;
  entities: EntityService;
  contexts: TypeContexts;
  /** Smart Data Models schemas for `schema_validation`; without it, nothing is validated. */
  schemas?: SchemaValidator;
  /** Counter flush period; default 1000 ms. */
  counterFlushMs?: number;
  /** Health sweep period; default 1000 ms. */
  healthSweepMs?: number;
  clock?: () => Date;
  onError?: (err: unknown) => void;
  /** Authentication on: provisioning is checked and devices write with their owner's rights. */
  authority?: IotAuthority;
}

export type IotService = ReturnType<typeof createIotService>;

/** Builds the IoT services and hooks command handling to committed entity changes. */
export function createIotService(opts: IotServiceOptions) {
  const onError = opts.onError ?? (() => undefined);
  const clock = opts.clock ?? (() => new Date());
  const counters = createCounterBuffer(opts.registry, {
    onError,
    ...(opts.counterFlushMs ? { flushMs: opts.counterFlushMs } : {}),
  });
  const health = createDeviceHealth({
    clock,
    ...(opts.healthSweepMs ? { sweepMs: opts.healthSweepMs } : {}),
  });
  let invalidate = () => {};
  const provisioning = createProvisioningService({
    registry: opts.registry,
    entities: opts.entities,
    contexts: opts.contexts,
    onChanged: () => invalidate(),
    ...(opts.authority ? { authority: opts.authority } : {}),
  });
  const ingestion = createIngestionService({
    registry: opts.registry,
    entities: opts.entities,
    contexts: opts.contexts,
    counters,
    health,
    ensureEntity: (d, m) => provisioning.ensureEntity(d, m),
    clock,
    ...(opts.schemas ? { schemas: opts.schemas } : {}),
    ...(opts.authority ? { authority: opts.authority } : {}),
  });
  invalidate = () => ingestion.invalidate();
  const commands = createCommandService({
    entities: opts.entities,
    registry: opts.registry,
    contexts: opts.contexts,
    groupApikey: async (d) => (await provisioning.groupOf(d))?.apikey,
    formatOf: (d) => ingestion.formatOf(d),
    onError,
    ...(opts.authority ? { authority: opts.authority } : {}),
  });
  opts.entities.onChange((changes) => commands.onChanges(changes));

  return {
    provisioning,
    ingestion,
    commands,
    counters,
    health,
    registry: opts.registry,
    /** Device online/offline transitions; returns the unsubscribe function. */
    onDeviceHealth(listener: (e: DeviceHealthEvent) => void): () => void {
      return health.on(listener);
    },
    /** Command status changes; returns the unsubscribe function. */
    onCommandStatus(listener: (e: CommandEvent) => void): () => void {
      return commands.on(listener);
    },
    /** The transport commands are published with (the MQTT gateway sets it while it runs). */
    setCommandPublisher(p: CommandPublisher | undefined): void {
      commands.setPublisher(p);
    },
    /** Stops timers, waits for work under way, writes the last counters. */
    async stop(): Promise<void> {
      health.stop();
      await ingestion.drain();
      await commands.stop();
      await counters.stop();
    },
  };
}
