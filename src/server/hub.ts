/**
 * The composition root: from one configuration, open the database (embedded or external), the
 * store, the services and the HTTP app; start them in order and stop them in reverse.
 */
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { EntityService } from '../broker/entity-service.js';
import type { Store } from '../core/store.js';
import { openDatabase } from '../store/database-setting.js';
import type { DatabaseHandle } from '../store/embedded-server.js';
import { createPostgresStore } from '../store/postgres-store.js';
import { openPool } from '../store/database.js';
import { migrateModules } from '../store/migrations.js';
import { createHubServices, MODULES } from './hub-services.js';
import { startMqttGateway } from '../iot/mqtt-gateway.js';
import type { MqttGateway, MqttSetting } from '../iot/mqtt-gateway.js';
import { createPostgresIotRegistry } from '../iot/postgres-iot.js';
import { createPostgresAccessStore } from '../access/postgres-access.js';
import { hubAccessOptions, type HubAuthConfig } from '../access/access-config.js';
import type { HubAccess } from '../access/access-setup.js';
import type { ActiveContext } from '../core/context/active-context.js';
import type { IotService } from '../iot/iot-service.js';
import { defaultDashboardDir } from './dashboard-routes.js';
import type { OutboundRules } from './hub-services.js';
import type { AqiStandardChoice } from '../environment/aqi-edition.js';

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
  /** Connections to the database at most (one pool for the whole hub); default 17. */
  dbPoolSize?: number;
  logger?: boolean | object;
  log?: (line: string) => void;
  /** MQTT for devices: embedded broker (port 0 picks one), external broker, or off (default). */
  mqtt?: MqttSetting | { mode: 'off' };
  /** With authentication on, accept MQTT clients without credentials on the embedded broker. */
  mqttAnonymous?: boolean;
  /**
   * Smart Data Models schemas for readings with schema_validation (dataModel.*\/{Type}/schema.json);
   * default: the copy shipped in vendor/smart-data-models.
   */
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
  /** How long the change feed keeps changes every consumer has read (ms; default 1 hour). */
  feedRetentionMs?: number;
  /** The air quality index standard of the city (default HJ 633-2026, the one in force), or `by-date`. */
  aqiStandard?: AqiStandardChoice;
  /** Keep the derived indicators (AQI, TPI…) up to date from the change feed (default true). */
  indicators?: boolean;
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

/** The Smart Data Models schemas shipped with CityPivot (vendor/smart-data-models, CC BY 4.0). */
export function defaultSdmSchemasDir(): string {
  return fileURLToPath(new URL('../../vendor/smart-data-models/', import.meta.url));
}

/** A port the hub needs is taken: found before anything is created or started. */
export class PortInUseError extends Error {
  constructor(
    readonly port: number,
    readonly host: string,
    readonly what: string,
    readonly remedy: string,
  ) {
    super(`port ${port} on ${host} (${what}) is in use by another program: stop that program, or ${remedy}`);
    this.name = 'PortInUseError';
  }
}

/**
 * Fails with {@link PortInUseError} when a fixed port the hub will listen on is taken, by
 * binding it for a moment: before the database is opened and before any account is created, so
 * that a start that cannot succeed changes nothing. (Port 0 is always free.)
 */
export async function checkPortsFree(config: Pick<HubConfig, 'port' | 'host' | 'mqtt'>): Promise<void> {
  const wanted: { port: number; host: string; what: string; remedy: string }[] = [
    {
      port: config.port,
      host: config.host,
      what: 'the HTTP API',
      remedy: 'choose another port with --port N (CITYPIVOT_PORT)',
    },
  ];
  if (config.mqtt?.mode === 'embedded')
    wanted.push({
      port: config.mqtt.port,
      host: config.mqtt.host ?? config.host,
      what: 'the embedded MQTT broker',
      remedy:
        'choose another port with --mqtt-port N, use that broker with --mqtt mqtt://host:port, or start without MQTT (--no-mqtt)',
    });
  for (const w of wanted) {
    if (w.port === 0) continue;
    await new Promise<void>((resolve, reject) => {
      const probe = createServer();
      probe.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') reject(new PortInUseError(w.port, w.host, w.what, w.remedy));
        else if (err.code === 'EACCES')
          reject(
            new Error(
              `port ${w.port} on ${w.host} (${w.what}) needs privileges this user does not have: ${w.remedy}`,
            ),
          );
        else reject(new Error(`cannot listen on ${w.host}:${w.port} (${w.what}): ${err.message}`));
      });
      probe.listen({ port: w.port, host: w.host, exclusive: true }, () => probe.close(() => resolve()));
    });
  }
}

