/**
 * MQTT transport of the IoT edge: either an embedded broker (aedes) the devices connect to, or a
 * client of an external broker (Mosquitto, EMQX) subscribed to the IoT Agent topics. Device
 * messages go to the ingestion service; commands are published through the same broker.
 *
 * With the embedded broker, a device's QoS 1 reading is acknowledged (PUBACK) only after its
 * update is committed: ingestion runs in aedes' authorizePublish step, which holds the ack.
 * Readings of many connections share a transaction (reading-batcher.ts); each ack still waits for
 * the commit of the transaction holding its reading.
 */
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import { SOUTHBOUND_TOPIC_FILTERS, parseDeviceTopic } from '../core/iot/iot-topics.js';
import type { DeviceTopic } from '../core/iot/iot-topics.js';
import type { IotService } from './iot-service.js';

export type MqttSetting =
  { mode: 'embedded'; port: number; host?: string } | { mode: 'external'; url: string };

export interface MqttGateway {
  /** `mqtt://host:port` devices connect to. */
  url: string;
  stop(): Promise<void>;
}

export interface MqttGatewayOptions {
  iot: IotService;
  setting: MqttSetting;
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

async function startEmbedded(opts: MqttGatewayOptions, port: number, host: string): Promise<MqttGateway> {
  const log = opts.log ?? (() => undefined);
  const broker = await Aedes.createBroker({
    // Anonymous devices are accepted: device credentials are not built yet (see docs/iot.md).
    authorizePublish(client, packet, callback) {
      const topic = client ? parseDeviceTopic(packet.topic) : undefined;
      if (!topic) {
        callback(null);
        return;
      }
      // Holding the callback holds the PUBACK: QoS 1 readings are acknowledged once stored.
      handle(opts.iot, topic, packet.payload as Buffer, log).then(
        () => callback(null),
        () => callback(null),
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
  const client: MqttClient = await mqtt.connectAsync(url, {
    clientId: `citypivot-${process.pid}-${Math.random().toString(16).slice(2, 8)}`,
    reconnectPeriod: 1000,
    connectTimeout: 10_000,
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
