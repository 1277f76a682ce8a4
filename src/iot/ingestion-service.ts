/**
 * Southbound ingestion: a message from a device (MQTT or HTTP) is decoded (JSON or Ultralight),
 * mapped to NGSI-LD attributes, optionally checked against the entity type's Smart Data Models
 * schema, and written as an update of the device's entity through the entity service. Unknown
 * devices of a known apikey are provisioned on the fly, as the IoT Agent does. A payload is
 * accepted or refused as a whole: a malformed one changes nothing and counts as rejected.
 *
 * With authentication on, a device writes with the rights of the department that owns its config
 * group (or that provisioned it): a reading, an automatically provisioned device and its entity
 * are checked like any other write of that department, and refused ones change nothing.
 *
 * Updates go through the entity service's write queue, the hub's one group commit: readings of
 * many devices (and API writes) share a transaction, each still settling, and counted, on its
 * own. A device's next message is processed only once the previous one is committed, so its
 * readings keep their order across groups.
 */
import type { EntityService } from '../broker/entity-service.js';
import { HubError } from '../core/errors.js';
import { effectiveMapping, parseDevice } from '../core/iot/device-model.js';
import type { Device, EffectiveMapping, ServiceGroup } from '../core/iot/device-model.js';
import type { DeviceRegistry } from '../core/iot/device-registry.js';
import { compileExpression, evaluateExpression } from '../core/iot/iot-expression.js';
import type { TopicFormat } from '../core/iot/iot-topics.js';
import { ReadingError, mapReading } from '../core/iot/reading-mapping.js';
import type { MappedReading } from '../core/iot/reading-mapping.js';
import { UltralightSyntaxError, parseUltralightMeasures } from '../core/iot/ultralight-codec.js';
import { isPlainObject } from '../core/validation.js';
import type { CounterBuffer } from './device-counters.js';
import type { DeviceHealth } from './device-health.js';
import type { IotAuthority } from './iot-authority.js';
import type { SchemaValidator } from './sdm-schema-validator.js';
import type { TypeContexts } from './type-contexts.js';

/** One message from a device. */
export interface SouthboundMessage {
  apikey: string;
  deviceId: string;
  format: TopicFormat;
  /** Single-attribute topics (`…/attrs/{object_id}`). */
  objectId?: string;
  /** Raw text (MQTT, Ultralight over HTTP) or parsed JSON (JSON over HTTP). */
  payload: unknown;
  /** HTTP: the resource the device posted to, used to pick its config group. */
  resource?: string;
  /** A timestamp given beside the payload (HTTP `t` parameter). */
  timestamp?: string;
}

export const INGEST_OUTCOMES = ['accepted', 'rejected', 'quarantined', 'unknown'] as const;
export type IngestOutcome = (typeof INGEST_OUTCOMES)[number];

export interface IngestResult {
  outcome: IngestOutcome;
  detail?: string;
  device?: Device;
  /** Rejected because the owning department may not write it (HTTP answers 403). */
  refused?: boolean;
}

export interface IngestionDeps {
  registry: DeviceRegistry;
  entities: EntityService;
  contexts: TypeContexts;
  counters: CounterBuffer;
  health: DeviceHealth;
  schemas?: SchemaValidator;
  ensureEntity: (device: Device, mapping: EffectiveMapping) => Promise<void>;
  clock?: () => Date;
  /** How long a device lookup is cached; default 5000 ms (provisioning changes drop the cache). */
  cacheMs?: number;
  /** Authentication on: devices write with their owning department's rights. */
  authority?: IotAuthority;
}

interface Resolved {
  device: Device;
  group?: ServiceGroup;
  mapping: EffectiveMapping;
  expires: number;
}

export type IngestionService = ReturnType<typeof createIngestionService>;