export async function startHub(config: HubConfig): Promise<Hub> {
  const log = config.log ?? (() => undefined);
  await checkPortsFree(config);
  const database = await openDatabase(config.db, log);
  // The hub's one pool: the store, access and IoT run on it; it ends once, last.
  const pool = openPool({
    url: database.url,
    ...(config.dbPoolSize === undefined ? {} : { max: config.dbPoolSize }),
  });
  let store: Store | undefined;
  let gateway: MqttGateway | undefined;
  let services: Awaited<ReturnType<typeof createHubServices>> | undefined;
  try {
    store = await createPostgresStore({ url: database.url, pool });
    // The modules' own migrations, after the kernel's (the store applied those).
    await migrateModules(
      pool,
      MODULES.map((m) => ({ module: m.name, migrations: m.migrations ?? [] })),
    );
    const registry = createPostgresIotRegistry(pool);
    const accessStore = config.auth ? createPostgresAccessStore(pool) : undefined;
    const access =
      accessStore && config.auth
        ? await hubAccessOptions(config.auth, accessStore, config.db, log)
        : undefined;
    const https = config.tls
      ? { cert: await readFile(config.tls.cert), key: await readFile(config.tls.key) }
      : undefined;
    services = await createHubServices(store, {
      iot: { registry, schemasDir: config.sdmSchemasDir ?? defaultSdmSchemasDir() },
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
      ...(config.feedRetentionMs !== undefined ? { feed: { retentionMs: config.feedRetentionMs } } : {}),
      ...(config.aqiStandard !== undefined ? { aqiStandard: config.aqiStandard } : {}),
      ...(config.indicators === false ? { indicators: false } : {}),
      ...(config.dashboardDir === false
        ? {}
        : { dashboardDir: config.dashboardDir ?? defaultDashboardDir() }),
      // Background work (notification delivery, periodic runs) reports what went wrong here.
      onError: (err: unknown) =>
        log(`citypivot: background error: ${err instanceof Error ? err.message : String(err)}`),
    });
    const { app, entities } = services;
    const address = await app.listen({ port: config.port, host: config.host });
    if (config.mqtt && config.mqtt.mode !== 'off' && services.iot) {
      const authority = services.iotModule?.mqttAuthority(config.mqttAnonymous ?? false);
      gateway = await startMqttGateway({
        iot: services.iot,
        setting: config.mqtt,
        log,
        ...(authority ? { authority } : {}),
      });
    }
    // Last: the first administrator's account (and its one-time password), then background work.
    await services.start();
    const s = store;
    const live = services;
    const mqtt = gateway;
    let stopping: Promise<void> | undefined;
    return {
      url: address,
      app,
      store: s,
      entities,
      database,
      ...(mqtt ? { mqttUrl: mqtt.url } : {}),
      ...(live.iot ? { iot: live.iot } : {}),
      ...(live.access ? { access: live.access } : {}),
      resolveContext: (v) => live.resolver.resolve(v),
      stop() {
        stopping ??= (async () => {
          await mqtt?.stop();
          await live.stop();
          await app.close();
          await s.close();
          await pool.end();
          await database.stop();
        })();
        return stopping;
      },
    };
  } catch (err) {
    // Everything started is stopped before the pools end: no background work is left retrying
    // on a closed pool (a start that failed on its MQTT port once flooded the log until EMFILE).
    await gateway?.stop().catch(() => undefined);
    await services?.stop().catch(() => undefined);
    await services?.app.close().catch(() => undefined);
    await store?.close().catch(() => undefined);
    await pool.end().catch(() => undefined);
    await database.stop().catch(() => undefined);
    throw err;
  }
}
