/**
 * Versioned schema migrations, applied in order at start under an advisory lock so that several
 * hub instances starting together apply each one once. Never edit a released migration: add one.
 */
import type { Pool } from 'pg';

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
];

const LOCK_KEY = 7_253_001; // advisory lock id for migrations

/** Applies pending migrations; returns the versions applied. */
export async function migrate(pool: Pool, migrations: Migration[] = MIGRATIONS): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query('SET statement_timeout = 0'); // building indexes on a large table takes time
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
    const done = new Set(rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
          m.version,
          m.name,
        ]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`Migration ${m.version} (${m.name}) failed: ${(err as Error).message}`, {
          cause: err,
        });
      }
      applied.push(m.version);
    }
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined);
    client.release();
  }
}
