/**
 * MQTT transport of the IoT edge: either an embedded broker (aedes) the devices connect to, or a
 * client of an external broker (Mosquitto, EMQX) subscribed to the IoT Agent topics. Device
 * messages go to the ingestion service; commands are published through the same broker.
 *
 * With the embedded broker, a device's QoS 1 reading is acknowledged (PUBACK) only after its
 * update is committed: ingestion runs in aedes' authorizePublish step, which holds the ack.
 * Readings of many connections share a transaction (the entity service's write queue); each ack still waits for
 * the commit of the transaction holding its reading.
 *
 * Who may connect to the embedded broker (see docs/iot.md): with authentication on, a client
 * presents either a device's credentials (user name `{device_id}` or `{apikey}/{device_id}`, the
 * device's secret as password) and may then publish and subscribe for that device alone, or a
 * hub API key as password (a gateway: publishes for the devices of the tenants and entity types
 * its department may write). Anonymous clients are refused unless the authority allows them;
 * without an authority (`--auth none`) every client is anonymous and may publish for any device.
 */
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { Aedes } from 'aedes';
import type { AuthenticateError, Client } from 'aedes';
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import { SOUTHBOUND_TOPIC_FILTERS, parseCommandTopic, parseDeviceTopic } from '../core/iot/iot-topics.js';
import type { DeviceTopic } from '../core/iot/iot-topics.js';
import type { Device } from '../core/iot/device-model.js';
import { deviceSecretMatches } from './device-credentials.js';
import type { IotService } from './iot-service.js';

export type MqttSetting =
  | {
      mode: 'embedded';
      port: number;
      host?: string;
    }
  | { mode: 'external'; url: string };

/** A gateway's identity, as the authority gave it. */
export interface MqttPrincipal {
  name: string;
}

/** What the embedded broker asks the hub's access layer. */
export interface MqttAuthority {
  /** Accept clients without credentials (they may publish for any device). */
  anonymous: boolean;
  /** The holder of a hub API key, or undefined when it is not a valid one. */
  gateway(apiKey: string): Promise<MqttPrincipal | undefined>;
  /** May the gateway write entities of this type (an expanded IRI; undefined: any) in this tenant? */
  mayWrite(p: MqttPrincipal, tenant: string, typeIri?: string): Promise<boolean>;
  /** A refused connection, message or subscription: for security events and the audit log. */
  refused(e: { who: string; action: string; reason: string; ip?: string }): void;
}

export interface MqttGateway {
  /** `mqtt://host:port` devices connect to. */
  url: string;
  stop(): Promise<void>;
}

export interface MqttGatewayOptions {
  iot: IotService;
  setting: MqttSetting;
  /** Authentication of embedded-broker clients; absent: every client is accepted (--auth none). */
  authority?: MqttAuthority;
  /** How long a gateway's key check and write decisions hold; default 30 s. */
  decisionTtlMs?: number;
  log?: (line: string) => void;
}

/** Starts the gateway and makes it the IoT service's command publisher. */
export async function startMqttGateway(opts: MqttGatewayOptions): Promise<MqttGateway> {
  return opts.setting.mode === 'embedded'
    ? startEmbedded(opts, opts.setting.port, opts.setting.host ?? '127.0.0.1')
    : startExternal(opts, opts.setting.url);
}

