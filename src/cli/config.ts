/**
 * Command-line flags and their environment variables (CITYPIVOT_<FLAG>): the flag wins, then the
 * variable, then the default. Pure, so that it is tested without starting anything.
 */
import { parseArgs } from 'node:util';
import { formatCidr, parseCidrList } from '../core/addresses/cidr.js';
import { fixedMs, isFixed, parseDuration } from '../core/temporal/duration.js';
import { AQI_STANDARD_CHOICES, type AqiStandardChoice } from '../environment/aqi-edition.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface ServeConfig {
  port: number;
  host: string;
  db: string;
  auth: 'none' | 'on';
  /** TLS: PEM files of the key and certificate (both or neither). */
  tls?: { cert: string; key: string };
  /** An external OpenID Connect provider whose tokens are accepted. */
  oidc?: { issuer: string; jwksUrl: string; audience?: string };
  mqtt: { mode: 'off' } | { mode: 'embedded'; port: number } | { mode: 'external'; url: string };
  /** Accept MQTT clients without credentials on the embedded broker although authentication is on. */
  mqttAnonymous: boolean;
  fetchContexts: boolean;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'silent';
  /** Instances per attribute in one temporal response before pagination (NGSI-LD §6.3.10). */
  temporalLimit?: number;
  /** Entities held by the read-through entity cache; 0 turns it off (default 20,000). */
  entityCache?: number;
  /** Connections to the database at most, one pool for the whole hub (default 17). */
  dbPool?: number;
  /**
   * Proxies whose X-Forwarded-For is believed (addresses or CIDR ranges); empty: none, the
   * address of the connection is the client's (rate limits, audit).
   */
  trustProxy: string[];
  /** Outbound requests (notifications, @context fetches): ranges refused besides the built-in ones. */
  denyEndpoints: string[];
  /** Outbound requests: ranges allowed even where the built-in rules refuse them. */
  allowEndpoints: string[];
  /** How long the change feed keeps changes every consumer has read (ms; default 1 hour). */
  feedRetentionMs?: number;
  /**
   * The air quality index standard of the city (default: the one in force, HJ 633-2026), or
   * `by-date`: the edition in force on each observation's date (2012 before 2026-03-01).
   */
  aqiStandard?: AqiStandardChoice;
  /** Keep the derived indicators up to date (default true; --no-indicators: calculators only). */
  indicators: boolean;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'silent'] as const;

export const SERVE_OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  db: { type: 'string' },
  auth: { type: 'string' },
  mqtt: { type: 'string' },
  'mqtt-port': { type: 'string' },
  'no-mqtt': { type: 'boolean' },
  'mqtt-anonymous': { type: 'boolean' },
  'no-fetch-contexts': { type: 'boolean' },
  'log-level': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'oidc-issuer': { type: 'string' },
  'oidc-jwks-url': { type: 'string' },
  'oidc-audience': { type: 'string' },
  'temporal-limit': { type: 'string' },
  'entity-cache': { type: 'string' },
  'db-pool': { type: 'string' },
  'trust-proxy': { type: 'string' },
  'deny-endpoints': { type: 'string' },
  'allow-endpoints': { type: 'string' },
  'feed-retention': { type: 'string' },
  'aqi-standard': { type: 'string' },
  'no-indicators': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * `--flag VALUE` as `--flag=VALUE` for the options that take a value, so that a value beginning
 * with `-` (`--speed -1`) reaches the flag's own check instead of parseArgs' "ambiguous".
 */
