/**
 * The help of the `citypivot` command: one entry per command, each with its usage, options and
 * examples. `citypivot help` lists every command; `citypivot help COMMAND` and `citypivot COMMAND
 * --help` print that command's entry.
 */
import { ROLES } from '../core/access/access-model.js';

export interface CommandHelp {
  name: string;
  /** One line for the list of commands. */
  summary: string;
  /** The whole entry: usage, options, examples. */
  text: string;
}

const DB_OPTION = `  --db SETTING        CITYPIVOT_DB        ./data (embedded PostgreSQL in a directory, default),
                                          memory:// (embedded, temporary), postgres://user@host:port/db`;

const ADMIN_NOTE = `An embedded data directory (./data) belongs to the hub running on it: stop that hub first, or
do the same through its API (/api/v1/…) while it runs. On an external PostgreSQL (--db
postgres://…) this command works while hubs run on the same database.`;

export const SERVE_OPTIONS_HELP = `Options (each also as an environment variable):
  --port N            CITYPIVOT_PORT      HTTP port (default 1026; 0 picks a free one)
  --host H            CITYPIVOT_HOST      address to listen on (default 127.0.0.1)
${DB_OPTION}
  --auth on|none      CITYPIVOT_AUTH      authentication and access control (default on); none is for
                                          local development and refused unless the host is loopback
  --tls-cert FILE     CITYPIVOT_TLS_CERT  serve HTTPS with this PEM certificate (with --tls-key)
  --tls-key FILE      CITYPIVOT_TLS_KEY   the PEM private key
  --oidc-issuer URL   CITYPIVOT_OIDC_ISSUER   accept access tokens of this OpenID Connect issuer
  --oidc-jwks-url URL CITYPIVOT_OIDC_JWKS_URL its JWKS (with --oidc-issuer); --oidc-audience A
  --no-mqtt           CITYPIVOT_NO_MQTT   no MQTT broker
  --mqtt-port N       CITYPIVOT_MQTT_PORT embedded MQTT broker port (default 1883)
  --mqtt URL          CITYPIVOT_MQTT      external MQTT broker (mqtt:// or mqtts://)
  --mqtt-anonymous    CITYPIVOT_MQTT_ANONYMOUS  accept devices without credentials on the embedded broker
  --no-fetch-contexts                     never fetch @context URLs from the network
  --log-level L       CITYPIVOT_LOG_LEVEL fatal, error, warn (default), info, debug, silent
  --temporal-limit N  CITYPIVOT_TEMPORAL_LIMIT
                                          instances per attribute in one temporal answer (default
                                          1000); past it the answer is 206 with Content-Range
  --entity-cache N    CITYPIVOT_ENTITY_CACHE
                                          entities kept in memory for GET by id (default 20000;
                                          0: off)
  --db-pool N         CITYPIVOT_DB_POOL   connections to the database at most (default 17)
  --trust-proxy LIST  CITYPIVOT_TRUST_PROXY
                                          proxies (addresses, CIDR ranges) whose X-Forwarded-For
                                          names the client; default none
  --deny-endpoints LIST                   CIDR ranges notifications and @context fetches may not
                      CITYPIVOT_DENY_ENDPOINTS  reach (link-local and cloud metadata never)
  --allow-endpoints LIST                  CIDR ranges they may reach although refused above
                      CITYPIVOT_ALLOW_ENDPOINTS
  --feed-retention D  CITYPIVOT_FEED_RETENTION
                                          how long the change feed keeps changes every consumer
                                          has read (ISO 8601, default PT1H); unread ones stay
  --aqi-standard S    CITYPIVOT_AQI_STANDARD
                                          the air quality index of the city: "HJ 633-2026"
                                          (in force, default), "HJ 633-2012", or "by-date"
                                          (2012 before 2026-03-01, 2026 from then)
  --no-indicators     CITYPIVOT_NO_INDICATORS=1
                                          derive no indicators (station AQI, traffic index…)
                                          from the change feed; the calculators stay
  --help, -h                              this text

Secrets come from the environment only: CITYPIVOT_ADMIN_PASSWORD (the first start's administrator
password, at least 10 characters of at least three kinds among lower-case letters, upper-case
letters, digits and other characters, without the user name; generated and printed once when
unset), CITYPIVOT_DATA_KEY or CITYPIVOT_DATA_KEY_FILE (the key of sensitive
personal values; see docs/security.md).`;

const SERVE: CommandHelp = {
  name: 'serve',
  summary: 'run the hub (NGSI-LD API on /ngsi-ld/v1/, IoT on /iot/, platform API on /api/v1/)',
  text: `Usage: citypivot serve [options]

Runs the hub until SIGTERM or Ctrl+C. A start that cannot succeed (a port in use, a database out of
reach) stops with one message and exit code 1, having created nothing.

${SERVE_OPTIONS_HELP}

Examples:
  citypivot serve                                   ./data, port 1026, MQTT on 1883, authentication on
  citypivot serve --auth none --port 0 --db memory://   a throwaway hub for development
  citypivot serve --db postgres://citypivot@db.city.local:5432/citypivot --host 0.0.0.0`,
};

