/**
 * Starting the hub from a command's configuration and running it until a signal: shared by
 * `citypivot serve` and `citypivot demo`.
 */
import { createRequire } from 'node:module';
import { describeDatabase, interruptDatabaseStarts } from '../store/database-setting.js';
import { startHub, type Hub } from '../server/hub.js';
import type { ServeConfig } from './config.js';

export function version(): string {
  const require = createRequire(import.meta.url);
  return (require('../../package.json') as { version: string }).version;
}

export type StopSignal = 'SIGTERM' | 'SIGINT';

/**
 * SIGTERM and SIGINT, listened to from before the hub starts: while listening, neither ends the
 * process by its default action, so that a start can be abandoned in order.
 */
export interface StopSignals {
  /** The first one received, if any. */
  received(): StopSignal | undefined;
  /** Calls `f` on the first one (at once if it came already); returns what cancels that. */
  on(f: (signal: StopSignal) => void): () => void;
  /** Stops listening (idempotent): the signals get their default action again. */
  close(): void;
}

export function listenForStopSignals(): StopSignals {
  let first: StopSignal | undefined;
  const waiting = new Set<(signal: StopSignal) => void>();
  const got = (signal: StopSignal) => {
    if (first) return; // a stop is under way already
    first = signal;
    for (const f of waiting) f(signal);
    waiting.clear();
  };
  const term = () => got('SIGTERM');
  const int = () => got('SIGINT');
  process.on('SIGTERM', term);
  process.on('SIGINT', int);
  return {
    received: () => first,
    on(f) {
      if (first) {
        f(first);
        return () => undefined;
      }
      waiting.add(f);
      return () => waiting.delete(f);
    },
    close() {
      process.off('SIGTERM', term);
      process.off('SIGINT', int);
    },
  };
}

/** The hub start was abandoned for a SIGTERM or SIGINT; what it had started is stopped. */
export class StartInterrupted extends Error {
  constructor(
    readonly signal: StopSignal,
    options?: { cause?: unknown },
  ) {
    super(
      `start interrupted by ${signal}: the hub was not started, and what had started was stopped`,
      options,
    );
    this.name = 'StartInterrupted';
  }
}

/**
 * Starts the hub a serve or demo configuration describes, and says where it is.
 *
 * SIGTERM or SIGINT while it starts abandons the start: a database start under way stops initdb
 * or the server it launched and removes a memory:// directory (interruptDatabaseStarts); a hub
 * that comes up nonetheless is stopped again; then it rejects with {@link StartInterrupted}.
 * `signals`: listeners the caller holds on to after the start (see {@link untilSignal}); default:
 * its own, for the start only.
 */
export async function startHubFromConfig(
  cfg: ServeConfig,
  log: (line: string) => void,
  signals?: StopSignals,
): Promise<Hub> {
  const listening = signals ?? listenForStopSignals();
  const cancel = listening.on((signal) => interruptDatabaseStarts(new StartInterrupted(signal)));
  try {
    const hub = await startLogged(cfg, log).catch((err: unknown) => {
      const signal = listening.received();
      throw signal ? new StartInterrupted(signal, { cause: err }) : err;
    });
    const signal = listening.received();
    if (signal) {
      await hub.stop().catch(() => undefined);
      throw new StartInterrupted(signal);
    }
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
  } finally {
    cancel();
    if (!signals) listening.close();
  }
}

async function startLogged(cfg: ServeConfig, log: (line: string) => void): Promise<Hub> {
  log(`CityPivot ${version()}: starting with database ${describeDatabase(cfg.db)}`);
  return startHub({
    port: cfg.port,
    host: cfg.host,
    db: cfg.db,
    fetchContexts: cfg.fetchContexts,
    ...(cfg.temporalLimit !== undefined ? { temporalLimit: cfg.temporalLimit } : {}),
    ...(cfg.entityCache !== undefined ? { entityCache: cfg.entityCache } : {}),
    ...(cfg.dbPool !== undefined ? { dbPoolSize: cfg.dbPool } : {}),
    ...(cfg.feedRetentionMs !== undefined ? { feedRetentionMs: cfg.feedRetentionMs } : {}),
    ...(cfg.aqiStandard !== undefined ? { aqiStandard: cfg.aqiStandard } : {}),
    ...(cfg.indicators ? {} : { indicators: false }),
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
}

/**
 * Runs until SIGTERM or SIGINT, then stops `what` (the hub, or the demo and its hub). `signals`:
 * the listeners of the start, closed once this one's are in place (no moment without any); a
 * signal they received already stops at once.
 */
export async function untilSignal(
  what: { stop(): Promise<void> },
  log: (line: string) => void,
  signals?: StopSignals,
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
    const early = signals?.received();
    signals?.close();
    if (early) stop(early);
  });
}
