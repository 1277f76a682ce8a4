/**
 * The device registry port: config groups, devices, their reading counters and quarantined
 * readings. The PostgreSQL adapter is iot/postgres-iot.ts.
 */
import type { Device, ServiceGroup } from './device-model.js';

export interface Page {
  limit: number;
  offset: number;
}

/** Per-device reading counters and health, as stored. */
export interface DeviceCounters {
  received: number;
  accepted: number;
  rejected: number;
  quarantined: number;
  lastError?: string;
  lastErrorAt?: string;
  lastSeen?: string;
}

/** Counter increments for one device, added in one batched statement. */
export interface CounterDelta {
  service: string;
  servicePath: string;
  deviceId: string;
  received: number;
  accepted: number;
  rejected: number;
  quarantined: number;
  lastError?: string;
  lastErrorAt?: string;
  lastSeen?: string;
}

export interface QuarantinedReading {
  id: string;
  service: string;
  servicePath: string;
  deviceId: string;
  receivedAt: string;
  reading: unknown;
  error: string;
}

export interface DeviceRegistry {
  /** Inserts groups in one transaction; AlreadyExists if (apikey, resource) is taken in the subservice. */
  insertGroups(groups: ServiceGroup[]): Promise<void>;
  /** Groups of a service; subservice `/*` lists all of them. */
  listGroups(
    service: string,
    subservice: string,
    page: Page,
  ): Promise<{ count: number; groups: ServiceGroup[] }>;
  getGroup(
    service: string,
    subservice: string,
    apikey: string,
    resource: string,
  ): Promise<ServiceGroup | undefined>;
  /** The groups with an apikey, any service (southbound traffic names no service). */
  groupsByApikey(apikey: string): Promise<ServiceGroup[]>;
  updateGroup(group: ServiceGroup): Promise<void>;
  deleteGroup(service: string, subservice: string, apikey: string, resource: string): Promise<boolean>;

  /**
   * Inserts devices in one transaction; AlreadyExists if a device_id is taken in its servicepath.
   * `secretHashes[i]`, when given, is device i's credential hash (device-credentials.ts).
   */
  insertDevices(devices: Device[], secretHashes?: (string | undefined)[]): Promise<void>;
  listDevices(
    service: string,
    servicePath: string,
    page: Page,
  ): Promise<{ count: number; devices: Device[] }>;
  getDevice(service: string, servicePath: string, deviceId: string): Promise<Device | undefined>;
  /** A device addressed by southbound traffic: its own apikey, or that of a group of its subservice. */
  findDevice(apikey: string, deviceId: string): Promise<Device | undefined>;
  /** The device whose entity is `entityName` in a service (commands start from the entity). */
  deviceOfEntity(service: string, entityName: string): Promise<Device | undefined>;
  updateDevice(device: Device): Promise<void>;
  /** Sets (or with null removes) a device's credential hash; false if there is no such device. */
  setDeviceSecret(
    service: string,
    servicePath: string,
    deviceId: string,
    hash: string | null,
  ): Promise<boolean>;
  /** The devices with this device_id that have a credential, any service, with their hashes. */
  devicesWithSecret(deviceId: string): Promise<{ device: Device; secretHash: string }[]>;
  deleteDevice(service: string, servicePath: string, deviceId: string): Promise<boolean>;

  getCounters(service: string, servicePath: string, deviceId: string): Promise<DeviceCounters | undefined>;
  /** Adds counter increments for many devices in one statement. */
  addCounters(deltas: CounterDelta[]): Promise<void>;
  /** Totals over a service's devices (all services when undefined). */
  totals(service?: string): Promise<DeviceCounters & { devices: number }>;

  quarantine(r: Omit<QuarantinedReading, 'id'>): Promise<void>;
  listQuarantine(
    service: string,
    servicePath: string,
    deviceId: string,
    limit: number,
  ): Promise<QuarantinedReading[]>;
}
