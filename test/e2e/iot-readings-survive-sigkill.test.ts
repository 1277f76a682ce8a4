/**
 * Issue 5's durability promise with real processes: readings a device got a PUBACK for (QoS 1, the
 * embedded broker acknowledges after the update commits) are all in the entity's history after the
 * hub is killed with SIGKILL and started again. Also: Debian's mosquitto_pub (mosquitto-clients,
 * installed by CI) publishes readings that reach the entity and its history.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

const BIN = join(import.meta.dirname, '../../bin/citypivot.js');
const MOSQUITTO_PUB = '/usr/bin/mosquitto_pub';
const TENANT = 'kill';
let db: TestDatabase;

beforeAll(async () => {
  if (!existsSync(join(import.meta.dirname, '../../dist/cli/main.js')))
    throw new Error('dist/ is missing: run npm run build');
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

function serve(mqttArgs: string[] = ['--mqtt-port', '0']) {
  const child = spawn(
    process.execPath,
    [BIN, 'serve', '--port', '0', ...mqttArgs, '--auth', 'none', '--db', db.url],
    {
      env: { ...process.env },
    },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const ready = (async () => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const http = /NGSI-LD API at (http:\/\/[^/\s]+)/.exec(out)?.[1];
      const broker = /MQTT for devices at (mqtt:\/\/[^\s]+)/.exec(out)?.[1];
      if (http && broker) return { http, broker };
      if (Date.now() > deadline) throw new Error(`no ready lines in: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return { child, ready, exit, output: () => out };
}

const json = (url: string, method: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method,
    headers: {
      'content-type': 'application/json',
      'fiware-service': TENANT,
      'fiware-servicepath': '/',
      ...headers,
    },
    body: JSON.stringify(body),
  });

async function history(http: string, id: string): Promise<number[]> {
  const res = await fetch(`${http}/ngsi-ld/v1/temporal/entities/${encodeURIComponent(id)}?attrs=level`, {
    headers: { 'NGSILD-Tenant': TENANT },
  });
  if (res.status !== 200) return [];
  const body = (await res.json()) as { level?: { value: number }[] | { value: number } };
  const list = body.level === undefined ? [] : Array.isArray(body.level) ? body.level : [body.level];
  return list.map((i) => i.value);
}

it('keeps every acknowledged reading across a SIGKILL, and takes readings from mosquitto_pub', async () => {
  const first = serve();
  const { http, broker } = await first.ready;
  const g = await json(`${http}/iot/services`, 'POST', {
    services: [{ apikey: 'k1', resource: '/iot/json', entity_type: 'Tank' }],
  });
  expect(g.status, await g.text()).toBe(201);
  const d = await json(`${http}/iot/devices`, 'POST', {
    devices: [
      {
        device_id: 'tank1',
        entity_name: 'urn:ngsi-ld:Tank:1',
        entity_type: 'Tank',
        attributes: [{ object_id: 'l', name: 'level', type: 'Number' }],
      },
    ],
  });
  expect(d.status, await d.text()).toBe(201);

  const client = await mqtt.connectAsync(broker, { reconnectPeriod: 0 });
  const acked: number[] = [];
  for (let i = 1; i <= 30; i++) {
    const at = new Date(Date.UTC(2026, 10, 1, 0, i)).toISOString();
    await client.publishAsync('/json/k1/tank1/attrs', JSON.stringify({ l: i, TimeInstant: at }), { qos: 1 });
    acked.push(i);
  }
  first.child.kill('SIGKILL');
  await first.exit;
  await client.endAsync(true).catch(() => undefined);

  const second = serve();
  try {
    const again = await second.ready;
    const stored = await history(again.http, 'urn:ngsi-ld:Tank:1');
    for (const v of acked) expect(stored).toContain(v);

    if (!existsSync(MOSQUITTO_PUB)) {
      console.warn(
        `${MOSQUITTO_PUB} not found (package mosquitto-clients): the mosquitto_pub part is skipped`,
      );
      return;
    }
    const url = new URL(again.broker);
    await promisify(execFile)(MOSQUITTO_PUB, [
      '-h',
      url.hostname,
      '-p',
      url.port,
      '-q',
      '1',
      '-t',
      '/json/k1/tank1/attrs',
      '-m',
      JSON.stringify({ l: 99, TimeInstant: '2026-11-02T00:00:00Z' }),
    ]);
    await expect.poll(() => history(again.http, 'urn:ngsi-ld:Tank:1'), { timeout: 10_000 }).toContain(99);
  } finally {
    second.child.kill('SIGTERM');
    await second.exit;
  }
});

const external = process.env.TEST_MQTT_URL;

it.runIf(external !== undefined && existsSync(MOSQUITTO_PUB))(
  'takes mosquitto_pub readings through an external Mosquitto into the entity and its history',
  async () => {
    const hub = serve(['--mqtt', external as string]);
    try {
      const { http } = await hub.ready;
      const key = `ext${Date.now().toString(36)}`;
      const g = await json(`${http}/iot/services`, 'POST', {
        services: [{ apikey: key, resource: '/iot/json', entity_type: 'Tank' }],
      });
      expect(g.status, await g.text()).toBe(201);
      const d = await json(`${http}/iot/devices`, 'POST', {
        devices: [
          {
            device_id: 'tank2',
            apikey: key,
            entity_name: 'urn:ngsi-ld:Tank:2',
            entity_type: 'Tank',
            attributes: [{ object_id: 'l', name: 'level', type: 'Number' }],
          },
        ],
      });
      expect(d.status, await d.text()).toBe(201);
      const url = new URL(external as string);
      const publish = (payload: string, topic = `/json/${key}/tank2/attrs`) =>
        promisify(execFile)(MOSQUITTO_PUB, [
          '-h',
          url.hostname,
          '-p',
          url.port,
          '-q',
          '1',
          '-t',
          topic,
          '-m',
          payload,
        ]);
      // The hub subscribes when it starts: publish until the first reading lands.
      await expect
        .poll(
          async () => {
            await publish(JSON.stringify({ l: 7, TimeInstant: '2026-11-03T00:00:00Z' }));
            return history(http, 'urn:ngsi-ld:Tank:2');
          },
          { timeout: 15_000, interval: 500 },
        )
        .toContain(7);
      await publish(`l|8`, `/ul/${key}/tank2/attrs`);
      await expect.poll(() => history(http, 'urn:ngsi-ld:Tank:2'), { timeout: 10_000 }).toContain(8);
    } catch (err) {
      const { http } = await hub.ready;
      const dev = await (
        await fetch(`${http}/iot/devices/tank2`, {
          headers: { 'fiware-service': TENANT, 'fiware-servicepath': '/' },
        })
      ).text();
      throw new Error(`${(err as Error).message}\nhub output:\n${hub.output()}\ndevice: ${dev}`, {
        cause: err,
      });
    } finally {
      hub.child.kill('SIGTERM');
      await hub.exit;
    }
  },
);
