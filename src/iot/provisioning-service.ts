/**
 * The provisioning side of the device registry (FIWARE IoT Agent API): config groups and
 * devices, checked, stored, and each device's entity created through the entity service with
 * its static attributes and command attributes, so that history and subscriptions follow.
 *
 * With authentication on (an IotAuthority), provisioning is a write: a group or a device needs
 * write rights on the entity type its devices write and, for an existing entity, on that entity;
 * groups and devices belong to the provisioner's department, and only that department (or one
 * above it) may change, delete or list them. Every check runs before anything is stored, and a
 * device whose entity is then refused is removed again: a refused request leaves nothing behind.
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
import type { IotAuthority } from './iot-authority.js';

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
  /** Authentication on: who may provision what, and who owns it. */
  authority?: IotAuthority;
}

export type ProvisioningService = ReturnType<typeof createProvisioningService>;

export function createProvisioningService(deps: ProvisioningDeps) {
  const { registry, entities, contexts, authority } = deps;
  const changed = () => deps.onChanged?.();

  /** The expanded IRI of an entity type, as access policies name types. */
  const typeIri = async (type: string) => (await contexts.contextFor(type)).expand(type);

  /** `department` is the hub's to set: a body that names one is refused rather than ignored. */
  function noDepartment(raw: unknown, where: string): void {
    if (authority && isPlainObject(raw) && raw.department !== undefined)
      throw badRequest(
        `${where}: department is set by the hub (the department of the account that provisions)`,
      );
  }

  /** Who owns a device: its group's department, else its own. `memo` keeps groups found (listings). */
  async function ownerOf(device: Device, memo?: Map<string, Promise<ServiceGroup | undefined>>) {
    const key = `${device.service}\u0000${device.service_path}\u0000${device.apikey ?? ''}\u0000${device.entity_type}`;
    let g = memo?.get(key);
    if (!g) {
      g = groupOf(device);
      memo?.set(key, g);
    }
    return (await g)?.department ?? device.department;
  }

  /** A group the caller manages (a group it only sees is addressed by an apikey it does not hold). */
  async function managed(g: ServiceGroup | undefined): Promise<ServiceGroup | undefined> {
    if (!g || !authority) return g;
    return (await authority.mayView(g.service, g.department, await typeIri(g.entity_type ?? 'Device'))) ===
      'manage'
      ? g
      : undefined;
  }

  /** Refused unless the caller may manage this device and write its entity. */
  async function mayChangeDevice(device: Device): Promise<void> {
    await authority?.mayProvision(
      device.service,
      await ownerOf(device),
      await typeIri(device.entity_type),
      device.entity_name,
    );
  }

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

  /**
   * A device as the caller may see it (authentication off: as it is): whole for the departments
   * that manage it, without its apikey for one that only reads its type; else 404, like a
   * missing one.
   */
  async function mustGetDevice(
    service: string,
    servicePath: string,
    deviceId: string,
    memo?: Map<string, Promise<ServiceGroup | undefined>>,
  ): Promise<Device> {
    const d = await registry.getDevice(service, servicePath, deviceId);
    const seen = d && (await viewOf(d, memo));
    if (!seen) throw notFound(`No device ${deviceId} in service ${JSON.stringify(service)} ${servicePath}`);
    return seen;
  }

  async function viewOf(d: Device, memo?: Map<string, Promise<ServiceGroup | undefined>>) {
    if (!authority) return d;
    const view = await authority.mayView(d.service, await ownerOf(d, memo), await typeIri(d.entity_type));
    return view === 'manage' ? d : view === 'view' ? withoutApikey(d) : undefined;
  }

  /** The groups the caller may see: their apikeys let devices write in their name. */
  async function visible(groups: ServiceGroup[]): Promise<ServiceGroup[]> {
    if (!authority) return groups;
    const out: ServiceGroup[] = [];
    for (const g of groups) {
      const view = await authority.mayView(g.service, g.department, await typeIri(g.entity_type ?? 'Device'));
      if (view === 'manage') out.push(g);
      else if (view === 'view') out.push(withoutApikey(g));
    }
    return out;
  }

  return {
    groupOf,
    ensureEntity,

    /** POST /iot/services: all groups or none. */
    async createGroups(service: string, subservice: string, body: unknown): Promise<ServiceGroup[]> {
      const raw = items(body, 'services');
      raw.forEach((g, i) => noDepartment(g, `services[${i}]`));
      const groups = raw.map((g, i) => parseServiceGroup(g, service, subservice, i));
      const keys = new Set(groups.map((g) => `${g.apikey}\u0000${g.resource}`));
      if (keys.size !== groups.length)
        throw badRequest('Two groups in the request have the same apikey and resource');
      if (authority) {
        const owner = authority.provisioner();
        for (const g of groups) {
          await authority.mayProvision(service, owner, await typeIri(g.entity_type ?? 'Device'));
          if (owner !== undefined) g.department = owner;
          // With accounts, a device nobody provisioned is not created by its first reading
          // unless the group says so (IoT Agent `autoprovision`).
          g.autoprovision ??= false;
        }
      }
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
        const found = await registry.getGroup(service, subservice, filter.apikey, filter.resource);
        const [g] = found ? await visible([found]) : [];
        return { count: g ? 1 : 0, services: g ? [g] : [] };
      }
      const { count, groups: all } = await registry.listGroups(service, subservice, page);
      const groups = await visible(all);
      const services = groups.filter(
        (g) =>
          (filter.apikey === undefined || g.apikey === filter.apikey) &&
          (filter.resource === undefined || g.resource === filter.resource),
      );
      return { count: services.length === all.length ? count : services.length, services };
    },

    /** PUT /iot/services?apikey=…&resource=…: the fields given replace the stored ones. */
    async updateGroup(service: string, subservice: string, apikey: string, resource: string, body: unknown) {
      const held = await managed(await registry.getGroup(service, subservice, apikey, resource));
      if (!held) throw notFound(`No config group with apikey ${apikey} and resource ${resource}`);
      if (
        isPlainObject(body) &&
        ((body.apikey ?? apikey) !== apikey || (body.resource ?? resource) !== resource)
      )
        throw badRequest('apikey and resource identify the group and cannot be changed');
      noDepartment(body, 'The group');
      const next = mergeServiceGroup(held, body);
      if (authority) {
        // The type its devices write now and the one they will write: both are writes.
        await authority.mayProvision(service, held.department, await typeIri(held.entity_type ?? 'Device'));
        await authority.mayProvision(service, held.department, await typeIri(next.entity_type ?? 'Device'));
        // A group from before accounts (no owner) becomes the provisioner's.
        const owner = held.department ?? authority.provisioner();
        if (owner !== undefined) next.department = owner;
      }
      await registry.updateGroup(next);
      changed();
      return next;
    },

    async deleteGroup(service: string, subservice: string, apikey: string, resource: string): Promise<void> {
      const held = await managed(await registry.getGroup(service, subservice, apikey, resource));
      if (!held) throw notFound(`No config group with apikey ${apikey} and resource ${resource}`);
      await authority?.mayProvision(service, held.department, await typeIri(held.entity_type ?? 'Device'));
      if (!(await registry.deleteGroup(service, subservice, apikey, resource)))
        throw notFound(`No config group with apikey ${apikey} and resource ${resource}`);
      changed();
    },

    /** POST /iot/devices: all devices or none; then each device's entity. */
    async createDevices(service: string, servicePath: string, body: unknown): Promise<Device[]> {
      const raw = items(body, 'devices');
      raw.forEach((d, i) => noDepartment(d, `devices[${i}]`));
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
      if (authority) {
        const owner = authority.provisioner();
        for (const [i, d] of devices.entries()) {
          const g = groups[i];
          await authority.mayProvision(
            service,
            g ? g.department : owner,
            await typeIri(d.entity_type),
            d.entity_name,
          );
          const dept = g?.department ?? owner;
          if (dept !== undefined) d.department = dept;
        }
      }
      await registry.insertDevices(devices, secrets);
      changed();
      try {
        for (const [i, d] of devices.entries()) await ensureEntity(d, effectiveMapping(d, groups[i]));
      } catch (err) {
        // All devices or none: an entity refused (or failing) takes the registrations back.
        for (const d of devices) await registry.deleteDevice(service, servicePath, d.device_id);
        changed();
        throw err;
      }
      return devices;
    },

    async listDevices(service: string, servicePath: string, page: Page) {
      const list = await registry.listDevices(service, servicePath, page);
      if (!authority) return list;
      const devices: Device[] = [];
      const memo = new Map<string, Promise<ServiceGroup | undefined>>();
      for (const d of list.devices) {
        const seen = await viewOf(d, memo);
        if (seen) devices.push(seen);
      }
      return { count: devices.length === list.devices.length ? list.count : devices.length, devices };
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
      noDepartment(body, 'The device');
      await mayChangeDevice(held);
      const next = mergeDevice(held, body);
      const owner = held.department ?? authority?.provisioner();
      if (owner !== undefined) next.department = owner;
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
      await mayChangeDevice(await mustGetDevice(service, servicePath, deviceId));
      const password = newDeviceSecret();
      await registry.setDeviceSecret(service, servicePath, deviceId, hashDeviceSecret(password));
      changed();
      return { device_id: deviceId, username: deviceId, password };
    },

    /** DELETE /iot/devices/{id}: the registry entry; the entity and its history stay. */
    async deleteDevice(service: string, servicePath: string, deviceId: string): Promise<void> {
      await mayChangeDevice(await mustGetDevice(service, servicePath, deviceId));
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

/** A group or device without the apikey that lets devices write in its owner's name. */
function withoutApikey<T extends { apikey?: string }>(x: T): T {
  const { apikey: _a, ...rest } = x;
  return rest as T;
}
