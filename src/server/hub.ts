/**
 * The composition root: from one configuration, open the database (embedded or external), the
 * store, the services and the HTTP app; start them in order and stop them in reverse.
 */
import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import type { EntityService } from '../broker/entity-service.js';
import type { Store } from '../core/store.js';
import { openDatabase } from '../store/database-setting.js';
import type { DatabaseHandle } from '../store/embedded-server.js';
import { createPostgresStore } from '../store/postgres-store.js';
import { createHubServices } from './hub-services.js';
import type { DeviceRegistry } from '../core/iot/device-registry.js';
import { startMqttGateway } from '../iot/mqtt-gateway.js';
import type { MqttGateway, MqttSetting } from '../iot/mqtt-gateway.js';
import { createPostgresIotRegistry } from '../store/postgres-iot.js';
import { createPostgresAccessStore, type AccessStore } from '../store/postgres-access.js';
import { hubAccessOptions, type HubAuthConfig } from '../access/access-config.js';
import type { HubAccess } from '../access/access-setup.js';
import type { ActiveContext } from '../core/context/active-context.js';
import type { IotService } from '../iot/iot-service.js';
import { defaultDashboardDir } from './dashboard-routes.js';
import type { OutboundRules } from './hub-services.js';

export interface HubConfig {
  port: number;
  host: string;
  /** ./data (embedded, a directory), memory:// (embedded, temporary) or postgres://… */
  db: string;
  /** Fetch unknown @context URLs from the network; default true. */
  fetchContexts?: boolean;
  /** Instances per attribute in one temporal answer before pagination (default 1000). */
  temporalLimit?: number;
  /** Entities held by the read-through entity cache (GET by id); 0: off; default 20,000. */
  entityCache?: number;
  logger?: boolean | object;
  log?: (line: string) => void;
  /** MQTT for devices: embedded broker (port 0 picks one), external broker, or off (default). */
  mqtt?: MqttSetting | { mode: 'off' };
  /** With authentication on, accept MQTT clients without credentials on the embedded broker. */
  mqttAnonymous?: boolean;
  /** Smart Data Models schemas for readings with schema_validation (dataModel.*\/{Type}/schema.json). */
  sdmSchemasDir?: string;
  /** Authentication and access control; absent: none (loopback development only, checked by the CLI). */
  auth?: HubAuthConfig;
  /** Serve HTTPS with these PEM files. */
  tls?: { cert: string; key: string };
  /** The dashboard's built files (web/dist) served at `/`; default: this package's, false: none. */
  dashboardDir?: string | false;
  /** Proxies whose X-Forwarded-For counts (addresses or CIDR ranges); default none. */
  trustProxy?: string[];
  /** Where outbound requests (notifications, @context fetches) may go besides the built-in rules. */
  outbound?: OutboundRules;
}

export interface Hub {
  url: string;
  app: FastifyInstance;
  store: Store;
  entities: EntityService;
  database: DatabaseHandle;
  /** mqtt://host:port of the MQTT broker devices use, when MQTT is on. */
  mqttUrl?: string;
  /** The IoT edge (provisioning, ingestion, device health). */
  iot?: IotService;
  /** The access layer, when authentication is on. */
  access?: HubAccess;
  /** Compiles an @context value (undefined: the core context). */
  resolveContext(value: unknown): Promise<ActiveContext>;
  stop(): Promise<void>;
}

export async function startHub(config: HubConfig): Promise<Hub> {
  const log = config.log ?? (() => undefined);
  const database = await openDatabase(config.db, log);
  let store: Store | undefined;
  let registry: DeviceRegistry | undefined;
  let gateway: MqttGateway | undefined;
  let accessStore: AccessStore | undefined;
  try {
    store = await createPostgresStore({ url: database.url });
    registry = createPostgresIotRegistry({ url: database.url });
    if (config.auth) accessStore = createPostgresAccessStore({ url: database.url });
    const access =
      accessStore && config.auth
        ? await hubAccessOptions(config.auth, accessStore, config.db, log)
        : undefined;
    const https = config.tls
      ? { cert: await readFile(config.tls.cert), key: await readFile(config.tls.key) }
      : undefined;
    const services = await createHubServices(store, {
      iot: { registry, ...(config.sdmSchemasDir ? { schemasDir: config.sdmSchemasDir } : {}) },
      ...(access ? { access } : {}),
      ...(https ? { https } : {}),
      ...(config.fetchContexts === undefined ? {} : { fetchContexts: config.fetchContexts }),
      ...(config.temporalLimit === undefined ? {} : { temporalLimit: config.temporalLimit }),
      ...(config.entityCache === undefined
        ? {}
        : { entityCache: config.entityCache === 0 ? false : { maxEntries: config.entityCache } }),
      ...(config.logger === undefined ? {} : { logger: config.logger }),
      ...(config.trustProxy ? { trustProxy: config.trustProxy } : {}),
      ...(config.outbound ? { outbound: config.outbound } : {}),
      ...(config.dashboardDir === false
        ? {}
        : { dashboardDir: config.dashboardDir ?? defaultDashboardDir() }),
      // Background work (notification delivery, periodic runs) reports what went wrong here.
      onError: (err: unknown) =>
        log(`citypivot: background error: ${err instanceof Error ? err.message : String(err)}`),
    });
    const { app, entities } = services;
    const address = await app.listen({ port: config.port, host: config.host });
    await services.start();
    if (config.mqtt && config.mqtt.mode !== 'off' && services.iot) {
      const authority = services.access?.mqttAuthority(config.mqttAnonymous ?? false);
      gateway = await startMqttGateway({
        iot: services.iot,
        setting: config.mqtt,
        log,
        ...(authority ? { authority } : {}),
      });
    }
    const s = store;
    const reg = registry;
    const acc = accessStore;
    const mqtt = gateway;
    let stopping: Promise<void> | undefined;
    return {
      url: address,
      app,
      store: s,
      entities,
      database,
      ...(mqtt ? { mqttUrl: mqtt.url } : {}),
      ...(services.iot ? { iot: services.iot } : {}),
      ...(services.access ? { access: services.access } : {}),
      resolveContext: (v) => services.resolver.resolve(v),
      stop() {
        stopping ??= (async () => {
          await mqtt?.stop();
          await services.stop();
          await app.close();
          await reg.close();
          await acc?.close();
          await s.close();
          await database.stop();
        })();
        return stopping;
      },
    };
  } catch (err) {
    await gateway?.stop().catch(() => undefined);
    await registry?.close().catch(() => undefined);
    await accessStore?.close().catch(() => undefined);
    await store?.close().catch(() => undefined);
    await database.stop().catch(() => undefined);
    throw err;
  }
}