async function handle(
  iot: IotService,
  topic: DeviceTopic,
  payload: Buffer,
  log: (l: string) => void,
): Promise<void> {
  const text = payload.toString('utf8');
  try {
    if (topic.kind === 'attrs') {
      const msg = { apikey: topic.apikey, deviceId: topic.deviceId, format: topic.format, payload: text };
      const r = await iot.ingestion.ingest(
        topic.objectId === undefined ? msg : { ...msg, objectId: topic.objectId },
      );
      if (r.outcome !== 'accepted')
        log(`MQTT reading from ${topic.deviceId} ${r.outcome}: ${r.detail ?? ''}`);
      return;
    }
    const resolved = await iot.ingestion.resolve(topic.apikey, topic.deviceId);
    if (!resolved) return;
    const format = topic.format === 'auto' ? (/^\s*\{/.test(text) ? 'json' : 'ul') : topic.format;
    await iot.commands.handleResult(resolved.device, format, text);
  } catch (err) {
    log(`MQTT message on ${topic.kind} from ${topic.deviceId} failed: ${(err as Error).message}`);
  }
}

/** What a connected client is: anonymous, one device, or a gateway of a department. */
type Binding =
  | { kind: 'anonymous' }
  | {
      kind: 'device';
      device: Device;
      apikeys: Set<string>;
      /** The login, checked again every TTL: a rotated or removed secret ends an open session. */
      username: string;
      secret: string;
      since: number;
    }
  | {
      kind: 'gateway';
      principal: MqttPrincipal;
      /** Checked again with the decisions: a revoked or expired key stops working within the TTL. */
      apiKey: string;
      valid: boolean;
      decisions: Map<string, boolean>;
      since: number;
    };

/** A gateway's decisions are re-asked after this long, so that policy changes take effect. */
const DECISION_TTL_MS = 30_000;

function authError(message: string, code: 4 | 5): AuthenticateError {
  return Object.assign(new Error(message), { returnCode: code });
}

/** The device a client's credentials name, if the secret matches exactly one. */
async function deviceFor(iot: IotService, username: string, secret: string) {
  const slash = username.indexOf('/');
  const apikey = slash >= 0 ? username.slice(0, slash) : undefined;
  const deviceId = slash >= 0 ? username.slice(slash + 1) : username;
  const matches: { device: Device; apikeys: Set<string> }[] = [];
  for (const c of await iot.registry.devicesWithSecret(deviceId)) {
    if (!deviceSecretMatches(secret, c.secretHash)) continue;
    const apikeys = new Set<string>();
    if (c.device.apikey !== undefined) apikeys.add(c.device.apikey);
    else {
      const { groups } = await iot.registry.listGroups(c.device.service, c.device.service_path, {
        limit: 100,
        offset: 0,
      });
      for (const g of groups) apikeys.add(g.apikey);
    }
    if (apikey === undefined || apikeys.has(apikey))
      matches.push({ device: c.device, apikeys: apikey === undefined ? apikeys : new Set([apikey]) });
  }
  return matches.length === 1 ? matches[0] : undefined;
}

/** The command topics a device may subscribe to: `[/json|/ul]/{apikey}/{device_id}/cmd`. */
function isOwnCommandTopic(b: { device: Device; apikeys: Set<string> }, filter: string): boolean {
  const c = parseCommandTopic(filter);
  return c !== undefined && b.apikeys.has(c.apikey) && c.deviceId === b.device.device_id;
}

/** A gateway subscribes to the commands of one apikey: `[/json|/ul]/{apikey}/{+|device_id}/cmd`. */
function commandApikey(filter: string): string | undefined {
  const c = parseCommandTopic(filter);
  if (!c || c.apikey === '+' || c.apikey === '#' || c.deviceId === '#') return undefined;
  return c.apikey;
}

async function startEmbedded(opts: MqttGatewayOptions, port: number, host: string): Promise<MqttGateway> {
  const log = opts.log ?? (() => undefined);
  const { iot, authority } = opts;
  const bindings = new WeakMap<Client, Binding>();
  const ipOf = (c: Client) => (c.conn as { remoteAddress?: string } | undefined)?.remoteAddress;
  const refuse = (c: Client, action: string, reason: string) => {
    const b = bindings.get(c);
    const who =
      b?.kind === 'device'
        ? `device:${b.device.device_id}`
        : b?.kind === 'gateway'
          ? b.principal.name
          : `mqtt-client:${c.id}`;
    const ip = ipOf(c);
    authority?.refused({ who, action, reason, ...(ip ? { ip } : {}) });
  };

  /** May a gateway write where this device's readings go? Cached per tenant and type. */
  async function gatewayMay(b: Extract<Binding, { kind: 'gateway' }>, topic: DeviceTopic): Promise<boolean> {
    if (!authority) return true;
    const target = await iot.ingestion.target(topic.apikey, topic.deviceId);
    if (!target) return true; // an unknown device: ingestion counts it and writes nothing
    if (Date.now() - b.since > (opts.decisionTtlMs ?? DECISION_TTL_MS)) {
      b.decisions.clear();
      b.since = Date.now();
      b.valid = (await authority.gateway(b.apiKey)) !== undefined;
    }
    if (!b.valid) return false;
    const key = `${target.service}\u0000${target.entityType}`;
    let ok = b.decisions.get(key);
    if (ok === undefined) {
      ok = await authority.mayWrite(
        b.principal,
        target.service,
        await iot.ingestion.typeIri(target.entityType),
      );
      b.decisions.set(key, ok);
    }
    return ok;
  }

  const broker = await Aedes.createBroker({
    authenticate(client, username, password, done) {
      const secret = password?.toString('utf8');
      if (!authority) {
        bindings.set(client, { kind: 'anonymous' });
        done(null, true);
        return;
      }
      if (!username && secret === undefined) {
        if (authority.anonymous) {
          bindings.set(client, { kind: 'anonymous' });
          done(null, true);
        } else {
          refuse(client, 'mqtt.connect', 'no credentials');
          done(authError('Credentials are required: a device id and secret, or an API key', 5), null);
        }
        return;
      }
      void (async (): Promise<Binding | undefined> => {
        if (secret === undefined) return undefined;
        if (username) {
          const d = await deviceFor(iot, username, secret);
          if (d) return { kind: 'device', ...d, username, secret, since: Date.now() };
        }
        const p = await authority.gateway(secret);
        return p
          ? {
              kind: 'gateway',
              principal: p,
              apiKey: secret,
              valid: true,
              decisions: new Map(),
              since: Date.now(),
            }
          : undefined;
      })().then(
        (b) => {
          if (b) {
            bindings.set(client, b);
            done(null, true);
            return;
          }
          refuse(client, 'mqtt.connect', `bad credentials for ${JSON.stringify(username ?? '')}`);
          done(authError('Bad user name or password', 4), null);
        },
        (err: unknown) => {
          log(`MQTT authentication failed: ${(err as Error).message}`);
          done(authError('The hub could not check the credentials', 5), null);
        },
      );
    },

    authorizePublish(client, packet, callback) {
      const topic = client ? parseDeviceTopic(packet.topic) : undefined;
      const b = client ? (bindings.get(client) ?? { kind: 'anonymous' }) : undefined;
      if (!client || !b) {
        callback(null); // the broker's own publications (commands)
        return;
      }
      if (!topic) {
        if (b.kind === 'anonymous') callback(null);
        else {
          refuse(client, 'mqtt.publish', `topic ${packet.topic} is not device traffic`);
          callback(new Error(`Devices publish on their own topics only (not ${packet.topic})`));
        }
        return;
      }
      // Holding the callback holds the PUBACK: QoS 1 readings are acknowledged once stored.
      const run = () =>
        handle(iot, topic, packet.payload as Buffer, log).then(
          () => callback(null),
          () => callback(null),
        );
      if (b.kind === 'anonymous') {
        void run();
        return;
      }
      if (b.kind === 'device') {
        if (topic.deviceId !== b.device.device_id || !b.apikeys.has(topic.apikey)) {
          refuse(
            client,
            'mqtt.publish',
            `device ${b.device.device_id} published for ${topic.apikey}/${topic.deviceId}`,
          );
          callback(new Error(`A device publishes for itself only (not ${topic.deviceId})`));
          return;
        }
        if (Date.now() - b.since <= (opts.decisionTtlMs ?? DECISION_TTL_MS)) {
          void run();
          return;
        }
        deviceFor(iot, b.username, b.secret).then(
          (d) => {
            if (
              d &&
              d.device.service === b.device.service &&
              d.device.service_path === b.device.service_path
            ) {
              b.since = Date.now();
              void run();
            } else {
              refuse(client, 'mqtt.publish', `the credentials of device ${b.device.device_id} changed`);
              callback(new Error('The device credentials are no longer valid'));
            }
          },
          (err: unknown) => callback(err as Error),
        );
        return;
      }
      gatewayMay(b, topic).then(
        (ok) => {
          if (ok) void run();
          else {
            refuse(
              client,
              'mqtt.publish',
              `may not write the entity of device ${topic.apikey}/${topic.deviceId}`,
            );
            callback(new Error(`Not allowed to publish for device ${topic.deviceId}`));
          }
        },
        (err: unknown) => {
          log(`MQTT authorization failed: ${(err as Error).message}`);
          callback(err as Error);
        },
      );
    },

    authorizeSubscribe(client, sub, callback) {
      const b = bindings.get(client) ?? { kind: 'anonymous' };
      if (b.kind === 'anonymous') {
        callback(null, sub);
        return;
      }
      const deny = () => {
        refuse(client, 'mqtt.subscribe', `topic filter ${sub.topic}`);
        callback(null, null); // SUBACK 128: refused, the connection stays
      };
      if (b.kind === 'device') {
        if (isOwnCommandTopic(b, sub.topic)) callback(null, sub);
        else deny();
        return;
      }
      const apikey = commandApikey(sub.topic);
      if (!apikey || !authority) {
        deny();
        return;
      }
      // Every tenant with a group of this apikey must be one the gateway may write.
      iot.registry
        .groupsByApikey(apikey)
        .then(async (groups) => {
          if (groups.length === 0) return false;
          for (const g of groups) if (!(await authority.mayWrite(b.principal, g.service))) return false;
          return true;
        })
        .then(
          (ok) => (ok ? callback(null, sub) : deny()),
          (err: unknown) => callback(err as Error),
        );
    },
  });
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  opts.iot.setCommandPublisher({
    publish: (topic, payload) =>
      new Promise<void>((resolve, reject) => {
        broker.publish(
          { cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false },
          (err) => (err ? reject(err) : resolve()),
        );
      }),
  });
  let stopping: Promise<void> | undefined;
  return {
    url: `mqtt://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}`,
    stop() {
      stopping ??= (async () => {
        opts.iot.setCommandPublisher(undefined);
        await new Promise<void>((resolve) => broker.close(() => resolve()));
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })();
      return stopping;
    },
  };
}

async function startExternal(opts: MqttGatewayOptions, url: string): Promise<MqttGateway> {
  const log = opts.log ?? (() => undefined);
  const client: MqttClient = await mqtt
    .connectAsync(url, {
      clientId: `citypivot-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
    })
    .catch((err: unknown) => {
      // The URL without its credentials, if it has any.
      const shown = url.replace(/\/\/[^@/]*@/, '//');
      throw new Error(
        `cannot reach the MQTT broker at ${shown}: ${err instanceof Error ? err.message : String(err)} (check --mqtt, or start without MQTT: --no-mqtt)`,
        { cause: err },
      );
    });
  client.on('error', (err) => log(`MQTT ${url}: ${err.message}`));
  client.on('message', (topicName, payload) => {
    const topic = parseDeviceTopic(topicName);
    if (topic) void handle(opts.iot, topic, payload, log);
  });
  await client.subscribeAsync([...SOUTHBOUND_TOPIC_FILTERS], { qos: 1 });
  opts.iot.setCommandPublisher({
    publish: async (topic, payload) => {
      await client.publishAsync(topic, payload, { qos: 1 });
    },
  });
  let stopping: Promise<void> | undefined;
  return {
    url,
    stop() {
      stopping ??= (async () => {
        opts.iot.setCommandPublisher(undefined);
        await client.endAsync();
      })();
      return stopping;
    },
  };
}
