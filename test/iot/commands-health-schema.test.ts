/**
 * Commands round-trip over MQTT (PENDING → DELIVERED → OK or ERROR, EXPIRED without an answer),
 * device health goes online → offline against the expected interval, and readings checked
 * against a Smart Data Models schema are rejected or quarantined and counted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { createIotTestHub, svc, until } from './support/iot-hub.js';
import type { IotTestHub } from './support/iot-hub.js';
import type { DeviceHealthEvent } from '../../src/iot/device-health.js';

let hub: IotTestHub;
let device: MqttClient;
const T = 'cmdcity';

const entity = async (id: string) =>
  JSON.parse(
    (await hub.request({ method: 'GET', url: `/ngsi-ld/v1/entities/${id}`, headers: { 'NGSILD-Tenant': T } }))
      .body,
  ) as Record<string, { value?: unknown }>;
const statusOf = async (id: string, cmd: string) => (await entity(id))[`${cmd}_status`]?.value;
const waitStatus = (id: string, cmd: string, s: string) =>
  until(async () => ((await statusOf(id, cmd)) === s ? s : undefined), 10_000, `${cmd}_status ${s}`);

beforeAll(async () => {
  hub = await createIotTestHub({ mqtt: 'embedded', healthSweepMs: 20 });
  device = await hub.client();
  const r = await hub.request({
    method: 'POST',
    url: '/iot/devices',
    headers: svc(T, '/lights'),
    payload: {
      devices: [
        {
          device_id: 'lamp1',
          entity_type: 'Lamp',
          apikey: 'lk',
          commands: [{ name: 'switch', type: 'command' }],
        },
        {
          device_id: 'lamp3',
          entity_type: 'Lamp',
          apikey: 'lk',
          commands: [{ name: 'switch', type: 'command' }],
          command_timeout: 0.3,
        },
        {
          device_id: 'lamp2',
          entity_type: 'Lamp',
          apikey: 'lk',
          payload_format: 'ul',
          commands: [{ name: 'dim', type: 'command' }],
        },
      ],
    },
  });
  expect(r.statusCode).toBe(201);
});
afterAll(async () => {
  await hub?.close();
});

describe('commands', () => {
  it('a JSON command goes PENDING → DELIVERED → OK with the device answer in _info', async () => {
    const seen: string[] = [];
    const off = hub.iot.onCommandStatus((e) => {
      if (e.deviceId === 'lamp1') seen.push(e.status);
    });
    await device.subscribeAsync('/json/lk/lamp1/cmd', { qos: 1 });
    const got = new Promise<string>((resolve) => device.once('message', (_t, p) => resolve(p.toString())));
    const patch = await hub.request({
      method: 'PATCH',
      url: '/ngsi-ld/v1/entities/urn:ngsi-ld:Lamp:lamp1/attrs',
      headers: { 'NGSILD-Tenant': T, 'content-type': 'application/json' },
      payload: { switch: { type: 'Property', value: 'on' } },
    });
    expect(patch.statusCode).toBe(204);
    expect(JSON.parse(await got)).toEqual({ switch: 'on' });
    await waitStatus('urn:ngsi-ld:Lamp:lamp1', 'switch', 'DELIVERED');
    await device.publishAsync('/json/lk/lamp1/cmdexe', JSON.stringify({ switch: 'switched on' }), { qos: 1 });
    await waitStatus('urn:ngsi-ld:Lamp:lamp1', 'switch', 'OK');
    expect((await entity('urn:ngsi-ld:Lamp:lamp1')).switch_info?.value).toBe('switched on');
    expect(seen, JSON.stringify(seen)).toEqual(['PENDING', 'DELIVERED', 'OK']);
    off();
    await device.unsubscribeAsync('/json/lk/lamp1/cmd');
  });

  it('an Ultralight command answered with an error goes to ERROR', async () => {
    await device.subscribeAsync('/lk/lamp2/cmd', { qos: 1 });
    const got = new Promise<string>((resolve) => device.once('message', (_t, p) => resolve(p.toString())));
    await hub.request({
      method: 'PATCH',
      url: '/ngsi-ld/v1/entities/urn:ngsi-ld:Lamp:lamp2/attrs',
      headers: { 'NGSILD-Tenant': T, 'content-type': 'application/json' },
      payload: { dim: { type: 'Property', value: 40 } },
    });
    expect(await got).toBe('lamp2@dim|40');
    await device.publishAsync('/ul/lk/lamp2/cmdexe', 'lamp2@dim|ERROR lamp broken', { qos: 1 });
    await waitStatus('urn:ngsi-ld:Lamp:lamp2', 'dim', 'ERROR');
    expect((await entity('urn:ngsi-ld:Lamp:lamp2')).dim_info?.value).toBe('ERROR lamp broken');
  });

  it('a command nobody answers EXPIRES after the command timeout', async () => {
    await hub.request({
      method: 'PATCH',
      url: '/ngsi-ld/v1/entities/urn:ngsi-ld:Lamp:lamp3/attrs',
      headers: { 'NGSILD-Tenant': T, 'content-type': 'application/json' },
      payload: { switch: { type: 'Property', value: 'off' } },
    });
    await waitStatus('urn:ngsi-ld:Lamp:lamp3', 'switch', 'EXPIRED');
  });
});

describe('device health', () => {
  it('goes online with a reading and offline after its expected interval', async () => {
    await hub.request({
      method: 'POST',
      url: '/iot/devices',
      headers: svc(T, '/noise'),
      payload: {
        devices: [{ device_id: 'n1', apikey: 'nk', entity_type: 'NoiseSensor', expected_interval: 0.2 }],
      },
    });
    const events: DeviceHealthEvent[] = [];
    const off = hub.iot.onDeviceHealth((e) => {
      if (e.deviceId === 'n1') events.push(e);
    });
    const r = await hub.request({ method: 'POST', url: '/iot/json?k=nk&i=n1', payload: { level: 55 } });
    expect(r.statusCode).toBe(200);
    await until(
      () => Promise.resolve(events.some((e) => e.state === 'offline') ? true : undefined),
      5000,
      'offline',
    );
    expect(events.map((e) => e.state)).toEqual(['online', 'offline']);
    expect(events[1]).toMatchObject({
      tenant: T,
      servicePath: '/noise',
      entityId: 'urn:ngsi-ld:NoiseSensor:n1',
    });
    const dev = JSON.parse(
      (await hub.request({ method: 'GET', url: '/iot/devices/n1', headers: svc(T, '/noise') })).body,
    );
    expect(dev.health).toBe('offline');
    expect(dev.lastSeen).toBe(events[0]?.lastSeen);
    off();
  });
});

describe('Smart Data Models schema validation', () => {
  it('rejects or quarantines readings that do not fit the schema, counted per device', async () => {
    const r = await hub.request({
      method: 'POST',
      url: '/iot/devices',
      headers: svc(T, '/air'),
      payload: {
        devices: [
          {
            device_id: 'aq1',
            apikey: 'ak',
            entity_type: 'AirQualityObserved',
            schema_validation: 'reject',
            attributes: [{ object_id: 'n', name: 'no2', type: 'Number' }],
          },
          {
            device_id: 'aq2',
            apikey: 'ak',
            entity_type: 'AirQualityObserved',
            schema_validation: 'quarantine',
          },
        ],
      },
    });
    expect(r.statusCode).toBe(201);
    const ok = await hub.request({ method: 'POST', url: '/iot/json?k=ak&i=aq1', payload: { n: 41 } });
    expect(ok.statusCode).toBe(200);
    // no2 is a number in the schema; a text no2 does not fit.
    const bad = await hub.request({ method: 'POST', url: '/iot/json?k=ak&i=aq2', payload: { no2: 'high' } });
    expect(bad.statusCode).toBe(400);
    expect(JSON.parse(bad.body).detail).toMatch(/AirQualityObserved schema/);
    const rej = await hub.request({
      method: 'POST',
      url: '/iot/json?k=ak&i=aq1',
      payload: { n: 1, dateObserved: 'yesterday' },
    });
    expect(rej.statusCode).toBe(400);
    const aq1 = JSON.parse(
      (await hub.request({ method: 'GET', url: '/iot/devices/aq1', headers: svc(T, '/air') })).body,
    );
    expect(aq1.readings).toMatchObject({ received: 2, accepted: 1, rejected: 1, quarantined: 0 });
    const aq2 = JSON.parse(
      (await hub.request({ method: 'GET', url: '/iot/devices/aq2', headers: svc(T, '/air') })).body,
    );
    expect(aq2.readings).toMatchObject({ received: 1, accepted: 0, rejected: 0, quarantined: 1 });
    // The list shows the same with status=true (the dashboard's device list), and refuses other values.
    const list = JSON.parse(
      (await hub.request({ method: 'GET', url: '/iot/devices?status=true', headers: svc(T, '/air') })).body,
    );
    const byId = new Map(list.devices.map((d: { device_id: string }) => [d.device_id, d]));
    expect(byId.get('aq1')).toMatchObject({ readings: aq1.readings, health: aq1.health });
    expect(byId.get('aq2')).toMatchObject({ readings: aq2.readings });
    const plain = JSON.parse(
      (await hub.request({ method: 'GET', url: '/iot/devices', headers: svc(T, '/air') })).body,
    );
    expect(plain.devices[0].readings).toBeUndefined();
    const badStatus = await hub.request({
      method: 'GET',
      url: '/iot/devices?status=yes',
      headers: svc(T, '/air'),
    });
    expect(badStatus.statusCode).toBe(400);
    const q = JSON.parse(
      (await hub.request({ method: 'GET', url: '/iot/devices/aq2/quarantine', headers: svc(T, '/air') }))
        .body,
    );
    expect(q.readings).toHaveLength(1);
    expect(q.readings[0].reading).toEqual([{ no2: 'high' }]);
    // The rejected values never reached the entity; the accepted one did, under the SDM IRI.
    const e = await hub.request({
      method: 'GET',
      url: '/ngsi-ld/v1/entities/urn:ngsi-ld:AirQualityObserved:aq1',
      headers: {
        'NGSILD-Tenant': T,
        link: '<https://smart-data-models.github.io/dataModel.Environment/context.jsonld>; rel="http://www.w3.org/ns/json-ld#context"',
      },
    });
    const body = JSON.parse(e.body);
    expect(body.no2.value).toBe(41);
    expect(body.dateObserved).toBeUndefined();
    const stats = JSON.parse(
      (await hub.request({ method: 'GET', url: '/api/v1/iot/stats', headers: { 'fiware-service': T } })).body,
    );
    expect(stats).toMatchObject({ service: T, quarantined: 1 });
    expect(stats.rejected).toBeGreaterThanOrEqual(1);
    expect(stats.devices).toBeGreaterThanOrEqual(4);
  });
});
