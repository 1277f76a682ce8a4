/**
 * Group commit of readings: many readings published at once over several MQTT connections are
 * written in fewer transactions than readings, yet each keeps its own outcome. Valid readings all
 * reach the entity's history, in each device's order; invalid ones (a text for a Number, refused
 * by the mapping; an attribute name NGSI-LD refuses, refused inside the batch) are counted
 * rejected for their device and change nothing. (A group whose transaction fails is written again
 * one write at a time: test/api/concurrent-writes.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { createIotTestHub, svc } from './support/iot-hub.js';
import type { IotTestHub } from './support/iot-hub.js';

const T = 'groupcity';
const KEY = 'gk';
const DEVICES = 30;
const CONNECTIONS = 10;
const READINGS = 300;

let hub: IotTestHub;

beforeAll(async () => {
  hub = await createIotTestHub({ mqtt: 'embedded' });
  const g = await hub.request({
    method: 'POST',
    url: '/iot/services',
    headers: svc(T, '/'),
    payload: {
      services: [
        {
          apikey: KEY,
          resource: '/iot/json',
          entity_type: 'NoiseSensor',
          attributes: [{ object_id: 'v', name: 'level', type: 'Number' }],
        },
      ],
    },
  });
  expect(g.statusCode).toBe(201);
  const devices = Array.from({ length: DEVICES }, (_, i) => ({
    device_id: `g${i}`,
    entity_name: `urn:ngsi-ld:NoiseSensor:g${i}`,
  }));
  const d = await hub.request({
    method: 'POST',
    url: '/iot/devices',
    headers: svc(T, '/'),
    payload: { devices },
  });
  expect(d.statusCode).toBe(201);
});
afterAll(async () => {
  await hub?.close();
});

/** Reading i: its device, its payload, and whether it is valid (2 in 13 are not, two ways). */
function reading(i: number): { device: number; payload: string; valid: boolean } {
  const device = i % DEVICES;
  if (i % 13 === 5) return { device, payload: JSON.stringify({ v: 'loud' }), valid: false };
  if (i % 13 === 11) return { device, payload: JSON.stringify({ v: i, 'bad<name': 1 }), valid: false };
  return { device, payload: JSON.stringify({ v: i }), valid: true };
}

async function historyOf(id: string): Promise<number[]> {
  const r = await hub.request({
    method: 'GET',
    url: `/ngsi-ld/v1/temporal/entities/${encodeURIComponent(id)}?attrs=level`,
    headers: { 'NGSILD-Tenant': T },
  });
  expect(r.statusCode, r.body).toBe(200);
  const body = JSON.parse(r.body) as { level?: { value: number }[] | { value: number } };
  const list = body.level === undefined ? [] : Array.isArray(body.level) ? body.level : [body.level];
  return list.map((x) => x.value);
}

describe('group commit of readings', () => {
  it('writes concurrent readings in fewer transactions, each valid one stored in order, each invalid one rejected', async () => {
    const clients: MqttClient[] = [];
    for (let c = 0; c < CONNECTIONS; c++) clients.push(await hub.client());
    const before = hub.entities.writeGroups();
    // A device always publishes over the same connection, so its readings arrive in order.
    await Promise.all(
      Array.from({ length: READINGS }, (_, i) => {
        const r = reading(i);
        const client = clients[r.device % CONNECTIONS] as MqttClient;
        return client.publishAsync(`/json/${KEY}/g${r.device}/attrs`, r.payload, { qos: 1 });
      }),
    );
    // QoS 1 acknowledged: every reading is committed (or refused) by now.
    const after = hub.entities.writeGroups();
    const batches = after.groups - before.groups;
    const batched = after.grouped - before.grouped;
    const all = Array.from({ length: READINGS }, (_, i) => i);
    const valid = all.filter((i) => reading(i).valid);
    // Readings that shared a transaction: at most the valid ones and those refused inside the
    // group (the mapping refuses the others first); a reading that found the queue empty went alone.
    expect(batched).toBeLessThanOrEqual(valid.length + all.filter((i) => i % 13 === 11).length);
    expect(batches).toBeGreaterThan(0);
    expect(batches).toBeLessThan(batched);
    expect(after.fallbacks).toBe(before.fallbacks);

    await hub.iot.counters.flush();
    for (let d = 0; d < DEVICES; d++) {
      const id = `urn:ngsi-ld:NoiseSensor:g${d}`;
      const want = valid.filter((i) => i % DEVICES === d);
      const stored = await historyOf(id);
      expect(
        [...stored].sort((a, b) => a - b),
        `device g${d}`,
      ).toEqual(want);
      // Applied in arrival order: the device's last valid reading is the entity's value.
      const e = await hub.request({
        method: 'GET',
        url: `/ngsi-ld/v1/entities/${id}`,
        headers: { 'NGSILD-Tenant': T },
      });
      expect((JSON.parse(e.body) as { level?: { value?: number } }).level?.value).toBe(want.at(-1));
      const c = await hub.iot.counters.read({ service: T, servicePath: '/', deviceId: `g${d}` });
      const sent = READINGS / DEVICES;
      expect(c, `device g${d}`).toMatchObject({
        received: sent,
        accepted: want.length,
        rejected: sent - want.length,
        quarantined: 0,
      });
    }
  });
});