function attachValues(argv: string[], options: Record<string, { type: string }>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const next = argv[i + 1];
    if (
      a.startsWith('--') &&
      !a.includes('=') &&
      options[a.slice(2)]?.type === 'string' &&
      next !== undefined
    ) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

export function parseServeArgs(argv: string[], env: NodeJS.ProcessEnv): ServeConfig & { help: boolean } {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: attachValues(argv, SERVE_OPTIONS),
      options: SERVE_OPTIONS,
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const pick = (flag: string, envName: string): string | undefined => {
    const v = values[flag];
    if (typeof v === 'string') return v;
    const e = env[envName];
    return e === undefined || e === '' ? undefined : e;
  };
  const port = toPort(pick('port', 'CITYPIVOT_PORT') ?? '1026', '--port');
  const host = pick('host', 'CITYPIVOT_HOST') ?? '127.0.0.1';
  const db = pick('db', 'CITYPIVOT_DB') ?? './data';
  const authRaw = pick('auth', 'CITYPIVOT_AUTH') ?? 'on';
  if (authRaw !== 'none' && authRaw !== 'on')
    throw new UsageError(`--auth must be "on" or "none" (got ${JSON.stringify(authRaw)})`);
  if (authRaw === 'none' && !isLoopback(host))
    throw new UsageError(
      `--auth none is for local development only: refusing to listen on ${host} without authentication (use a loopback host such as 127.0.0.1, or leave authentication on)`,
    );
  const tlsCert = pick('tls-cert', 'CITYPIVOT_TLS_CERT');
  const tlsKey = pick('tls-key', 'CITYPIVOT_TLS_KEY');
  if ((tlsCert === undefined) !== (tlsKey === undefined))
    throw new UsageError('--tls-cert and --tls-key go together');
  const oidcIssuer = pick('oidc-issuer', 'CITYPIVOT_OIDC_ISSUER');
  const oidcJwks = pick('oidc-jwks-url', 'CITYPIVOT_OIDC_JWKS_URL');
  const oidcAudience = pick('oidc-audience', 'CITYPIVOT_OIDC_AUDIENCE');
  if ((oidcIssuer === undefined) !== (oidcJwks === undefined))
    throw new UsageError('--oidc-issuer and --oidc-jwks-url go together');
  if (oidcJwks !== undefined && !/^https?:\/\/\S+$/.test(oidcJwks))
    throw new UsageError(`--oidc-jwks-url must be an http(s) URL (got ${JSON.stringify(oidcJwks)})`);
  const noMqtt =
    values['no-mqtt'] === true || ['1', 'true', 'yes'].includes((env.CITYPIVOT_NO_MQTT ?? '').toLowerCase());
  const mqttUrl = pick('mqtt', 'CITYPIVOT_MQTT');
  const mqttPort = toPort(pick('mqtt-port', 'CITYPIVOT_MQTT_PORT') ?? '1883', '--mqtt-port');
  let mqtt: ServeConfig['mqtt'];
  if (noMqtt || mqttUrl === 'off') mqtt = { mode: 'off' };
  else if (mqttUrl !== undefined) {
    if (!/^mqtts?:\/\/[^\s]+$/.test(mqttUrl))
      throw new UsageError(`--mqtt must be an mqtt:// or mqtts:// URL (got ${JSON.stringify(mqttUrl)})`);
    mqtt = { mode: 'external', url: mqttUrl };
  } else mqtt = { mode: 'embedded', port: mqttPort };
  const mqttAnonymous =
    values['mqtt-anonymous'] === true ||
    ['1', 'true', 'yes'].includes((env.CITYPIVOT_MQTT_ANONYMOUS ?? '').toLowerCase());
  const fetchContexts = !(values['no-fetch-contexts'] === true || env.CITYPIVOT_FETCH_CONTEXTS === 'false');
  const logLevel = (pick('log-level', 'CITYPIVOT_LOG_LEVEL') ?? 'warn') as ServeConfig['logLevel'];
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel))
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  const limitRaw = pick('temporal-limit', 'CITYPIVOT_TEMPORAL_LIMIT');
  if (
    limitRaw !== undefined &&
    (!/^\d+$/.test(limitRaw) || Number(limitRaw) < 1 || Number(limitRaw) > 1_000_000)
  )
    throw new UsageError(`--temporal-limit must be an integer 1-1000000 (got ${JSON.stringify(limitRaw)})`);
  const cacheRaw = pick('entity-cache', 'CITYPIVOT_ENTITY_CACHE');
  if (cacheRaw !== undefined && (!/^\d+$/.test(cacheRaw) || Number(cacheRaw) > 10_000_000))
    throw new UsageError(`--entity-cache must be an integer 0-10000000 (got ${JSON.stringify(cacheRaw)})`);
  const poolRaw = pick('db-pool', 'CITYPIVOT_DB_POOL');
  if (poolRaw !== undefined && (!/^\d+$/.test(poolRaw) || Number(poolRaw) < 2 || Number(poolRaw) > 1000))
    throw new UsageError(`--db-pool must be an integer 2-1000 (got ${JSON.stringify(poolRaw)})`);
  const ranges = (flag: string, envName: string): string[] => {
    const text = pick(flag, envName);
    if (text === undefined || text === 'none') return [];
    try {
      return parseCidrList(text).map(formatCidr);
    } catch (err) {
      throw new UsageError(`--${flag}: ${(err as Error).message}`);
    }
  };
  const retentionRaw = pick('feed-retention', 'CITYPIVOT_FEED_RETENTION');
  let feedRetentionMs: number | undefined;
  if (retentionRaw !== undefined) {
    const bad = () =>
      new UsageError(
        `--feed-retention must be an ISO 8601 duration of days, hours, minutes or seconds, such as PT1H or P7D (got ${JSON.stringify(retentionRaw)})`,
      );
    try {
      const d = parseDuration(retentionRaw);
      if (!isFixed(d)) throw bad();
      feedRetentionMs = fixedMs(d);
    } catch {
      throw bad();
    }
  }
  const aqiRaw = pick('aqi-standard', 'CITYPIVOT_AQI_STANDARD');
  if (aqiRaw !== undefined && !AQI_STANDARD_CHOICES.includes(aqiRaw as AqiStandardChoice))
    throw new UsageError(
      `--aqi-standard must be ${AQI_STANDARD_CHOICES.map((x) => `"${x}"`).join(' or ')} (got ${JSON.stringify(aqiRaw)})`,
    );
  const trustProxy = ranges('trust-proxy', 'CITYPIVOT_TRUST_PROXY');
  const denyEndpoints = ranges('deny-endpoints', 'CITYPIVOT_DENY_ENDPOINTS');
  const allowEndpoints = ranges('allow-endpoints', 'CITYPIVOT_ALLOW_ENDPOINTS');
  return {
    port,
    host,
    db,
    auth: authRaw,
    ...(tlsCert !== undefined && tlsKey !== undefined ? { tls: { cert: tlsCert, key: tlsKey } } : {}),
    ...(oidcIssuer !== undefined && oidcJwks !== undefined
      ? {
          oidc: {
            issuer: oidcIssuer,
            jwksUrl: oidcJwks,
            ...(oidcAudience ? { audience: oidcAudience } : {}),
          },
        }
      : {}),
    mqtt,
    mqttAnonymous,
    fetchContexts,
    logLevel,
    ...(limitRaw !== undefined ? { temporalLimit: Number(limitRaw) } : {}),
    ...(cacheRaw !== undefined ? { entityCache: Number(cacheRaw) } : {}),
    ...(poolRaw !== undefined ? { dbPool: Number(poolRaw) } : {}),
    trustProxy,
    denyEndpoints,
    allowEndpoints,
    ...(feedRetentionMs !== undefined ? { feedRetentionMs } : {}),
    ...(aqiRaw !== undefined ? { aqiStandard: aqiRaw as AqiStandardChoice } : {}),
    indicators: !(
      values['no-indicators'] === true ||
      ['1', 'true', 'yes'].includes((env.CITYPIVOT_NO_INDICATORS ?? '').toLowerCase())
    ),
    help: values.help === true,
  };
}

