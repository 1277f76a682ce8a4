/**
 * Notifications to mqtt:// endpoints (NGSI-LD §7.3 MQTT binding): published on the URI's topic as
 * {metadata, body} with the QoS of notifierInfo MQTT-QoS. Runs against an embedded aedes broker,
 * and also against an external broker (Mosquitto in CI) when TEST_MQTT_URL is set.
 */
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHub, type TestHub } from '../support/test-hub.js';

let hub: TestHub;
let broker: Aedes;
let server: Server;
let embeddedUrl: string;

beforeAll(async () => {
  hub = await createTestHub({ delivery: { baseDelayMs: 50, maxDelayMs: 200, pollMs: 100 } });
  broker = await Aedes.createBroker();
  server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  embeddedUrl = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await hub.close();
  await new Promise<void>((resolve) => broker.close(() => resolve()));
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const brokers = (): [string, () => string][] => {
  const list: [string, () => string][] = [['embedded aedes', () => embeddedUrl]];
  const external = process.env.TEST_MQTT_URL;
  if (external) list.push(['external broker', () => external]);
  return list;
};

describe.each(brokers())('MQTT notifications via %s', (name, url) => {
  it.each([0, 1, 2])('publishes notifications with QoS %i', async (qos) => {
    const base = url();
    const topic = `citypivot/test/${name.replace(/\W/g, '')}/q${qos}`;
    const client = await mqtt.connectAsync(base);
    const got: {
      topic: string;
      payload: { metadata: Record<string, string>; body: Record<string, unknown> };
      qos: number;
    }[] = [];
    client.on('message', (t, payload, packet) =>
      got.push({
        topic: t,
        payload: JSON.parse(payload.toString()) as (typeof got)[number]['payload'],
        qos: packet.qos,
      }),
    );
    await client.subscribeAsync(topic, { qos: 2 });
    try {
      const type = `Sensor${qos}${name.length}`;
      const res = await hub.request({
        method: 'POST',
        url: '/ngsi-ld/v1/subscriptions',
        payload: {
          type: 'Subscription',
          entities: [{ type }],
          notification: {
            format: 'keyValues',
            endpoint: {
              uri: `${base}/${topic}`,
              notifierInfo: [{ key: 'MQTT-QoS', value: String(qos) }],
              receiverInfo: [{ key: 'X-Department', value: 'traffic' }],
            },
          },
        },
      });
      expect(res.statusCode, res.body).toBe(201);
      await hub.request({
        method: 'POST',
        url: '/ngsi-ld/v1/entities',
        payload: { id: `urn:ngsi-ld:${type}:1`, type, level: { type: 'Property', value: 7 } },
      });
      await expect.poll(() => got.length, { timeout: 10_000 }).toBe(1);
      const m = got[0]!;
      expect(m.topic).toBe(topic);
      expect(m.qos).toBe(qos);
      expect(m.payload.metadata['Content-Type']).toBe('application/json');
      expect(m.payload.metadata['X-Department']).toBe('traffic');
      expect(m.payload.body).toMatchObject({
        type: 'Notification',
        data: [{ id: `urn:ngsi-ld:${type}:1`, level: 7 }],
      });
    } finally {
      await client.endAsync();
    }
  });
});
