/**
 * Readings over every southbound form update the device's entity through the entity service:
 * MQTT JSON (/json/k/d/attrs and /k/d/attrs), single attributes (…/attrs/{object_id}),
 * Ultralight (/ul/k/d/attrs), HTTP JSON (/iot/json) and HTTP Ultralight (/iot/d); expressions,
 * observedAt from the payload, autoprovisioning, and malformed payloads counted as rejected
 * without changing anything. Runs on the embedded broker, and on TEST_MQTT_URL when set.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { createIotTestHub, svc, until } from './support/iot-hub.js';
import type { IotTestHub } from './support/iot-hub.js';

const brokers = ['embedded', ...(process.env.TEST_MQTT_URL ? ['external' as const] : [])] as const;

describe.each(brokers)('southbound ingestion (%s broker)', (broker) => {
  let hub: IotTestHub;
  let client: MqttClient;
  const tenant = `t${broker}`;
  const key = `key-${broker}-${Date.now().toString(36)}`;

  const entity = async (id: string) => {
    const r = await hub.request({
      method: 'GET',
      url: `/ngsi-ld/v1/entities/${id}`,
      headers: { 'NGSILD-Tenant': tenant },
    });
    return r.statusCode === 200
      ? (JSON.parse(r.body) as Record<string, { value?: unknown; observedAt?: string; unitCode?: string }>)
      : undefined;
  };
  const valueOf = async (id: string, attr: string) => (await entity(id))?.[attr]?.value;
  const waitValue = (id: string, attr: string, expected: unknown) =>
    until(
      async () => ((await valueOf(id, attr)) === expected ? true : undefined),
      10_000,
      `${attr} = ${JSON.stringify(expected)}`,
    );

  beforeAll(async () => {
    hub = await createIotTestHub({ mqtt: broker });
    client = await hub.client();
    const r = await hub.request({
      method: 'POST',
      url: '/iot/services',
      headers: svc(tenant, '/env'),
      payload: {
        services: [
          {
            apikey: key,
            resource: '/iot/json',
            entity_type: 'WeatherSensor',
            attributes: [
              {
                object_id: 't',
                name: 'temperature',
                type: 'Number',
                metadata: { unitCode: { type: 'Text', value: 'CEL' } },
              },
              { object_id: 'f', name: 'temperatureF', type: 'Number', expression: 't * 9 / 5 + 32' },
              { object_id: 'h', name: 'humidity', type: 'Integer' },
              { object_id: 's', name: 'status', type: 'Text', expression: 's | trim | touppercase' },
            ],
          },
        ],
      },
    });
    expect(r.statusCode).toBe(201);
    const d = await hub.request({
      method: 'POST',
      url: '/iot/devices',
      headers: svc(tenant, '/env'),
      payload: { devices: [{ device_id: 'ws1', entity_name: 'urn:ngsi-ld:WeatherSensor:ws1' }] },
    });
    expect(d.statusCode).toBe(201);
  });
  afterAll(async () => {
    await hub?.close();
  });

  const ID = 'urn:ngsi-ld:WeatherSensor:ws1';

  it('JSON on /json/{apikey}/{device}/attrs, with expressions, unitCode and observedAt from TimeInstant', async () => {
    await client.publishAsync(
      `/json/${key}/ws1/attrs`,
      JSON.stringify({ t: 20, h: '55', s: ' ok ', TimeInstant: '2026-03-01T10:00:00Z' }),
      { qos: 1 },
    );
    await waitValue(ID, 'temperature', 20);
    const e = await entity(ID);
    expect(e?.temperature).toMatchObject({
      value: 20,
      unitCode: 'CEL',
      observedAt: '2026-03-01T10:00:00.000Z',
    });
    expect(e?.temperatureF?.value).toBe(68);
    expect(e?.humidity?.value).toBe(55);
    expect(e?.status?.value).toBe('OK');
    expect(e?.type).toBe('WeatherSensor');
  });

  it('JSON on /{apikey}/{device}/attrs and one attribute on …/attrs/{object_id}', async () => {
    await client.publishAsync(`/${key}/ws1/attrs`, JSON.stringify({ t: 21.5 }), { qos: 1 });
    await waitValue(ID, 'temperature', 21.5);
    await client.publishAsync(`/json/${key}/ws1/attrs/h`, '61', { qos: 1 });
    await waitValue(ID, 'humidity', 61);
    await client.publishAsync(`/${key}/ws1/attrs/t`, '22', { qos: 1 });
    await waitValue(ID, 'temperature', 22);
  });

  it('Ultralight on /ul/{apikey}/{device}/attrs, the last group of several winning, with its timestamp', async () => {
    await client.publishAsync(`/ul/${key}/ws1/attrs`, 't|23|h|40#2026-03-02T08:00:00Z|t|24', { qos: 1 });
    await waitValue(ID, 'temperature', 24);
    const e = await entity(ID);
    expect(e?.temperature?.observedAt).toBe('2026-03-02T08:00:00.000Z');
    expect(e?.humidity?.value).toBe(40);
    // Ultralight on the topic without a format prefix.
    await client.publishAsync(`/${key}/ws1/attrs`, 't|25', { qos: 1 });
    await waitValue(ID, 'temperature', 25);
  });

  it('HTTP southbound: JSON on /iot/json and Ultralight on /iot/d', async () => {
    const j = await hub.request({ method: 'POST', url: `/iot/json?k=${key}&i=ws1`, payload: { t: 26 } });
    expect(j.statusCode).toBe(200);
    expect(await valueOf(ID, 'temperature')).toBe(26);
    const u = await hub.request({
      method: 'POST',
      url: `/iot/d?k=${key}&i=ws1`,
      headers: { 'content-type': 'text/plain' },
      payload: 't|27|h|33',
    });
    expect(u.statusCode).toBe(200);
    expect(await valueOf(ID, 'temperature')).toBe(27);
    const t = await hub.request({
      method: 'POST',
      url: `/iot/json?k=${key}&i=ws1&t=2026-03-03T00:00:00Z`,
      payload: { t: 28 },
    });
    expect(t.statusCode).toBe(200);
    expect((await entity(ID))?.temperature?.observedAt).toBe('2026-03-03T00:00:00.000Z');
  });

  it('a malformed payload is rejected, counted, and changes nothing', async () => {
    const before = await entity(ID);
    const cases: [string, string][] = [
      [`/json/${key}/ws1/attrs`, '{"t": '],
      [`/json/${key}/ws1/attrs`, '{"t": "hot"}'],
      [`/ul/${key}/ws1/attrs`, 't|1|h'],
      [`/json/${key}/ws1/attrs`, '{"t": 1, "h": 2.5}'],
    ];
    const start =
      (await hub.iot.counters.read({ service: tenant, servicePath: '/env', deviceId: 'ws1' }))?.rejected ?? 0;
    for (const [topic, payload] of cases) await client.publishAsync(topic, payload, { qos: 1 });
    await until(async () => {
      const c = await hub.iot.counters.read({ service: tenant, servicePath: '/env', deviceId: 'ws1' });
      return c && c.rejected >= start + cases.length ? c : undefined;
    });
    expect(await entity(ID)).toEqual(before);
    const http = await hub.request({
      method: 'POST',
      url: `/iot/json?k=${key}&i=ws1`,
      payload: { t: 'warm' },
    });
    expect(http.statusCode).toBe(400);
    expect(JSON.parse(http.body).detail).toMatch(/not a number/);
    const dev = JSON.parse(
      (await hub.request({ method: 'GET', url: '/iot/devices/ws1', headers: svc(tenant, '/env') })).body,
    );
    expect(dev.readings.rejected).toBeGreaterThanOrEqual(start + cases.length + 1);
    expect(dev.readings.lastError).toMatch(/not a number/);
    expect(dev.readings.accepted).toBeGreaterThan(0);
    expect(dev.health).toBe('online');
    const missing = await hub.request({ method: 'POST', url: `/iot/json?i=ws1`, payload: { t: 1 } });
    expect(missing.statusCode).toBe(400);
    const unknownKey = await hub.request({
      method: 'POST',
      url: `/iot/json?k=nokey&i=ws1`,
      payload: { t: 1 },
    });
    expect(unknownKey.statusCode).toBe(404);
  });

  it('autoprovisions an unknown device of a known apikey', async () => {
    await client.publishAsync(`/json/${key}/auto7/attrs`, JSON.stringify({ t: 5 }), { qos: 1 });
    await waitValue('urn:ngsi-ld:WeatherSensor:auto7', 'temperature', 5);
    const dev = await hub.request({ method: 'GET', url: '/iot/devices/auto7', headers: svc(tenant, '/env') });
    expect(dev.statusCode).toBe(200);
    expect(JSON.parse(dev.body)).toMatchObject({ entity_type: 'WeatherSensor', apikey: key });
  });
});