function toPort(s: string, flag: string): number {
  if (!/^\d+$/.test(s) || Number(s) > 65535)
    throw new UsageError(`${flag} must be a port number 0-65535 (got ${JSON.stringify(s)})`);
  return Number(s);
}

/** Loopback hosts, where an unauthenticated hub is acceptable for local development. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export interface DemoConfig extends ServeConfig {
  /** Sensors in the demo city (0 to 100,000; default 500). */
  sensors: number;
  /** Simulated seconds per real second (default 1). */
  speed: number;
  seed: number;
  /** Mean seconds between incidents; 0: none (default 90). */
  incidentEveryS: number;
}

const DEMO_OPTIONS = {
  sensors: { type: 'string' },
  speed: { type: 'string' },
  seed: { type: 'string' },
  'incident-every': { type: 'string' },
} as const;

/** `citypivot demo`: the serve flags plus --sensors, --speed, --seed, --incident-every. */
export function parseDemoArgs(argv: string[], env: NodeJS.ProcessEnv): DemoConfig & { help: boolean } {
  const own = new Set(Object.keys(DEMO_OPTIONS).map((k) => `--${k}`));
  const mine: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const name = a.split('=')[0] as string;
    if (!own.has(name)) rest.push(a);
    else if (a.includes('=')) mine.push(a);
    else mine.push(`${a}=${argv[++i] ?? ''}`);
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: mine, options: DEMO_OPTIONS, strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const pick = (flag: string, envName: string, dflt: string): string => {
    const v = values[flag];
    if (typeof v === 'string') return v;
    const e = env[envName];
    return e === undefined || e === '' ? dflt : e;
  };
  const number = (flag: string, envName: string, dflt: string, ok: (n: number) => boolean, what: string) => {
    const text = pick(flag, envName, dflt);
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n) || !ok(n))
      throw new UsageError(`--${flag} must be ${what} (got ${JSON.stringify(text)})`);
    return n;
  };
  const serve = parseServeArgs(rest, env);
  if (serve.mqtt.mode === 'off')
    throw new UsageError('the demo city publishes its readings over MQTT: drop --no-mqtt');
  return {
    ...serve,
    sensors: number(
      'sensors',
      'CITYPIVOT_SENSORS',
      '500',
      (n) => Number.isInteger(n) && n >= 0 && n <= 100_000,
      'an integer from 0 to 100000',
    ),
    speed: number(
      'speed',
      'CITYPIVOT_SPEED',
      '1',
      (n) => n > 0 && n <= 10_000,
      'a number above 0, at most 10000',
    ),
    seed: number(
      'seed',
      'CITYPIVOT_SEED',
      '20261202',
      (n) => Number.isInteger(n) && n >= 0,
      'a whole number',
    ),
    incidentEveryS: number(
      'incident-every',
      'CITYPIVOT_INCIDENT_EVERY',
      '90',
      (n) => n >= 0,
      'a number of seconds (0: no incidents)',
    ),
  };
}