const DEMO: CommandHelp = {
  name: 'demo',
  summary: 'run the hub with a living demo city and the dashboard (what npm start runs)',
  text: `Usage: citypivot demo [options]

The hub (every serve option applies, but --no-mqtt) with a simulated city: districts, air quality
stations, traffic, parking, streetlights, incidents, and the dashboard at the hub's address.

Demo options (each also as an environment variable):
  --sensors N         CITYPIVOT_SENSORS   sensors in the demo city, 0 to 100000 (default 500)
  --speed X           CITYPIVOT_SPEED     simulated seconds per real second, more than 0 (default 1)
  --seed S            CITYPIVOT_SEED      the same seed builds the same city (default 20261202)
  --incident-every S  CITYPIVOT_INCIDENT_EVERY  mean seconds between incidents, 0 for none (default 90)
  (CITYPIVOT_DEMO_PASSWORD: the password of the demo's "operator" account; generated when unset)

Examples:
  citypivot demo
  citypivot demo --db memory:// --port 0 --sensors 2000 --speed 60`,
};

const CONTEXTS: CommandHelp = {
  name: 'contexts',
  summary: 'preload, list or remove stored @context documents',
  text: `Usage:
  citypivot contexts add URL FILE [--db SETTING]   store FILE as the @context document of URL
  citypivot contexts list [--db SETTING]           list stored @context documents
  citypivot contexts remove URL [--db SETTING]     remove one

A preloaded document is used instead of fetching its URL: useful on a network without internet.

Options:
${DB_OPTION}

${ADMIN_NOTE}

Examples:
  citypivot contexts add https://example.org/city/context.jsonld ./city-context.jsonld
  citypivot contexts list --db postgres://citypivot@db.city.local/citypivot`,
};

const DEVICES: CommandHelp = {
  name: 'devices',
  summary: 'provision devices from a CSV or JSON file',
  text: `Usage: citypivot devices import FILE [--service S] [--servicepath P] [--db SETTING]

FILE is a JSON array of IoT Agent device provisions, or a CSV with a header row naming their fields
(device_id, entity_name, entity_type, apikey, protocol, …; docs/iot.md). Exit 1 when any device
failed (each failure is printed), 0 when all were provisioned.

Options:
  --service S         CITYPIVOT_SERVICE   the tenant (fiware-service); default: the default tenant
  --servicepath P                         the fiware-servicepath; default /
${DB_OPTION}

${ADMIN_NOTE}

Example:
  citypivot devices import ./stations.csv --service environment --servicepath /air`,
};

const FEED: CommandHelp = {
  name: 'feed',
  summary: "the change feed's consumers: lag, holder; remove one that is gone",
  text: `Usage:
  citypivot feed consumers             every consumer: changes not read yet, age of the oldest,
                                       the hub instance running it, when its cursor last moved
  citypivot feed remove NAME           forget a consumer no longer in the code: read changes it
                                       holds back are then pruned (--feed-retention)

Options:
${DB_OPTION}

The same figures are in /metrics (citypivot_change_feed_lag_changes, _lag_seconds, _consumer_held).

Examples:
  citypivot feed consumers --db postgres://citypivot@db.city.local/citypivot
  citypivot feed remove indicators.old-air-quality`,
};

const HISTORY: CommandHelp = {
  name: 'history',
  summary: 'history retention, rollups and partitions',
  text: `Usage:
  citypivot history retention set [--tenant T] [--type TYPE] [--attr ATTR] DURATION
                             keep history for DURATION (ISO 8601, fixed: P90D, PT12H, P52W);
                             without --tenant/--type/--attr: the hub-wide policy ('*')
  citypivot history retention list     list the policies
  citypivot history retention remove [--tenant T] [--type TYPE] [--attr ATTR]
  citypivot history retention apply    apply the policies now (the hub also does it every hour)
  citypivot history rollups show       rows and time span of the per-minute and per-hour rollups
  citypivot history rollups rebuild [--tenant T]
                             recompute the rollups from the raw instances
  citypivot history partitions [--prepare]
                             list the monthly partitions (--prepare: create the coming ones)

Options:
${DB_OPTION}

${ADMIN_NOTE}

Examples:
  citypivot history retention set P365D
  citypivot history retention set --type AirQualityObserved P5Y`,
};

