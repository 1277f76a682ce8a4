/**
 * Commands to devices (FIWARE IoT Agent conventions): an update of a command attribute on a
 * device's entity, seen after commit, is published to `/{apikey}/{device_id}/cmd` (JSON devices
 * also `/json/…/cmd`); `<command>_status` goes PENDING → DELIVERED (published to the broker) →
 * OK or ERROR (the device's answer on `…/cmdexe`), or EXPIRED when no answer came within the
 * command timeout. `<command>_info` holds the device's result.
 */
import type { EntityChange, EntityService } from '../broker/entity-service.js';
import type { Device } from '../core/iot/device-model.js';
import { effectiveMapping } from '../core/iot/device-model.js';
import type { DeviceRegistry } from '../core/iot/device-registry.js';
import { commandTopic } from '../core/iot/iot-topics.js';
import { formatUltralightCommand, parseUltralightCommandResult } from '../core/iot/ultralight-codec.js';
import { isPlainObject } from '../core/validation.js';
import type { CommandStatus } from './provisioning-service.js';
import type { TypeContexts } from './type-contexts.js';
import type { IotAuthority } from './iot-authority.js';

/** Sends a message to devices (the MQTT gateway). Resolves once the broker has it. */
export interface CommandPublisher {
  publish(topic: string, payload: string): Promise<void>;
}

export interface CommandEvent {
  tenant: string;
  entityId: string;
  deviceId: string;
  command: string;
  status: CommandStatus;
  info?: unknown;
}

interface Pending {
  status: CommandStatus;
  timer?: NodeJS.Timeout;
}

export interface CommandServiceDeps {
  entities: EntityService;
  registry: DeviceRegistry;
  contexts: TypeContexts;
  /** The device's group apikey when it has none of its own. */
  groupApikey: (device: Device) => Promise<string | undefined>;
  /** The payload format a device last used (json or ul), if known. */
  formatOf: (device: Device) => 'json' | 'ul' | undefined;
  onError?: (err: unknown) => void;
  /** Authentication on: a device's answers are written with its owner's rights. */
  authority?: IotAuthority;
}

export type CommandService = ReturnType<typeof createCommandService>;

const FINAL: readonly CommandStatus[] = ['OK', 'ERROR', 'EXPIRED'];

