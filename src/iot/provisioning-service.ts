/**
 * The provisioning side of the device registry (FIWARE IoT Agent API): config groups and
 * devices, checked, stored, and each device's entity created through the entity service with
 * its static attributes and command attributes, so that history and subscriptions follow.
 */
import type { EntityService } from '../broker/entity-service.js';
import { HubError, badRequest, notFound } from '../core/errors.js';
import {
  effectiveMapping,
  mergeDevice,
  mergeServiceGroup,
  parseDevice,
  parseServiceGroup,
} from '../core/iot/device-model.js';
import type { Device, EffectiveMapping, ServiceGroup } from '../core/iot/device-model.js';
import type { DeviceRegistry, Page } from '../core/iot/device-registry.js';
import { staticAttributes } from '../core/iot/reading-mapping.js';
import { isPlainObject } from '../core/validation.js';
import { checkDeviceSecret, hashDeviceSecret, newDeviceSecret } from './device-credentials.js';
import type { TypeContexts } from './type-contexts.js';

/** Command status values, as the IoT Agent writes them to `<command>_status`. */
export const COMMAND_STATUSES = ['UNKNOWN', 'PENDING', 'DELIVERED', 'OK', 'ERROR', 'EXPIRED'] as const;
export type CommandStatus = (typeof COMMAND_STATUSES)[number];

const MAX_ITEMS = 1000;

export interface ProvisioningDeps {
  registry: DeviceRegistry;
  entities: EntityService;
  contexts: TypeContexts;
  /** Told after any change, so that cached lookups are dropped. */
  onChanged?: () => void;
}

export type ProvisioningService = ReturnType<typeof createProvisioningService>;

