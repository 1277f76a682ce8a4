/**
 * ingest: MQTT readings from 10,000 provisioned devices (JSON on /json/{apikey}/{device}/attrs, QoS
 * 1) into queryable state, against the same broker (a bare aedes, the hub's embedded broker) passing
 * the same messages from the same publisher to a subscriber. Target: ratio >= 0.2.
 *
 * The hub's embedded broker acknowledges a QoS 1 reading only after the update it causes has
 * committed, so the PUBACK latency is the publish-to-queryable time: its p99 is reported.
 *
 * Correctness: after the run, every device's stored value is at least the last one acknowledged
 * (readings carry increasing values), i.e. no acknowledged reading was lost.
 */
import { join } from 'node:path';
import mqtt from 'mqtt';
import { awaitMessage, spawnNode } from '../lib/child-process.js';
import { COMPILED_LIB_DIR } from '../lib/paths.js';
import { alternate, ratioRow } from '../lib/repeat.js';
import type { BenchContext, Scenario } from '../lib/scenario.js';

const TARGET = 0.2;
const TENANT = 'ingest';
const KEY = 'benchkey';
/** Readings in flight (awaiting PUBACK) at once, over CONNECTIONS publisher connections. */
const WINDOW = 200;
/**
 * Devices have connections of their own; a broker handles one connection's packets in order (the
 * hub acknowledges a reading after it commits), so one shared connection would measure one
 * reading at a time. 50 connections stand for the gateways and devices publishing at once.
 */
const CONNECTIONS = 50;

interface Publish {
  rate: number;
  latencies: number[];
  acked: number[];
}

/** Publishes readings round-robin over the devices for `seconds`, `WINDOW` awaiting PUBACK. */
async function publishFor(
  url: string,
  devices: number,
  seconds: number,
  base: number,
  onEach?: (device: number, value: number) => void,
): Promise<Publish> {
  const clients = await Promise.all(
    Array.from({ length: CONNECTIONS }, () => mqtt.connectAsync(url, { reconnectPeriod: 0 })),
  );
  const acked = new Array<number>(devices).fill(-1);
  const latencies: number[] = [];
  let seq = 0;
  let done = 0;
  const until = performance.now() + seconds * 1000;
  const worker = async (w: number) => {
    const client = clients[w % CONNECTIONS] as mqtt.MqttClient;
    while (performance.now() < until) {
      const i = seq++;
      const device = i % devices;
      const value = base + i;
      onEach?.(device, value);
      const t0 = performance.now();
      await client.publishAsync(`/json/${KEY}/d${device}/attrs`, `{"v":${value}}`, { qos: 1 });
      latencies.push(performance.now() - t0);
      if (value > (acked[device] ?? -1)) acked[device] = value;
      done++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: WINDOW }, (_, w) => worker(w)));
  const rate = done / ((performance.now() - t0) / 1000);
  await Promise.all(clients.map((c) => c.endAsync()));
  return { rate, latencies, acked };
}

function p99(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] ?? Number.NaN;
}