const USERS: CommandHelp = {
  name: 'users',
  summary: 'accounts: add, list, change roles and department, passwords, unlock, TOTP, remove',
  text: `Usage:
  citypivot users add NAME [--role R]... [--department D] [--display-name N]   create an account
  citypivot users list                list the accounts (department, roles, TOTP, state)
  citypivot users set NAME [--role R]... [--department D] [--display-name N] [--disable|--enable]
                                      change an account (new roles replace the old; --department ''
                                      removes it); a change of roles or a disabling ends its sessions
  citypivot users passwd NAME         set a new password and end the account's sessions
  citypivot users unlock NAME         clear failed logins and the lock
  citypivot users totp-reset NAME     remove the TOTP factor (the user enrols again at next login)
  citypivot users remove NAME         delete the account

Roles (--role, repeatable): ${ROLES.join(', ')}.
The department (--department) must exist: citypivot departments add creates one (or the API,
POST /api/v1/departments). What a department may read and write: citypivot policies.
The password comes from CITYPIVOT_USER_PASSWORD, or is asked for (without echo in a terminal,
else read from standard input). The default password policy: at least 10 characters of at least
three kinds among lower-case letters, upper-case letters, digits and other characters, without the
user name (PUT /api/v1/password-policy changes it).

Options:
${DB_OPTION}

${ADMIN_NOTE}

Examples:
  CITYPIVOT_USER_PASSWORD='Traffic-Desk-2026' citypivot users add li.wei --role department-user --department transport
  citypivot users set li.wei --role department-admin
  citypivot users unlock li.wei`,
};

const AUDIT: CommandHelp = {
  name: 'audit',
  summary: "verify the audit log's hash chain",
  text: `Usage: citypivot audit verify [--db SETTING]

Walks the audit log's hash chain from the first record; exit 0 when intact, 1 when a record was
changed, removed or inserted (the first bad record is named).

Options:
${DB_OPTION}

${ADMIN_NOTE}

Example:
  citypivot audit verify --db ./data`,
};

const DEPARTMENTS: CommandHelp = {
  name: 'departments',
  summary: 'add, list or remove departments',
  text: `Usage:
  citypivot departments add ID --name NAME [--parent P]   create a department (under P)
  citypivot departments list
  citypivot departments remove ID

A department owns accounts, API keys and devices; policies say what it may read and write. The
same checks and audit records as POST/GET/DELETE /api/v1/departments.

Options:
${DB_OPTION}

${ADMIN_NOTE}

Example:
  citypivot departments add transport --name "Transport Bureau" --parent city`,
};

const API_KEYS: CommandHelp = {
  name: 'api-keys',
  summary: "create, list or revoke API keys (a system's credential)",
  text: `Usage:
  citypivot api-keys add NAME [--role R]... [--department D] [--expires DATE]
                             create a key; its secret is printed this once (only its hash is kept)
  citypivot api-keys list
  citypivot api-keys revoke ID

Roles: department-user (default) or department-admin. Send the secret as the X-API-Key header.
The same checks and audit records as /api/v1/api-keys.

Options:
${DB_OPTION}

${ADMIN_NOTE}

Example:
  citypivot api-keys add signal-control --department transport --expires 2027-12-31T00:00:00Z`,
};

const POLICIES: CommandHelp = {
  name: 'policies',
  summary: 'what each department may read and write (add, list, remove)',
  text: `Usage:
  citypivot policies add --department D [--type T]... [--attr A]... [--action read|write]...
                         [--tenant T] [--context URL]
  citypivot policies list
  citypivot policies remove ID

A policy lets a department read (the default) or write entities of the types named (default:
every type, '*'), only the attributes named when --attr is given, in one tenant (default: the
default tenant; '*': every tenant). Type and attribute names are expanded with --context (a
bundled @context such as a Smart Data Models one), else with the NGSI-LD core context; full IRIs
stay. The same checks and audit records as /api/v1/policies.

Options:
${DB_OPTION}

${ADMIN_NOTE}

Example:
  citypivot policies add --department transport --type TrafficFlowObserved --action read --action write \\
    --context https://smart-data-models.github.io/dataModel.Transportation/context.jsonld`,
};

const VERSION: CommandHelp = {
  name: 'version',
  summary: 'print the version',
  text: 'Usage: citypivot version',
};

const HELP: CommandHelp = {
  name: 'help',
  summary: 'list the commands, or show one command (citypivot help COMMAND)',
  text: 'Usage: citypivot help [COMMAND]',
};

export const COMMANDS: readonly CommandHelp[] = [
  SERVE,
  DEMO,
  CONTEXTS,
  DEVICES,
  HISTORY,
  FEED,
  USERS,
  DEPARTMENTS,
  POLICIES,
  API_KEYS,
  AUDIT,
  VERSION,
  HELP,
];

export function commandHelp(name: string): CommandHelp | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** The list of every command. */
export function generalHelp(more: readonly Omit<CommandHelp, 'text'>[] = []): string {
  const all = [...COMMANDS, ...more];
  const width = Math.max(...all.map((c) => c.name.length)) + 2;
  return `Usage: citypivot COMMAND [options]

Commands:
${all.map((c) => `  ${c.name.padEnd(width)}${c.summary}`).join('\n')}

"citypivot COMMAND --help" (or "citypivot help COMMAND") shows a command's options and examples.
Exit codes: 0 success, 1 failure, 2 usage error.`;
}
