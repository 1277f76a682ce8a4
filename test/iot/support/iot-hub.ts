/**
 * A hub with the IoT edge on a fresh database, driven with inject, plus an MQTT gateway: the
 * embedded broker on port 0, or the external broker of TEST_MQTT_URL when `external` is asked.
 */
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import mqtt from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { join } from 'node:path';
import { createHubServices } from '../../../src/server/hub-services.js';
import { createPostgresStore } from '../../../src/store/postgres-store.js';
import { createPostgresIotRegistry } from '../../../src/iot/postgres-iot.js';
import { startMqttGateway } from '../../../src/iot/mqtt-gateway.js';
import type { MqttGateway } from '../../../src/iot/mqtt-gateway.js';
import type { IotService } from '../../../src/iot/iot-service.js';
import type { EntityService } from '../../../src/broker/entity-service.js';
import type { Store } from '../../../src/core/store.js';
import { createTestDatabase, type TestDatabase } from '../../support/db.js';
import { createPostgresAccessStore } from '../../../src/access/postgres-access.js';
import { openPool } from '../../../src/store/database.js';
import type { HubAccess } from '../../../src/access/access-setup.js';

export const ADMIN_PASSWORD = 'Chief-Passw0rd!';

export const SDM_DIR = join(import.meta.dirname, '../../../vendor/smart-data-models');

export interface IotTestHub {
  app: FastifyInstance;
  /** The test database (its URL and a small pool), for checks in SQL. */
  db: TestDatabase;
  store: Store;
  iot: IotService;
  /** The entity service (its write queue's group commit counts). */
  entities: EntityService;
  mqttUrl: string | undefined;
  request(opts: InjectOptions): Promise<LightMyRequestResponse>;
  /** The access layer, when the hub was made with `auth`. */
  access?: HubAccess;
  /** An MQTT client connected to the gateway's broker. */
  client(options?: IClientOptions): Promise<MqttClient>;
  close(): Promise<void>;
}

export async function createIotTestHub(
  opts: {
    mqtt?: 'embedded' | 'external' | 'off';
    healthSweepMs?: number;
    /** Authentication on (admin password ADMIN_PASSWORD, no TOTP); `anonymous`: MQTT without credentials too. */
    auth?: { anonymous?: boolean; decisionTtlMs?: number };
  } = {},
): Promise<IotTestHub> {
  const db = await createTestDatabase();
  const pool = openPool({ url: db.url, max: 8 });
  const store = await createPostgresStore({ url: db.url, pool });
  const registry = createPostgresIotRegistry(pool);
  const accessStore = opts.auth ? createPostgresAccessStore(pool) : undefined;
  const services = await createHubServices(store, {
    fetchContexts: false,
    iot: { registry, schemasDir: SDM_DIR, counterFlushMs: 100, healthSweepMs: opts.healthSweepMs ?? 50 },
    ...(accessStore
      ? {
          access: {
            store: accessStore,
            adminPassword: ADMIN_PASSWORD,
            adminTotp: false,
            rateLimit: false as const,
          },
        }
      : {}),
  });
  // The first administrator (the hub creates it in services.start(), which also starts background
  // work these tests run by hand).
  await services.access?.bootstrap();
  const iot = services.iot as IotService;
  const mode = opts.mqtt ?? 'embedded';
  const authority = services.iotModule?.mqttAuthority(opts.auth?.anonymous ?? false);
  let gateway: MqttGateway | undefined;
  if (mode === 'embedded')
    gateway = await startMqttGateway({
      iot,
      setting: { mode: 'embedded', port: 0 },
      ...(authority ? { authority } : {}),
      ...(opts.auth?.decisionTtlMs !== undefined ? { decisionTtlMs: opts.auth.decisionTtlMs } : {}),
    });
  else if (mode === 'external') {
    const url = process.env.TEST_MQTT_URL;
    if (!url) throw new Error('TEST_MQTT_URL is not set');
    gateway = await startMqttGateway({ iot, setting: { mode: 'external', url } });
  }
  const clients: MqttClient[] = [];
  return {
    app: services.app,
    db,
    store,
    iot,
    entities: services.entities,
    mqttUrl: gateway?.url,
    request: (o) => services.app.inject(o),
    ...(services.access ? { access: services.access } : {}),
    async client(options: IClientOptions = {}) {
      if (!gateway) throw new Error('No MQTT in this hub');
      const c = await mqtt.connectAsync(gateway.url, { reconnectPeriod: 0, ...options });
      clients.push(c);
      return c;
    },
    async close() {
      for (const c of clients) await c.endAsync(true);
      await gateway?.stop();
      await services.stop();
      await services.app.close();
      await store.close();
      await pool.end();
      await db.drop();
    },
  };
}

/** Polls `fn` until it returns a value that is not undefined, or fails after `ms`. */
export async function until<T>(
  fn: () => Promise<T | undefined>,
  ms = 10_000,
  what = 'the condition',
): Promise<T> {
  const deadline = Date.now() + ms;
  let delay = 10;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 200);
  }
}

export const svc = (service: string, path = '/') => ({
  'fiware-service': service,
  'fiware-servicepath': path,
});
