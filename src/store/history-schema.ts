/**
 * Migration 3: attribute history, partitioned by time (native PostgreSQL range partitioning,
 * monthly partitions created ahead by the hub, a default partition so that no insert fails),
 * the entities the history knows, per-minute and per-hour rollups, and retention policies.
 * Tenant and entity id lead every key (distributable by tenant, docs/architecture.md).
 */
export const HISTORY_MIGRATION_SQL = `
  CREATE TABLE attribute_history (
    tenant text NOT NULL,
    entity_id text NOT NULL,
    attr text NOT NULL,
    dataset_id text NOT NULL DEFAULT '',   -- '' is the default instance
    instance_id text NOT NULL,
    ts timestamptz NOT NULL,               -- observedAt, else modifiedAt: the partition key
    observed_at timestamptz,
    created_at timestamptz NOT NULL,
    modified_at timestamptz NOT NULL,
    deleted_at timestamptz,
    num double precision,                  -- a numeric Property value, for aggregation
    instance jsonb NOT NULL
  ) PARTITION BY RANGE (ts);
  -- temporal retrieval: one entity's attribute over a time range (in each partition)
  CREATE INDEX attribute_history_key_idx ON attribute_history (tenant, entity_id, attr, ts);
  CREATE TABLE attribute_history_default PARTITION OF attribute_history DEFAULT;

  CREATE TABLE history_entities (
    tenant text NOT NULL,
    id text NOT NULL,
    types text[] NOT NULL,
    scopes text[],
    created_at timestamptz NOT NULL,
    modified_at timestamptz NOT NULL,
    deleted_at timestamptz,
    PRIMARY KEY (tenant, id)
  );
  CREATE INDEX history_entities_types_idx ON history_entities USING gin (types);

  -- composable aggregates per minute and per hour of instances with observedAt
  CREATE TABLE history_rollups (
    tenant text NOT NULL,
    entity_id text NOT NULL,
    attr text NOT NULL,
    dataset_id text NOT NULL,
    grain text NOT NULL CHECK (grain IN ('minute', 'hour')),
    bucket timestamptz NOT NULL,
    n bigint NOT NULL,
    n_num bigint NOT NULL,
    sum double precision NOT NULL,
    sumsq double precision NOT NULL,
    min double precision,
    max double precision,
    PRIMARY KEY (tenant, entity_id, attr, dataset_id, grain, bucket)
  );

  CREATE TABLE history_retention (
    tenant text NOT NULL,       -- '*' for all
    entity_type text NOT NULL,  -- expanded IRI or '*'
    attr text NOT NULL,         -- expanded IRI or '*'
    keep text NOT NULL,         -- ISO 8601 duration as given
    keep_seconds bigint NOT NULL CHECK (keep_seconds > 0),
    PRIMARY KEY (tenant, entity_type, attr)
  );
`;