export function createIngestionService(deps: IngestionDeps) {
  const { registry, entities, contexts, counters, health, authority } = deps;
  const typeIriOf = async (type: string) => (await contexts.contextFor(type)).expand(type);
  /** Runs a device's writes with its owner's rights (authentication on), else as they are. */
  const asOwner = <T>(owner: string | undefined, what: string, fn: () => Promise<T>): Promise<T> =>
    authority ? authority.actAs(owner, what, fn) : fn();
  const clock = deps.clock ?? (() => new Date());
  const cacheMs = deps.cacheMs ?? 5000;
  const cache = new Map<string, Resolved>();
  const formats = new Map<string, 'json' | 'ul'>();
  const chains = new Map<string, Promise<unknown>>();

  /** The device an apikey and device id address, provisioning it from its group if needed. */
  async function resolve(apikey: string, deviceId: string, resource?: string): Promise<Resolved | undefined> {
    const key = `${apikey}\u0000${deviceId}`;
    const hit = cache.get(key);
    if (hit && hit.expires > Date.now()) return hit;
    const groups = await registry.groupsByApikey(apikey);
    let device = await registry.findDevice(apikey, deviceId);
    let group: ServiceGroup | undefined;
    if (device) {
      const d = device;
      group = groups.find((g) => g.service === d.service && g.subservice === d.service_path);
    } else {
      group = (resource === undefined ? undefined : groups.find((g) => g.resource === resource)) ?? groups[0];
      if (!group) return undefined;
      if (group.autoprovision === false)
        throw new IngestError(`Device ${deviceId} is not provisioned and its group does not autoprovision`);
      device = await autoprovision(group, apikey, deviceId);
    }
    const r: Resolved = { device, mapping: effectiveMapping(device, group), expires: Date.now() + cacheMs };
    if (group) r.group = group;
    if (cache.size > 100_000) cache.clear();
    cache.set(key, r);
    return r;
  }

  async function autoprovision(group: ServiceGroup, apikey: string, deviceId: string): Promise<Device> {
    const what = `device ${deviceId} of config group ${group.apikey}`;
    return asOwner(group.department, what, async () => {
      const device = await provisionFrom(group, apikey, deviceId);
      return device;
    });
  }

  async function provisionFrom(group: ServiceGroup, apikey: string, deviceId: string): Promise<Device> {
    const type = group.entity_type ?? 'Device';
    let entityName: string | undefined;
    if (group.entityNameExp) {
      const v = evaluateExpression(compileExpression(group.entityNameExp), {
        id: deviceId,
        type,
        service: group.service,
        subservice: group.subservice,
      });
      if (typeof v === 'string' && v !== '') entityName = v;
    }
    const device = parseDevice(
      { device_id: deviceId, entity_type: type, apikey, ...(entityName ? { entity_name: entityName } : {}) },
      group.service,
      group.subservice,
    );
    if (group.department !== undefined) device.department = group.department;
    // An entity name the owner may not write (an existing entity of another type) is refused
    // before anything is registered.
    await authority?.mayProvision(
      device.service,
      group.department,
      await typeIriOf(type),
      device.entity_name,
    );
    try {
      await registry.insertDevices([device]);
    } catch (err) {
      if (!(err instanceof HubError && err.code === 'AlreadyExists')) throw err;
      return (await registry.findDevice(apikey, deviceId)) ?? device;
    }
    try {
      await deps.ensureEntity(device, effectiveMapping(device, group));
    } catch (err) {
      // Its entity refused (or failing): no registration is left behind for a later reading.
      await registry.deleteDevice(device.service, device.service_path, device.device_id);
      throw err;
    }
    return device;
  }

  /** Decodes a payload into groups of measures (several for an Ultralight `#` or a JSON array). */
  function decode(msg: SouthboundMessage): {
    format: 'json' | 'ul';
    groups: { measures: Record<string, unknown>; timestamp?: string }[];
  } {
    const text = typeof msg.payload === 'string' ? msg.payload : undefined;
    if (msg.objectId !== undefined) {
      let value: unknown = text ?? msg.payload;
      const format = msg.format === 'ul' ? 'ul' : 'json';
      if (text !== undefined && format === 'json') {
        try {
          value = JSON.parse(text);
        } catch {
          value = text; // a bare word is a text value
        }
      }
      return { format, groups: [{ measures: { [msg.objectId]: value } }] };
    }
    let format: 'json' | 'ul' =
      msg.format === 'auto' ? (text === undefined || /^\s*[[{]/.test(text) ? 'json' : 'ul') : msg.format;
    if (format === 'ul') {
      if (text === undefined) throw new IngestError('An Ultralight payload must be text');
      return { format, groups: parseUltralightMeasures(text) };
    }
    let data: unknown = msg.payload;
    if (text !== undefined) {
      try {
        data = JSON.parse(text);
      } catch (err) {
        throw new IngestError(`The payload is not valid JSON: ${(err as Error).message}`);
      }
    }
    format = 'json';
    const list = Array.isArray(data) ? data : [data];
    if (list.length === 0 || !list.every(isPlainObject))
      throw new IngestError('A JSON payload must be an object of measures or an array of such objects');
    return { format, groups: list.map((measures) => ({ measures })) };
  }

  async function write(r: Resolved, readings: MappedReading[]): Promise<void> {
    const { device } = r;
    const ctx = await contexts.contextFor(device.entity_type);
    for (const m of readings) {
      if (Object.keys(m.attrs).length === 0) continue;
      // Through the hub's one write queue (group commit with every other write), in this async
      // context: with the owner's rights.
      const update = () => entities.updateAttributes(device.service, device.entity_name, m.attrs, ctx);
      try {
        await update();
      } catch (err) {
        if (!(err instanceof HubError && err.code === 'ResourceNotFound')) throw err;
        // The entity was deleted through the API: create it again, as the IoT Agent does.
        await deps.ensureEntity(device, r.mapping);
        await update();
      }
    }
  }

  async function process(msg: SouthboundMessage, receivedAt: Date): Promise<IngestResult> {
    let r: Resolved | undefined;
    try {
      r = await resolve(msg.apikey, msg.deviceId, msg.resource);
    } catch (err) {
      if (err instanceof IngestError) return { outcome: 'unknown', detail: err.message };
      if (err instanceof HubError && err.code === 'Forbidden')
        return { outcome: 'rejected', detail: err.message, refused: true };
      throw err;
    }
    if (!r)
      return {
        outcome: 'unknown',
        detail: `No device ${msg.deviceId} and no config group for apikey ${msg.apikey}`,
      };
    const { device, mapping } = r;
    const ref = { service: device.service, servicePath: device.service_path, deviceId: device.device_id };
    health.seen(
      {
        tenant: device.service,
        servicePath: device.service_path,
        deviceId: device.device_id,
        entityId: device.entity_name,
      },
      mapping.expected_interval,
      receivedAt,
    );
    let readings: MappedReading[];
    try {
      const decoded = decode(msg);
      formats.set(deviceKey(device), decoded.format);
      readings = decoded.groups.map((g) => {
        const ts = msg.timestamp ?? g.timestamp;
        return mapReading(g.measures, mapping, {
          deviceId: device.device_id,
          entityId: device.entity_name,
          service: device.service,
          subservice: device.service_path,
          receivedAt: receivedAt.toISOString(),
          ...(ts === undefined ? {} : { timestamp: ts }),
        });
      });
    } catch (err) {
      if (err instanceof IngestError || err instanceof ReadingError || err instanceof UltralightSyntaxError) {
        counters.record(ref, 'rejected', err.message, receivedAt);
        return { outcome: 'rejected', detail: err.message, device };
      }
      throw err;
    }
    if (mapping.schema_validation !== 'off' && deps.schemas?.has(device.entity_type)) {
      for (const m of readings) {
        const problem = deps.schemas.validate(device.entity_type, {
          id: device.entity_name,
          type: device.entity_type,
          ...m.keyValues,
        });
        if (problem === undefined) continue;
        const detail = `The reading does not fit the ${device.entity_type} schema: ${problem}`;
        if (mapping.schema_validation === 'quarantine') {
          await registry.quarantine({
            service: device.service,
            servicePath: device.service_path,
            deviceId: device.device_id,
            receivedAt: receivedAt.toISOString(),
            reading: readings.map((x) => x.keyValues),
            error: detail,
          });
          counters.record(ref, 'quarantined', detail, receivedAt);
          return { outcome: 'quarantined', detail, device };
        }
        counters.record(ref, 'rejected', detail, receivedAt);
        return { outcome: 'rejected', detail, device };
      }
    }
    const resolved = r;
    try {
      await asOwner(resolved.group?.department ?? device.department, `device ${device.device_id}`, () =>
        write(resolved, readings),
      );
    } catch (err) {
      // Input the entity service refuses (a bad attribute name, a bad value) is the device's fault.
      if (err instanceof HubError && (err.code === 'BadRequestData' || err.code === 'InvalidRequest')) {
        counters.record(ref, 'rejected', err.message, receivedAt);
        return { outcome: 'rejected', detail: err.message, device };
      }
      // What the owning department may not write is refused, and counted as rejected.
      if (err instanceof HubError && err.code === 'Forbidden') {
        counters.record(ref, 'rejected', err.message, receivedAt);
        return { outcome: 'rejected', detail: err.message, device, refused: true };
      }
      throw err;
    }
    counters.record(ref, 'accepted', undefined, receivedAt);
    return { outcome: 'accepted', device };
  }

  /** Runs work for one device after the work before it, so that readings keep their order. */
  function serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = chains.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.then(
      () => undefined,
      () => undefined,
    );
    chains.set(key, settled);
    void settled.then(() => {
      if (chains.get(key) === settled) chains.delete(key);
    });
    return next;
  }

  return {
    resolve,
    /**
     * Where readings for (apikey, device id) are written, without provisioning anything: the
     * tenant and entity type, for authorizing a gateway before its reading is processed. A
     * cached lookup serves even when expired (a device's service and type never change).
     */
    async target(
      apikey: string,
      deviceId: string,
    ): Promise<{ service: string; entityType: string } | undefined> {
      const held =
        cache.get(`${apikey}\u0000${deviceId}`)?.device ?? (await registry.findDevice(apikey, deviceId));
      if (held) return { service: held.service, entityType: held.entity_type };
      const group = (await registry.groupsByApikey(apikey))[0];
      return group ? { service: group.service, entityType: group.entity_type ?? 'Device' } : undefined;
    },
    /** The expanded IRI of a device entity type, as access policies name types. */
    async typeIri(entityType: string): Promise<string> {
      return (await contexts.contextFor(entityType)).expand(entityType);
    },
    /**
     * Processes one message; resolves once its update is committed (or refused). Throws only for
     * failures of the hub itself (database down), never for bad device input.
     */
    ingest(msg: SouthboundMessage): Promise<IngestResult> {
      const receivedAt = clock();
      return serial(`${msg.apikey}\u0000${msg.deviceId}`, () => process(msg, receivedAt));
    },
    /** The payload format a device last used. */
    formatOf(device: Device): 'json' | 'ul' | undefined {
      return formats.get(deviceKey(device));
    },
    invalidate() {
      cache.clear();
    },
    /** Waits for the work under way. */
    async drain() {
      await Promise.all([...chains.values()]);
    },
  };
}

/** Bad southbound input, answered to HTTP devices and counted, never thrown further. */
export class IngestError extends Error {
  override name = 'IngestError';
}

const deviceKey = (d: Device) => `${d.service}\u0000${d.service_path}\u0000${d.device_id}`;
