/**
 * Starting the hub from a command's configuration and running it until a signal: shared by
 * `citypivot serve` and `citypivot demo`.
 */
import { createRequire } from 'node:module';
import { describeDatabase } from '../store/database-setting.js';
import { startHub, type Hub } from '../server/hub.js';
import type { ServeConfig } from './config.js';

export function version(): string {
  const require = createRequire(import.meta.url);
  return (require('../../package.json') as { version: string }).version;
}

/** Starts the hub a serve or demo configuration describes, and says where it is. */
export async function startHubFromConfig(cfg: ServeConfig, log: (line: string) => void): Promise<Hub> {
  log(`CityPivot ${version()}: starting with database ${describeDatabase(cfg.db)}`);
  const hub = await startHub({
    port: cfg.port,
    host: cfg.host,
    db: cfg.db,
    fetchContexts: cfg.fetchContexts,
    ...(cfg.temporalLimit !== undefined ? { temporalLimit: cfg.temporalLimit } : {}),
    ...(cfg.entityCache !== undefined ? { entityCache: cfg.entityCache } : {}),
    trustProxy: cfg.trustProxy,
    outbound: { deny: cfg.denyEndpoints, allow: cfg.allowEndpoints },
    logger: cfg.logLevel === 'silent' ? false : { level: cfg.logLevel },
    log,
    mqtt: cfg.mqtt.mode === 'embedded' ? { ...cfg.mqtt, host: cfg.host } : cfg.mqtt,
    mqttAnonymous: cfg.mqttAnonymous,
    ...(cfg.auth === 'on' ? { auth: cfg.oidc ? { oidc: cfg.oidc } : {} } : {}),
    ...(cfg.tls ? { tls: cfg.tls } : {}),
    ...(process.env.CITYPIVOT_SDM_SCHEMAS ? { sdmSchemasDir: process.env.CITYPIVOT_SDM_SCHEMAS } : {}),
  });
  log(`CityPivot is ready: NGSI-LD API at ${hub.url}/ngsi-ld/v1/ , health at ${hub.url}/health`);
  if (hub.mqttUrl) {
    const who =
      cfg.mqtt.mode !== 'embedded'
        ? ''
        : cfg.auth === 'none' || cfg.mqttAnonymous
          ? '; anonymous devices accepted'
          : '; devices log in with their credentials';
    log(`MQTT for devices at ${hub.mqttUrl} (IoT Agent topics${who}), provisioning at ${hub.url}/iot/`);
  }
  return hub;
}

/** Runs until SIGTERM or SIGINT, then stops `what` (the hub, or the demo and its hub). */
export async function untilSignal(
  what: { stop(): Promise<void> },
  log: (line: string) => void,
): Promise<void> {
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log(`${signal}: stopping`);
      what.stop().then(resolve, (err: unknown) => {
        console.error(`citypivot: error while stopping: ${(err as Error).message}`);
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
