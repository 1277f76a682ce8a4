/**
 * Group commit of readings: many readings published at once over several MQTT connections are
 * written in fewer transactions than readings, yet each keeps its own outcome. Valid readings all
 * reach the entity's history, in each device's order; invalid ones (a text for a Number, refused
 * by the mapping; an attribute name NGSI-LD refuses, refused inside the batch) are counted
 * rejected for their device and change nothing. A batch whose transaction fails is written again
 * one reading at a time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { createIotTestHub, svc } from './support/iot-hub.js';
import type { IotTestHub } from './support/iot-hub.js';
import type { AttributeUpdate, EntityService } from '../../src/broker/entity-service.js';
import { createReadingBatcher } from '../../src/iot/reading-batcher.js';

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
    const before = hub.iot.ingestion.batcher.stats();
    // A device always publishes over the same connection, so its readings arrive in order.
    await Promise.all(
      Array.from({ length: READINGS }, (_, i) => {
        const r = reading(i);
        const client = clients[r.device % CONNECTIONS] as MqttClient;
        return client.publishAsync(`/json/${KEY}/g${r.device}/attrs`, r.payload, { qos: 1 });
      }),
    );
    // QoS 1 acknowledged: every reading is committed (or refused) by now.
    const after = hub.iot.ingestion.batcher.stats();
    const batches = after.batches - before.batches;
    const batched = after.readings - before.readings;
    const all = Array.from({ length: READINGS }, (_, i) => i);
    const valid = all.filter((i) => reading(i).valid);
    // The valid readings and those refused inside the batch (the mapping refuses the others first).
    expect(batched).toBe(valid.length + all.filter((i) => i % 13 === 11).length);
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

describe('reading batcher', () => {
  const ctx = {} as AttributeUpdate['ctx'];
  const update = (id: string, body: unknown): AttributeUpdate => ({ tenant: 't', id, body, ctx });

  it('writes the readings of a failed batch one by one, so that one bad reading loses no other', async () => {
    const written: string[] = [];
    const entities = {
      updateAttributesMany: () => Promise.reject(new Error('the transaction failed')),
      updateAttributes: (_t: string, id: string, body: unknown) => {
        if (body === 'bad') return Promise.reject(new Error(`bad ${id}`));
        written.push(id);
        return Promise.resolve({ updated: [id], notUpdated: [] });
      },
    } as unknown as EntityService;
    const batcher = createReadingBatcher({ entities, maxWaitMs: 1 });
    const results = await Promise.allSettled(
      ['a', 'b', 'c', 'd'].map((id) => batcher.update(update(id, id === 'b' ? 'bad' : 'ok'))),
    );
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(written).toEqual(['a', 'c', 'd']);
    expect(batcher.stats()).toEqual({ batches: 1, readings: 4, fallbacks: 1 });
  });

  it('holds one batch in flight and one filling: readings beyond wait, in order', async () => {
    const sizes: number[] = [];
    const order: string[] = [];
    let release: () => void = () => undefined;
    const entities = {
      updateAttributesMany: async (list: AttributeUpdate[]) => {
        sizes.push(list.length);
        order.push(...list.map((u) => u.id));
        if (sizes.length === 1) await new Promise<void>((r) => (release = r));
        return list.map(() => ({ ok: true, outcome: { updated: [], notUpdated: [] } }));
      },
    } as unknown as EntityService;
    const batcher = createReadingBatcher({ entities, maxBatch: 3, maxWaitMs: 1 });
    const ids = Array.from({ length: 10 }, (_, i) => `e${i}`);
    const all = Promise.all(ids.map((id) => batcher.update(update(id, {}))));
    await new Promise((r) => setTimeout(r, 20));
    expect(sizes).toEqual([3]); // the first batch is held; the next three fill, four wait
    release();
    await all;
    expect(sizes).toEqual([3, 3, 3, 1]);
    expect(order).toEqual(ids);
  });
});
