/**
 * The `citypivot` command: serve, contexts. Exit codes: 0 ok, 1 failure, 2 usage error.
 */
import { readFile } from 'node:fs/promises';
import { createPostgresStore } from '../store/postgres-store.js';
import { openDatabase } from '../store/database-setting.js';
import { UsageError, isLoopback, parseServeArgs } from './config.js';
import { listenForStopSignals, startHubFromConfig, untilSignal, version } from './hub-runner.js';
import { DEMO_USAGE, demoCommand } from './demo-command.js';
import { devicesCommand } from './device-commands.js';
import { HISTORY_USAGE, historyCommand } from './history-commands.js';
import { USERS_USAGE, auditCommand, usersCommand } from './user-commands.js';

const USAGE = `Usage: citypivot <command> [options]

Commands:
  serve                      run the hub (NGSI-LD API on /ngsi-ld/v1/)
  demo                       run the hub with a living demo city and the dashboard (what npm start runs)
  contexts add URL FILE      preload an @context document for URL from FILE (no network needed later)
  contexts list              list stored @context documents
  contexts remove URL        remove a stored @context document
  devices import FILE        provision devices from a CSV or JSON file (--service S --servicepath P --db …)
  help                       show this help

serve options (each also as an environment variable):
  --port N            CITYPIVOT_PORT      HTTP port (default 1026; 0 picks a free one)
  --host H            CITYPIVOT_HOST      address to listen on (default 127.0.0.1)
  --db SETTING        CITYPIVOT_DB        ./data (embedded PostgreSQL in a directory, default),
                                          memory:// (embedded, temporary), postgres://user@host:port/db
  --auth on|none      CITYPIVOT_AUTH      authentication and access control (default on); none is for
                                          local development and refused unless the host is loopback
  --tls-cert FILE     CITYPIVOT_TLS_CERT  serve HTTPS with this PEM certificate (with --tls-key)
  --tls-key FILE      CITYPIVOT_TLS_KEY   the PEM private key
  --oidc-issuer URL   CITYPIVOT_OIDC_ISSUER   accept access tokens of this OpenID Connect issuer
  --oidc-jwks-url URL CITYPIVOT_OIDC_JWKS_URL its JWKS (with --oidc-issuer); --oidc-audience A
  (CITYPIVOT_ADMIN_PASSWORD: the first start's admin password; CITYPIVOT_DATA_KEY or
   CITYPIVOT_DATA_KEY_FILE: the key of sensitive personal values, see docs/security.md)
  --no-mqtt           CITYPIVOT_NO_MQTT   no MQTT broker
  --mqtt-port N       CITYPIVOT_MQTT_PORT embedded MQTT broker port (default 1883)
  --mqtt URL          CITYPIVOT_MQTT      external MQTT broker
  --mqtt-anonymous    CITYPIVOT_MQTT_ANONYMOUS  accept devices without credentials on the embedded broker
  --no-fetch-contexts                     never fetch @context URLs from the network
  --log-level L       CITYPIVOT_LOG_LEVEL fatal, error, warn (default), info, debug, silent
  --temporal-limit N  CITYPIVOT_TEMPORAL_LIMIT
                                          instances per attribute in one temporal answer (default
                                          1000); past it the answer is 206 with Content-Range
  --entity-cache N    CITYPIVOT_ENTITY_CACHE
                                          entities kept in memory for GET by id (default 20000;
                                          0: off)
  --trust-proxy LIST  CITYPIVOT_TRUST_PROXY
                                          proxies (addresses, CIDR ranges) whose X-Forwarded-For
                                          names the client; default none
  --deny-endpoints LIST                   CIDR ranges notifications and @context fetches may not
                      CITYPIVOT_DENY_ENDPOINTS  reach (link-local and cloud metadata never)
  --allow-endpoints LIST                  CIDR ranges they may reach although refused above
                      CITYPIVOT_ALLOW_ENDPOINTS

contexts options:
  --db SETTING        CITYPIVOT_DB        as for serve
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serve(rest);
      case 'demo':
        return await demoCommand(rest);
      case 'contexts':
        return await contexts(rest);
      case 'devices':
        return await devicesCommand(rest);
      case 'history':
        return await historyCommand(rest);
      case 'users':
        return await usersCommand(rest);
      case 'audit':
        return await auditCommand(rest);
      case 'version':
      case '--version':
        console.log(version());
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        console.log(`${USAGE}\n${DEMO_USAGE}\n${HISTORY_USAGE}\n${USERS_USAGE}`);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`Unknown command ${JSON.stringify(command)}`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`citypivot: ${err.message}\nRun "citypivot help" for usage.`);
      return 2;
    }
    console.error(`citypivot: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

async function serve(argv: string[]): Promise<number> {
  const cfg = parseServeArgs(argv, process.env);
  if (cfg.help) {
    console.log(USAGE);
    return 0;
  }
  // parseServeArgs refuses --auth none on other hosts already; this guards callers that build the config.
  if (cfg.auth === 'none' && !isLoopback(cfg.host)) {
    throw new UsageError(
      `--auth none is for local development only: refusing to listen on ${cfg.host} without authentication`,
    );
  }
  const log = (line: string) => console.log(line);
  // Listening from before the start: a signal while starting abandons the start in order (exit 1).
  const signals = listenForStopSignals();
  try {
    const hub = await startHubFromConfig(cfg, log, signals);
    await untilSignal(hub, log, signals);
  } finally {
    signals.close();
  }
  log('stopped');
  return 0;
}

async function contexts(argv: string[]): Promise<number> {
  const dbIdx = argv.indexOf('--db');
  let db = process.env.CITYPIVOT_DB || './data';
  if (dbIdx >= 0) {
    const v = argv[dbIdx + 1];
    if (v === undefined) throw new UsageError('--db needs a value');
    db = v;
    argv = [...argv.slice(0, dbIdx), ...argv.slice(dbIdx + 2)];
  }
  const [sub, ...args] = argv;
  if (sub !== 'add' && sub !== 'list' && sub !== 'remove')
    throw new UsageError('contexts: use add, list or remove');
  let doc: unknown;
  if (sub === 'add') {
    const [url, file] = args;
    if (!url || !file || args.length !== 2) throw new UsageError('contexts add needs URL and FILE');
    if (!/^https?:\/\/\S+$/.test(url)) throw new UsageError(`Not an http(s) URL: ${url}`);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new Error(`Cannot read ${file}: ${(err as Error).message}`, { cause: err });
    }
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new Error(`${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
    if (typeof doc !== 'object' || doc === null || !('@context' in doc))
      throw new Error(`${file} has no @context member`);
  } else if (sub === 'remove' && args.length !== 1) throw new UsageError('contexts remove needs URL');
  const database = await openDatabase(db);
  try {
    const store = await createPostgresStore({ url: database.url, max: 2 });
    try {
      if (sub === 'add') {
        await store.contexts.put(args[0] as string, doc, 'preloaded');
        console.log(`Stored @context for ${args[0]}`);
      } else if (sub === 'list') {
        for (const r of await store.contexts.list()) console.log(`${r.origin.padEnd(9)} ${r.url}`);
      } else {
        const ok = await store.contexts.delete(args[0] as string);
        if (!ok) throw new Error(`No stored @context for ${args[0]}`);
        console.log(`Removed ${args[0]}`);
      }
    } finally {
      await store.close();
    }
  } finally {
    await database.stop();
  }
  return 0;
}