async function http(url: string, method: string, body: unknown): Promise<number> {
  const res = await fetch(url, {
    method,
    headers: { 'content-type': 'application/json', 'fiware-service': TENANT, 'fiware-servicepath': '/' },
    body: JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

export const scenario: Scenario = {
  name: 'ingest',
  order: 80,
  summary: 'MQTT readings from 10,000 devices into queryable state, vs the same broker passing them through',
  async run(ctx: BenchContext) {
    const devices = ctx.settings.quick ? 1_000 : 10_000;
    const db = await ctx.createDatabase('ingest');
    const hub = await ctx.startHub(db.url, { mqtt: true });
    if (!hub.mqttUrl) throw new Error('ingest: the hub printed no MQTT URL');
    const g = await http(`${hub.url}/iot/services`, 'POST', {
      services: [
        {
          apikey: KEY,
          resource: '/iot/json',
          entity_type: 'NoiseSensor',
          attributes: [{ object_id: 'v', name: 'level', type: 'Number' }],
        },
      ],
    });
    if (g !== 201) throw new Error(`ingest: service group answered ${g}`);
    const t0 = performance.now();
    for (let from = 0; from < devices; from += 500) {
      const list = [];
      for (let i = from; i < Math.min(devices, from + 500); i++)
        list.push({ device_id: `d${i}`, apikey: KEY, entity_name: `urn:ngsi-ld:NoiseSensor:d${i}` });
      const s = await http(`${hub.url}/iot/devices`, 'POST', { devices: list });
      if (s !== 201) throw new Error(`ingest: provisioning answered ${s}`);
    }
    ctx.log(
      `  ingest: provisioned ${devices.toLocaleString('en-US')} devices in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );

    const broker = spawnNode('server', join(COMPILED_LIB_DIR, 'aedes-child.js'));
    const { port } = await awaitMessage<{ port: number }>(broker, 'ready');
    ctx.onCleanup(async () => {
      broker.disconnect();
      await new Promise((r) => setTimeout(r, 50));
    });
    const bareUrl = `mqtt://127.0.0.1:${port}`;

    let base = 0;
    const ackedHub = new Array<number>(devices).fill(-1);
    const latencies: number[] = [];
    let peakRss = 0;
    const hubRun = async () => {
      base += 100_000_000;
      const r = await publishFor(hub.mqttUrl as string, devices, ctx.settings.seconds, base);
      r.acked.forEach((v, i) => {
        if (v > (ackedHub[i] ?? -1)) ackedHub[i] = v;
      });
      latencies.push(...r.latencies);
      peakRss = Math.max(peakRss, hub.peakRssMiB());
      return r.rate;
    };
    const baseRun = async () => {
      // A subscriber receives what passes through, at QoS 1 like the hub's ingestion.
      const sub = await mqtt.connectAsync(bareUrl, { reconnectPeriod: 0 });
      let received = 0;
      sub.on('message', () => received++);
      await sub.subscribeAsync(`/json/${KEY}/+/attrs`, { qos: 1 });
      const r = await publishFor(bareUrl, devices, ctx.settings.seconds, 0);
      const sent = r.rate;
      await sub.endAsync();
      if (received === 0) throw new Error('ingest: the bare broker passed nothing through');
      return sent;
    };
    await hubRun(); // warm-up
    const runs = await alternate(ctx, 'ingest', { hub: hubRun, baseline: baseRun }, (r) => r, 'readings/s');
    // Every acknowledged reading is in the store: each device holds at least its last acked value.
    let lost = 0;
    for (let offset = 0; offset < devices; offset += 1000) {
      const res = await fetch(
        `${hub.url}/ngsi-ld/v1/entities?type=NoiseSensor&options=keyValues&attrs=level&limit=1000&offset=${offset}`,
        { headers: { 'NGSILD-Tenant': TENANT } },
      );
      const list = (await res.json()) as { id: string; level?: number }[];
      for (const e of list) {
        const want = ackedHub[Number(e.id.slice('urn:ngsi-ld:NoiseSensor:d'.length))] ?? -1;
        if (want >= 0 && (e.level === undefined || e.level < want)) lost++;
      }
    }
    await hub.stop();
    if (lost > 0) throw new Error(`ingest: ${lost} devices lost an acknowledged reading`);
    const checked = ackedHub.filter((v) => v >= 0).length;
    return {
      results: [
        ratioRow('ingest', runs.hub, runs.baseline, TARGET, 'readings/s'),
        {
          scenario: 'ingest: p99 publish-to-queryable',
          value: Math.round(p99(latencies) * 10) / 10,
          baseline: null,
          ratio: null,
          target: null,
          unit: 'ms',
        },
        {
          scenario: 'memory: hub during ingest',
          value: Math.round(peakRss),
          baseline: null,
          ratio: null,
          target: null,
          unit: 'MiB',
        },
      ],
      notes: [
        `ingest: zero readings lost: the last acknowledged reading of all ${checked.toLocaleString('en-US')} devices that got one is stored`,
      ],
    };
  },
};
