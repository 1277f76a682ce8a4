/**
 * Command-line flags and their environment variables (CITYPIVOT_<FLAG>): the flag wins, then the
 * variable, then the default. Pure, so that it is tested without starting anything.
 */
import { parseArgs } from 'node:util';

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface ServeConfig {
  port: number;
  host: string;
  db: string;
  auth: 'none' | 'on';
  mqtt: { mode: 'off' } | { mode: 'embedded'; port: number } | { mode: 'external'; url: string };
  fetchContexts: boolean;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'silent';
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
  'no-fetch-contexts': { type: 'boolean' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function parseServeArgs(argv: string[], env: NodeJS.ProcessEnv): ServeConfig & { help: boolean } {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: argv, options: SERVE_OPTIONS, strict: true, allowPositionals: false }).values;
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
    throw new UsageError(`--auth must be "none" (got ${JSON.stringify(authRaw)})`);
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
  const fetchContexts = !(values['no-fetch-contexts'] === true || env.CITYPIVOT_FETCH_CONTEXTS === 'false');
  const logLevel = (pick('log-level', 'CITYPIVOT_LOG_LEVEL') ?? 'warn') as ServeConfig['logLevel'];
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel))
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}`);
  return { port, host, db, auth: authRaw, mqtt, fetchContexts, logLevel, help: values.help === true };
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