export function createCommandService(deps: CommandServiceDeps) {
  const { entities, registry, contexts } = deps;
  let publisher: CommandPublisher | undefined;
  const pending = new Map<string, Pending>();
  const chains = new Map<string, Promise<void>>();
  const listeners = new Set<(e: CommandEvent) => void>();
  const report = deps.onError ?? (() => undefined);

  /** Runs status writes of one command in order. */
  const enqueue = (key: string, fn: () => Promise<void>): Promise<void> => {
    const next = (chains.get(key) ?? Promise.resolve()).then(fn).catch(report);
    chains.set(key, next);
    void next.then(() => {
      if (chains.get(key) === next) chains.delete(key);
    });
    return next;
  };

  async function writeStatus(device: Device, command: string, status: CommandStatus, info?: unknown) {
    const ctx = await contexts.contextFor(device.entity_type);
    const body: Record<string, unknown> = { [`${command}_status`]: { type: 'Property', value: status } };
    if (info !== undefined)
      body[`${command}_info`] = {
        type: 'Property',
        value: typeof info === 'string' ? info : JSON.stringify(info),
      };
    await entities.updateAttributes(device.service, device.entity_name, body, ctx);
    const e: CommandEvent = {
      tenant: device.service,
      entityId: device.entity_name,
      deviceId: device.device_id,
      command,
      status,
    };
    if (info !== undefined) e.info = info;
    for (const l of listeners) {
      try {
        l(e);
      } catch {
        // listeners do not break command handling
      }
    }
  }

  const keyOf = (device: Device, command: string) =>
    `${device.service}\u0000${device.entity_name}\u0000${command}`;

  async function send(device: Device, command: string, value: unknown): Promise<void> {
    const key = keyOf(device, command);
    const old = pending.get(key);
    if (old?.timer) clearTimeout(old.timer);
    const state: Pending = { status: 'PENDING' };
    pending.set(key, state);
    const mapping = effectiveMapping(device);
    state.timer = setTimeout(() => {
      if (pending.get(key) !== state || FINAL.includes(state.status)) return;
      state.status = 'EXPIRED';
      pending.delete(key);
      void enqueue(key, () => writeStatus(device, command, 'EXPIRED', 'The device did not answer in time'));
    }, mapping.command_timeout * 1000);
    state.timer.unref();
    await enqueue(key, () => writeStatus(device, command, 'PENDING'));
    if (!publisher) return; // no MQTT: the command waits, then expires
    const apikey = device.apikey ?? (await deps.groupApikey(device));
    if (apikey === undefined) {
      state.status = 'ERROR';
      await enqueue(key, () =>
        writeStatus(device, command, 'ERROR', 'The device has no apikey to address it with'),
      );
      return;
    }
    const format = device.payload_format ?? deps.formatOf(device) ?? 'json';
    try {
      if (format === 'ul') {
        await publisher.publish(
          commandTopic(apikey, device.device_id, false),
          formatUltralightCommand(device.device_id, command, value),
        );
      } else {
        const payload = JSON.stringify({ [command]: value });
        await publisher.publish(commandTopic(apikey, device.device_id, true), payload);
        await publisher.publish(commandTopic(apikey, device.device_id, false), payload);
      }
    } catch (err) {
      state.status = 'ERROR';
      clearTimeout(state.timer);
      await enqueue(key, () =>
        writeStatus(device, command, 'ERROR', `Publishing failed: ${(err as Error).message}`),
      );
      return;
    }
    await enqueue(key, async () => {
      // The answer may have come first: never step back from a final status.
      if (state.status !== 'PENDING') return;
      state.status = 'DELIVERED';
      await writeStatus(device, command, 'DELIVERED');
    });
  }

  /** Looks at committed changes for updated command attributes. */
  function onChanges(changes: EntityChange[]): void {
    for (const c of changes) {
      if (c.kind !== 'updated' || !c.before || !c.after) continue;
      const after = c.after;
      const before = c.before;
      // Only command attributes have a `_status` sibling: no registry lookup for other writes.
      const touched = Object.keys(after.attrs).filter(
        (iri) =>
          after.attrs[`${iri}_status`] !== undefined &&
          JSON.stringify(after.attrs[iri]) !== JSON.stringify(before.attrs[iri]),
      );
      if (touched.length === 0) continue;
      void (async () => {
        const device = await registry.deviceOfEntity(c.tenant, after.id);
        if (!device) return;
        const ctx = await contexts.contextFor(device.entity_type);
        const group = await groupOf(device);
        const mapping = effectiveMapping(device, group);
        for (const cmd of mapping.commands) {
          const iri = ctx.expand(cmd.name);
          if (!touched.includes(iri)) continue;
          const inst = after.attrs[iri]?.find((x) => x.datasetId === undefined) ?? after.attrs[iri]?.[0];
          await send({ ...device, command_timeout: mapping.command_timeout }, cmd.name, inst?.value);
        }
      })().catch(report);
    }
  }

  async function groupOf(device: Device) {
    const groups = await registry.groupsByApikey(device.apikey ?? '');
    return groups.find((g) => g.service === device.service && g.subservice === device.service_path);
  }

  /**
   * A device's answer on `…/cmdexe`: JSON `{"<command>": result}` or Ultralight
   * `device@command|result`. A result that is an object with an `error` member, or text starting
   * with ERROR, sets ERROR; anything else OK. Returns the commands answered.
   */
  async function handleResult(device: Device, format: 'json' | 'ul', payload: string): Promise<string[]> {
    const results: [string, unknown][] = [];
    if (format === 'ul') {
      const r = parseUltralightCommandResult(payload);
      results.push([r.command, r.result]);
    } else {
      const parsed = JSON.parse(payload) as unknown;
      if (!isPlainObject(parsed)) throw new Error('A JSON command result must be an object');
      results.push(...Object.entries(parsed));
    }
    const mapping = effectiveMapping(device, await groupOf(device));
    const known = new Set(mapping.commands.map((c) => c.name));
    const answered: string[] = [];
    for (const [command, result] of results) {
      if (!known.has(command)) continue;
      const key = keyOf(device, command);
      const state = pending.get(key);
      if (state) {
        clearTimeout(state.timer);
        pending.delete(key);
      }
      const failed =
        (isPlainObject(result) && result.error !== undefined) ||
        (typeof result === 'string' && /^error\b/i.test(result));
      const status: CommandStatus = failed ? 'ERROR' : 'OK';
      if (state) state.status = status;
      const info = isPlainObject(result) && result.error !== undefined ? result.error : result;
      // The device's answer is its write: with the rights of the department that owns it.
      const owner = (await groupOf(device))?.department ?? device.department;
      const write = () => writeStatus(device, command, status, info);
      await enqueue(key, () =>
        deps.authority ? deps.authority.actAs(owner, `device ${device.device_id}`, write) : write(),
      );
      answered.push(command);
    }
    return answered;
  }

  return {
    onChanges,
    handleResult,
    setPublisher(p: CommandPublisher | undefined) {
      publisher = p;
    },
    /** Subscribes to command status changes; returns the unsubscribe function. */
    on(listener: (e: CommandEvent) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async stop() {
      for (const p of pending.values()) clearTimeout(p.timer);
      pending.clear();
      await Promise.all([...chains.values()]);
    },
  };
}