export function createProvisioningService(deps: ProvisioningDeps) {
  const { registry, entities, contexts } = deps;
  const changed = () => deps.onChanged?.();

  function items(body: unknown, key: 'services' | 'devices'): unknown[] {
    if (!isPlainObject(body) || !Array.isArray(body[key]))
      throw badRequest(`The body must be an object with a ${key} array`);
    const list = body[key] as unknown[];
    if (list.length === 0) throw badRequest(`${key} is empty`);
    if (list.length > MAX_ITEMS) throw badRequest(`At most ${MAX_ITEMS} ${key} per request`);
    return list;
  }

  /** The group a device belongs to: its apikey's group in its servicepath, else the only one there. */
  async function groupOf(device: Device): Promise<ServiceGroup | undefined> {
    const { groups } = await registry.listGroups(device.service, device.service_path, {
      limit: 100,
      offset: 0,
    });
    const withKey = device.apikey === undefined ? groups : groups.filter((g) => g.apikey === device.apikey);
    return (
      withKey.find((g) => g.entity_type === device.entity_type) ??
      (withKey.length === 1 ? withKey[0] : undefined)
    );
  }

  /**
   * Creates the device's entity if it does not exist (static attributes, command attributes and
   * their `_status`/`_info`); an existing entity gets the attributes it lacks.
   */
  async function ensureEntity(device: Device, mapping: EffectiveMapping): Promise<void> {
    const ctx = await contexts.contextFor(device.entity_type);
    const attrs: Record<string, unknown> = staticAttributes(mapping.static_attributes);
    for (const c of mapping.commands) {
      attrs[c.name] = { type: 'Property', value: '' };
      attrs[`${c.name}_status`] = { type: 'Property', value: 'UNKNOWN' };
      attrs[`${c.name}_info`] = { type: 'Property', value: '' };
    }
    try {
      await entities.create(
        device.service,
        { id: device.entity_name, type: device.entity_type, ...attrs },
        ctx,
      );
    } catch (err) {
      if (!(err instanceof HubError && err.code === 'AlreadyExists')) throw err;
      if (Object.keys(attrs).length > 0)
        await entities.appendAttributes(device.service, device.entity_name, attrs, ctx, true);
    }
  }

  async function mustGetDevice(service: string, servicePath: string, deviceId: string): Promise<Device> {
    const d = await registry.getDevice(service, servicePath, deviceId);
    if (!d) throw notFound(`No device ${deviceId} in service ${JSON.stringify(service)} ${servicePath}`);
    return d;
  }

  return {
    groupOf,
    ensureEntity,

    /** POST /iot/services: all groups or none. */
    async createGroups(service: string, subservice: string, body: unknown): Promise<ServiceGroup[]> {
      const groups = items(body, 'services').map((g, i) => parseServiceGroup(g, service, subservice, i));
      const keys = new Set(groups.map((g) => `${g.apikey}\u0000${g.resource}`));
      if (keys.size !== groups.length)
        throw badRequest('Two groups in the request have the same apikey and resource');
      await registry.insertGroups(groups);
      changed();
      return groups;
    },

    async listGroups(
      service: string,
      subservice: string,
      page: Page,
      filter: { apikey?: string; resource?: string } = {},
    ): Promise<{ count: number; services: ServiceGroup[] }> {
      if (filter.apikey !== undefined && filter.resource !== undefined) {
        const g = await registry.getGroup(service, subservice, filter.apikey, filter.resource);
        return { count: g ? 1 : 0, services: g ? [g] : [] };
      }
      const { count, groups } = await registry.listGroups(service, subservice, page);
      const services = groups.filter(
        (g) =>
          (filter.apikey === undefined || g.apikey === filter.apikey) &&
          (filter.resource === undefined || g.resource === filter.resource),
      );
      return { count: services.length === groups.length ? count : services.length, services };
    },

    /** PUT /iot/services?apikey=…&resource=…: the fields given replace the stored ones. */
    async updateGroup(service: string, subservice: string, apikey: string, resource: string, body: unknown) {
      const held = await registry.getGroup(service, subservice, apikey, resource);
      if (!held) throw notFound(`No config group with apikey ${apikey} and resource ${resource}`);
      if (
        isPlainObject(body) &&
        ((body.apikey ?? apikey) !== apikey || (body.resource ?? resource) !== resource)
      )
        throw badRequest('apikey and resource identify the group and cannot be changed');
      const next = mergeServiceGroup(held, body);
      await registry.updateGroup(next);
      changed();
      return next;
    },

    async deleteGroup(service: string, subservice: string, apikey: string, resource: string): Promise<void> {
      if (!(await registry.deleteGroup(service, subservice, apikey, resource)))
        throw notFound(`No config group with apikey ${apikey} and resource ${resource}`);
      changed();
    },

    /** POST /iot/devices: all devices or none; then each device's entity. */
    async createDevices(service: string, servicePath: string, body: unknown): Promise<Device[]> {
      const raw = items(body, 'devices');
      const devices = raw.map((d, i) => parseDevice(d, service, servicePath, i));
      // CityPivot: `password` gives the device MQTT credentials; only its hash is kept.
      const secrets = raw.map((d, i) =>
        isPlainObject(d) && d.password !== undefined && d.password !== null
          ? hashDeviceSecret(checkDeviceSecret(d.password, `devices[${i}]`))
          : undefined,
      );
      if (new Set(devices.map((d) => d.device_id)).size !== devices.length)
        throw badRequest('Two devices in the request have the same device_id');
      const groups: (ServiceGroup | undefined)[] = [];
      for (const d of devices) {
        const g = await groupOf(d);
        // A device without entity_type takes its group's (parseDevice defaulted it to Device).
        if (g?.entity_type && !(isPlainObject(body) && hasOwnType(body, d.device_id))) {
          d.entity_type = g.entity_type;
          if (!hasOwnName(body, d.device_id)) d.entity_name = `urn:ngsi-ld:${g.entity_type}:${d.device_id}`;
        }
        if (d.apikey === undefined && g) d.apikey = g.apikey;
        groups.push(g);
      }
      await registry.insertDevices(devices, secrets);
      changed();
      for (const [i, d] of devices.entries()) await ensureEntity(d, effectiveMapping(d, groups[i]));
      return devices;
    },

    listDevices(service: string, servicePath: string, page: Page) {
      return registry.listDevices(service, servicePath, page);
    },

    getDevice: mustGetDevice,

    /** PUT /iot/devices/{id}: mapping fields change; id, entity name and type stay. */
    async updateDevice(
      service: string,
      servicePath: string,
      deviceId: string,
      body: unknown,
    ): Promise<Device> {
      const held = await mustGetDevice(service, servicePath, deviceId);
      const next = mergeDevice(held, body);
      // `password`: a new secret; null: the device has no credentials any more.
      const pw = isPlainObject(body) ? body.password : undefined;
      const secret =
        pw === undefined ? undefined : pw === null ? null : hashDeviceSecret(checkDeviceSecret(pw, 'device'));
      await registry.updateDevice(next);
      if (secret !== undefined) await registry.setDeviceSecret(service, servicePath, deviceId, secret);
      changed();
      await ensureEntity(next, effectiveMapping(next, await groupOf(next)));
      return next;
    },

    /**
     * POST /iot/devices/{id}/password: a new random secret for the device's MQTT connection,
     * replacing any earlier one; returned this once.
     */
    async newSecret(
      service: string,
      servicePath: string,
      deviceId: string,
    ): Promise<{ device_id: string; username: string; password: string }> {
      await mustGetDevice(service, servicePath, deviceId);
      const password = newDeviceSecret();
      await registry.setDeviceSecret(service, servicePath, deviceId, hashDeviceSecret(password));
      changed();
      return { device_id: deviceId, username: deviceId, password };
    },

    /** DELETE /iot/devices/{id}: the registry entry; the entity and its history stay. */
    async deleteDevice(service: string, servicePath: string, deviceId: string): Promise<void> {
      if (!(await registry.deleteDevice(service, servicePath, deviceId)))
        throw notFound(`No device ${deviceId} in service ${JSON.stringify(service)} ${servicePath}`);
      changed();
    },
  };
}

function rawDevice(body: unknown, deviceId: string): Record<string, unknown> | undefined {
  if (!isPlainObject(body) || !Array.isArray(body.devices)) return undefined;
  return (body.devices as unknown[]).find(
    (d): d is Record<string, unknown> => isPlainObject(d) && d.device_id === deviceId,
  );
}
function hasOwnType(body: unknown, deviceId: string): boolean {
  const d = rawDevice(body, deviceId);
  return d !== undefined && (d.entity_type !== undefined || d.type !== undefined);
}
function hasOwnName(body: unknown, deviceId: string): boolean {
  return rawDevice(body, deviceId)?.entity_name !== undefined;
}
