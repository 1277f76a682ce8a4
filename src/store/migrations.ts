/**
 * Versioned schema migrations, applied in order at start under an advisory lock so that several
 * hub instances starting together apply each one once. Never edit a released migration: add one.
 */
import type { Pool, PoolClient } from 'pg';
import type { ModuleMigration } from '../core/module.js';
import { HISTORY_MIGRATION_SQL } from './history-schema.js';
import { ACCESS_MIGRATION_SQL } from './access-schema.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

// Tenant and entity id lead every key, so that the schema stays distributable (Citus) by tenant.
export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'entities',
    sql: `
      CREATE TABLE tenants (
        name text PRIMARY KEY,
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE entities (
        tenant text NOT NULL,
        id text NOT NULL,
        types text[] NOT NULL,
        scopes text[],
        created_at timestamptz NOT NULL,
        modified_at timestamptz NOT NULL,
        attrs jsonb NOT NULL,
        -- the attribute IRIs held, written with attrs: attribute existence and discovery
        attr_names text[] NOT NULL DEFAULT '{}',
        PRIMARY KEY (tenant, id)
      );
      -- type selection: types @> ARRAY[...]
      CREATE INDEX entities_types_idx ON entities USING gin (types);
      -- q on attribute values: jsonpath equality (@?); path_ops hashes path and value together,
      -- so that a test like name == "x" reads one short posting list
      CREATE INDEX entities_attrs_idx ON entities USING gin (attrs jsonb_path_ops);
      CREATE INDEX entities_attr_names_idx ON entities USING gin (attr_names);
      -- the default result order: creation order, then id
      CREATE INDEX entities_created_idx ON entities (tenant, created_at, id);
      -- id patterns anchored at the start
      CREATE INDEX entities_id_pattern_idx ON entities (tenant, id text_pattern_ops);
      -- one bounding box per entity and GeoProperty: GiST pre-filter, exact test in code
      CREATE TABLE entity_geo (
        tenant text NOT NULL,
        entity_id text NOT NULL,
        attr text NOT NULL,
        bbox box NOT NULL,
        PRIMARY KEY (tenant, entity_id, attr),
        FOREIGN KEY (tenant, entity_id) REFERENCES entities (tenant, id) ON DELETE CASCADE
      );
      CREATE INDEX entity_geo_bbox_idx ON entity_geo USING gist (bbox);
      -- discovery: which (type, attribute) pairs were ever written; verified against entities on read
      CREATE TABLE type_attributes (
        tenant text NOT NULL,
        type text NOT NULL,
        attr text NOT NULL,
        PRIMARY KEY (tenant, type, attr)
      );
      CREATE TABLE jsonld_contexts (
        url text PRIMARY KEY,
        local_id text NOT NULL UNIQUE,
        document jsonb NOT NULL,
        origin text NOT NULL CHECK (origin IN ('cached', 'preloaded', 'hosted')),
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz,
        use_count bigint NOT NULL DEFAULT 0
      );
    `,
  },
  {
    version: 2,
    name: 'subscriptions and notification outbox',
    sql: `
      CREATE TABLE subscriptions (
        tenant text NOT NULL,
        id text NOT NULL,
        doc jsonb NOT NULL,
        times_sent bigint NOT NULL DEFAULT 0,
        times_failed bigint NOT NULL DEFAULT 0,
        last_notification timestamptz,
        last_success timestamptz,
        last_failure timestamptz,
        last_error text,
        -- throttling: when the last notification was written to the outbox
        last_enqueued_at timestamptz,
        -- periodic subscriptions (timeInterval): when the next run is due, and who holds it
        next_run_at timestamptz,
        run_lease_until timestamptz,
        PRIMARY KEY (tenant, id)
      );
      CREATE INDEX subscriptions_periodic_idx ON subscriptions (next_run_at) WHERE next_run_at IS NOT NULL;
      -- bumped by every subscription change: an instance's cached list compares it in each write
      CREATE TABLE subscription_generations (
        tenant text PRIMARY KEY,
        generation bigint NOT NULL
      );
      -- written in the transaction of the change; a row lives until delivered (then deleted) or
      -- kept as failed for replay
      CREATE TABLE notification_outbox (
        seq bigserial PRIMARY KEY,
        tenant text NOT NULL,
        subscription_id text NOT NULL,
        notification_id text NOT NULL UNIQUE,
        order_key text NOT NULL,
        endpoint text NOT NULL,
        payload jsonb NOT NULL,
        state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'failed')),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        lease_until timestamptz,
        leased_by text,
        last_error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        FOREIGN KEY (tenant, subscription_id) REFERENCES subscriptions (tenant, id) ON DELETE CASCADE
      );
      CREATE INDEX outbox_due_idx ON notification_outbox (next_attempt_at, seq) WHERE state = 'pending';
      -- the head of each (subscription, entity) queue: delivery in order
      CREATE INDEX outbox_order_idx ON notification_outbox (tenant, subscription_id, order_key, seq)
        WHERE state = 'pending';
      CREATE INDEX outbox_sub_idx ON notification_outbox (tenant, subscription_id, state, seq);
    `,
  },
  { version: 3, name: 'attribute history, rollups and retention', sql: HISTORY_MIGRATION_SQL },
  {
    version: 4,
    name: 'iot device registry',
    sql: `
      -- FIWARE IoT Agent config groups; service is the NGSI-LD tenant, subservice the servicepath
      CREATE TABLE iot_service_groups (
        service text NOT NULL,
        subservice text NOT NULL,
        apikey text NOT NULL,
        resource text NOT NULL,
        config jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (service, subservice, apikey, resource)
      );
      -- southbound traffic names the apikey only
      CREATE INDEX iot_service_groups_apikey_idx ON iot_service_groups (apikey);
      CREATE TABLE iot_devices (
        service text NOT NULL,
        service_path text NOT NULL,
        device_id text NOT NULL,
        -- the device's own apikey; NULL: any apikey of a group of its servicepath
        apikey text,
        entity_name text NOT NULL,
        entity_type text NOT NULL,
        config jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        -- counters, added in batches (never one UPDATE per reading)
        readings_received bigint NOT NULL DEFAULT 0,
        readings_accepted bigint NOT NULL DEFAULT 0,
        readings_rejected bigint NOT NULL DEFAULT 0,
        readings_quarantined bigint NOT NULL DEFAULT 0,
        last_error text,
        last_error_at timestamptz,
        last_seen timestamptz,
        PRIMARY KEY (service, service_path, device_id)
      );
      CREATE INDEX iot_devices_device_id_idx ON iot_devices (device_id);
      -- commands start from the entity
      CREATE INDEX iot_devices_entity_idx ON iot_devices (service, entity_name);
      -- readings that failed their Smart Data Models schema, kept for inspection
      CREATE TABLE iot_quarantine (
        service text NOT NULL,
        id bigserial NOT NULL,
        service_path text NOT NULL,
        device_id text NOT NULL,
        received_at timestamptz NOT NULL,
        reading jsonb NOT NULL,
        error text NOT NULL,
        PRIMARY KEY (service, id)
      );
      CREATE INDEX iot_quarantine_device_idx ON iot_quarantine (service, service_path, device_id, id);
    `,
  },
  { version: 5, name: 'identity, access policies, data catalog, sharing, audit', sql: ACCESS_MIGRATION_SQL },
  {
    version: 6,
    name: 'device credentials',
    sql: `
      -- the salted hash of the secret a device presents to the MQTT broker; NULL: none set
      ALTER TABLE iot_devices ADD COLUMN secret_hash text;
    `,
  },
  {
    version: 7,
    name: 'audit records staged with entity writes',
    sql: `
      -- written in the entity write's own transaction; moved into the hash chain (access_audit)
      -- by the hub within about a second, so that no committed write lacks its audit record
      CREATE TABLE access_audit_staged (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL,
        event jsonb NOT NULL
      );
    `,
  },
  {
    version: 8,
    name: 'discovery counts kept with the writes',
    sql: `
      -- NGSI-LD discovery without scanning entities (store/postgres-discovery.ts): how many entities
      -- have each type (type, '', ''), each attribute ('', attr, ''), and each attribute of a type
      -- with an instance of a kind (type, attr, kind); changed in each write's transaction, a row
      -- deleted when its count reaches 0
      -- (room on each page for the count updates to stay HOT: no index holds the count)
      CREATE TABLE discovery_counts (
        tenant text NOT NULL,
        type text NOT NULL,
        attr text NOT NULL,
        kind text NOT NULL,
        entities bigint NOT NULL,
        PRIMARY KEY (tenant, type, attr, kind)
      ) WITH (fillfactor = 70);
      -- one attribute's rows (GET /attributes/{attrId})
      CREATE INDEX discovery_counts_attr_idx ON discovery_counts (tenant, attr, type, kind) WHERE attr <> '';
      -- the entity counts of every type, and of every attribute, of a tenant
      CREATE INDEX discovery_counts_type_totals_idx ON discovery_counts (tenant, type) WHERE attr = '';
      CREATE INDEX discovery_counts_attr_totals_idx ON discovery_counts (tenant, attr) WHERE type = '';
      -- goes up in each transaction that creates or deletes rows of names (type <> '') in
      -- discovery_counts; readers keep a tenant's names and follow the log of what changed
      CREATE TABLE discovery_shapes (
        tenant text PRIMARY KEY,
        version bigint NOT NULL
      );
      -- the rows of names created (added) or deleted by each version, the last 1000 per tenant
      CREATE TABLE discovery_name_log (
        tenant text NOT NULL,
        version bigint NOT NULL,
        type text NOT NULL,
        attr text NOT NULL,
        kind text NOT NULL,
        added boolean NOT NULL,
        PRIMARY KEY (tenant, version, type, attr, kind)
      );
      -- the counts of the entities already stored; an entity counts once per row
      INSERT INTO discovery_counts (tenant, type, attr, kind, entities)
      SELECT e.tenant, k.type, k.attr, k.kind, count(*)
      FROM entities e
      CROSS JOIN LATERAL (
        WITH kinds AS (
          SELECT a.key AS attr, i ->> 'type' AS kind
          FROM jsonb_each(e.attrs) a
          CROSS JOIN LATERAL jsonb_array_elements(CASE jsonb_typeof(a.value) WHEN 'array' THEN a.value ELSE '[]' END) i
          WHERE a.key <> '' AND jsonb_typeof(i -> 'type') = 'string' AND i ->> 'type' <> ''
        ), types AS (
          SELECT t AS type FROM unnest(e.types) t WHERE t <> ''
        )
        SELECT type, '' AS attr, '' AS kind FROM types
        UNION SELECT '', attr, '' FROM kinds
        UNION SELECT types.type, kinds.attr, kinds.kind FROM types CROSS JOIN kinds
      ) k
      GROUP BY e.tenant, k.type, k.attr, k.kind;
      INSERT INTO discovery_shapes (tenant, version) SELECT DISTINCT tenant, 1 FROM discovery_counts;
      -- the (type, attribute) pairs of discovery before these counts, kept as a view for readers
      DROP TABLE type_attributes;
      CREATE VIEW type_attributes AS
        SELECT DISTINCT tenant, type, attr FROM discovery_counts
        WHERE type <> '' AND attr <> '' AND entities > 0;
    `,
  },
  {
    version: 9,
    name: 'change feed',
    sql: `
      -- The durable change feed (store/postgres-change-feed.ts): one row per committed entity
      -- change. key: at least the writing transaction's id and at least the key of the entity's
      -- previous change, so that reading key < the oldest running transaction id never passes a
      -- change that will still commit, and an entity's changes read in the order they committed.
      CREATE TABLE change_feed (
        key bigint NOT NULL,
        seq bigint GENERATED ALWAYS AS IDENTITY,
        tenant text NOT NULL,
        entity_id text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('created', 'updated', 'deleted')),
        types text[] NOT NULL,
        attrs text[] NOT NULL,
        at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (key, seq)
      );
      -- an entity's last key, read by the next change of that entity
      CREATE INDEX change_feed_entity_idx ON change_feed (tenant, entity_id, key DESC);
      -- each consumer's cursor; the consumer is held by a session-level advisory lock
      CREATE TABLE change_feed_consumers (
        name text PRIMARY KEY,
        cursor_key bigint NOT NULL,
        cursor_seq bigint NOT NULL,
        holder text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 10,
    name: 'change feed: one row per transaction',
    sql: `
      -- A writing transaction appends one row holding all its changes, in entries: a JSON array of
      -- [tenant, entity id, kind, [types], [attributes]], and their number in changes. Rows written
      -- before hold their one change in the columns (entries NULL).
      ALTER TABLE change_feed
        ADD COLUMN entries jsonb,
        ADD COLUMN changes integer NOT NULL DEFAULT 1,
        ALTER COLUMN tenant DROP NOT NULL,
        ALTER COLUMN entity_id DROP NOT NULL,
        ALTER COLUMN kind DROP NOT NULL,
        ALTER COLUMN types DROP NOT NULL,
        ALTER COLUMN attrs DROP NOT NULL;
      -- The key of each entity's last change, read and moved by its next change (in place: room
      -- is left on each page for updates that add no index entry). A deleted entity's stays.
      CREATE TABLE change_feed_heads (
        tenant text NOT NULL,
        entity_id text NOT NULL,
        key bigint NOT NULL,
        PRIMARY KEY (tenant, entity_id)
      ) WITH (fillfactor = 70);
      INSERT INTO change_feed_heads (tenant, entity_id, key)
        SELECT tenant, entity_id, max(key) FROM change_feed GROUP BY tenant, entity_id;
      DROP INDEX change_feed_entity_idx;
      -- A consumer's place inside a row: the last entry handled (2147483647: the whole row).
      ALTER TABLE change_feed_consumers ADD COLUMN cursor_n integer NOT NULL DEFAULT 2147483647;
      -- Every change on a line of its own, in feed order by (key, seq, n): for operators and tests.
      CREATE VIEW change_feed_changes AS
        SELECT f.key, f.seq, (e.n - 1)::integer AS n, e.v ->> 0 AS tenant, e.v ->> 1 AS entity_id,
               e.v ->> 2 AS kind,
               ARRAY(SELECT jsonb_array_elements_text(e.v -> 3)) AS types,
               ARRAY(SELECT jsonb_array_elements_text(e.v -> 4)) AS attrs, f.at
        FROM change_feed f CROSS JOIN LATERAL jsonb_array_elements(f.entries) WITH ORDINALITY AS e(v, n)
        WHERE f.entries IS NOT NULL
        UNION ALL
        SELECT f.key, f.seq, 0, f.tenant, f.entity_id, f.kind, f.types, f.attrs, f.at
        FROM change_feed f WHERE f.entries IS NULL;
    `,
  },
];

const LOCK_KEY = 7_253_001; // advisory lock id for migrations

/** Runs `fn` on a client of its own holding the migrations' advisory lock (no statement timeout). */
async function underMigrationLock<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('SET statement_timeout = 0'); // building indexes on a large table takes time
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    return await fn(client);
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined);
    // The hub's pool gives every connection the store's statement timeout: back to it.
    await client.query('RESET statement_timeout').catch(() => undefined);
    client.release();
  }
}

/** Applies one migration and records it, in one transaction; a failure names the migration. */
async function applyOne(
  client: PoolClient,
  sql: string,
  record: [string, unknown[]],
  label: string,
): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(sql);
    await client.query(record[0], record[1]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw new Error(`Migration ${label} failed: ${(err as Error).message}`, { cause: err });
  }
}

/** Applies pending migrations; returns the versions applied. */
export function migrate(pool: Pool, migrations: Migration[] = MIGRATIONS): Promise<number[]> {
  return underMigrationLock(pool, async (client) => {
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
    const done = new Set(rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      await applyOne(
        client,
        m.sql,
        ['INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]],
        `${m.version} (${m.name})`,
      );
      applied.push(m.version);
    }
    return applied;
  });
}

/** A module's name as its migrations are recorded: lower case, digits and hyphens. */
const MODULE_NAME = /^[a-z][a-z0-9-]{0,62}$/;

/** The module migrations a hub applies: each module's own list, in version order. */
export interface ModuleMigrations {
  module: string;
  migrations: ModuleMigration[];
}

/**
 * Checks a module's migrations before anything is applied: a well-formed module name, versions
 * 1, 2, 3… declared in order without gaps, a name each. Throws an Error naming the problem.
 */
export function checkModuleMigrations(list: ModuleMigrations[]): void {
  const seen = new Set<string>();
  for (const { module, migrations } of list) {
    if (!MODULE_NAME.test(module))
      throw new Error(`module name ${JSON.stringify(module)} is not lower-case-with-hyphens`);
    if (module === 'kernel') throw new Error('the name "kernel" is the hub\'s own');
    if (seen.has(module)) throw new Error(`two modules are named ${module}`);
    seen.add(module);
    migrations.forEach((m, i) => {
      if (m.version !== i + 1)
        throw new Error(
          `module ${module}: migration ${i + 1} is declared as version ${m.version} (1, 2, 3… in order)`,
        );
      if (m.name.trim() === '') throw new Error(`module ${module}: migration ${m.version} has no name`);
    });
  }
}

/**
 * Applies the modules' pending migrations (after the kernel's), each module's in version order,
 * under the same advisory lock as the kernel's, each in a transaction of its own; recorded per
 * module in module_migrations. Returns what was applied, as `module:version`.
 */
export async function migrateModules(pool: Pool, list: ModuleMigrations[]): Promise<string[]> {
  checkModuleMigrations(list);
  if (list.every((m) => m.migrations.length === 0)) return [];
  return underMigrationLock(pool, async (client) => {
    await client.query(`CREATE TABLE IF NOT EXISTS module_migrations (
      module text NOT NULL, version integer NOT NULL, name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (module, version))`);
    const { rows } = await client.query<{ module: string; version: number }>(
      'SELECT module, version FROM module_migrations',
    );
    const done = new Set(rows.map((r) => `${r.module}:${r.version}`));
    const applied: string[] = [];
    for (const { module, migrations } of list)
      for (const m of migrations) {
        const key = `${module}:${m.version}`;
        if (done.has(key)) continue;
        await applyOne(
          client,
          m.sql,
          [
            'INSERT INTO module_migrations (module, version, name) VALUES ($1, $2, $3)',
            [module, m.version, m.name],
          ],
          `${m.version} (${m.name}) of module ${module}`,
        );
        applied.push(key);
      }
    return applied;
  });
}
