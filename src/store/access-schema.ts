/**
 * Migration 5: identity, department access, data catalog, sharing and the audit log.
 * Ids are text (UUIDs from the hub); times are timestamptz; lists of IRIs are text[].
 */
export const ACCESS_MIGRATION_SQL = `
  -- hub-wide settings shared by every instance: the token signing key, the password policy
  CREATE TABLE access_settings (
    name text PRIMARY KEY,
    value jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE TABLE access_departments (
    id text PRIMARY KEY,
    name text NOT NULL,
    parent text REFERENCES access_departments (id) ON DELETE RESTRICT,
    created_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE TABLE access_users (
    id text PRIMARY KEY,
    username text NOT NULL UNIQUE,
    display_name text,
    department text REFERENCES access_departments (id) ON DELETE RESTRICT,
    roles text[] NOT NULL DEFAULT '{}',
    password_hash text,
    password_changed_at timestamptz,
    totp_secret text,
    totp_enabled boolean NOT NULL DEFAULT false,
    totp_last_step bigint,
    failed_logins integer NOT NULL DEFAULT 0,
    locked_until timestamptz,
    disabled boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz
  );
  -- one row per hub token: logout revokes it, the idle timeout reads last_seen_at
  CREATE TABLE access_sessions (
    id text PRIMARY KEY,
    user_id text NOT NULL REFERENCES access_users (id) ON DELETE CASCADE,
    scope text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
  );
  CREATE INDEX access_sessions_user_idx ON access_sessions (user_id);
  CREATE TABLE access_api_keys (
    id text PRIMARY KEY,
    name text NOT NULL,
    -- SHA-256 of the secret: keys are long random strings, so a fast hash is enough
    secret_hash text NOT NULL,
    department text REFERENCES access_departments (id) ON DELETE RESTRICT,
    roles text[] NOT NULL DEFAULT '{}',
    created_by text,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    revoked_at timestamptz,
    last_used_at timestamptz
  );
  CREATE TABLE access_policies (
    id text PRIMARY KEY,
    department text NOT NULL REFERENCES access_departments (id) ON DELETE CASCADE,
    tenant text NOT NULL,
    entity_types text[] NOT NULL,
    attrs text[],
    actions text[] NOT NULL,
    area jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE INDEX access_policies_department_idx ON access_policies (department);
  -- the data catalog: sensitivity of attributes per entity type ('*' tenant: every tenant)
  CREATE TABLE access_catalog (
    tenant text NOT NULL,
    entity_type text NOT NULL,
    attr text NOT NULL,
    sensitivity text NOT NULL CHECK (sensitivity IN ('personal', 'sensitive-personal', 'important', 'general')),
    mask text NOT NULL,
    PRIMARY KEY (tenant, entity_type, attr)
  );
  CREATE TABLE access_datasets (
    id text PRIMARY KEY,
    owner_department text NOT NULL REFERENCES access_departments (id) ON DELETE CASCADE,
    tenant text NOT NULL,
    entity_type text NOT NULL,
    attrs text[],
    area jsonb,
    title text NOT NULL,
    description text,
    created_by text,
    created_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE TABLE access_share_requests (
    id text PRIMARY KEY,
    dataset_id text NOT NULL REFERENCES access_datasets (id) ON DELETE CASCADE,
    department text NOT NULL REFERENCES access_departments (id) ON DELETE CASCADE,
    purpose text NOT NULL,
    valid_from timestamptz NOT NULL,
    valid_until timestamptz NOT NULL,
    state text NOT NULL CHECK (state IN ('pending', 'approved', 'denied')),
    requested_by text,
    decided_by text,
    decided_at timestamptz,
    reason text,
    created_at timestamptz NOT NULL DEFAULT now()
  );
  CREATE TABLE access_grants (
    id text PRIMARY KEY,
    department text NOT NULL REFERENCES access_departments (id) ON DELETE CASCADE,
    tenant text NOT NULL,
    entity_type text NOT NULL,
    attrs text[],
    purpose text NOT NULL,
    area jsonb,
    valid_from timestamptz NOT NULL,
    valid_until timestamptz NOT NULL,
    request_id text,
    dataset_id text,
    created_by text,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
  );
  CREATE INDEX access_grants_department_idx ON access_grants (department, valid_until);
  -- GB/T 35273 §9.2: date, scale, purpose and recipient of every share
  CREATE TABLE access_sharing_ledger (
    seq bigserial PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    kind text NOT NULL CHECK (kind IN ('approved', 'read')),
    dataset_id text,
    request_id text,
    grant_id text,
    tenant text NOT NULL,
    entity_type text NOT NULL,
    owner_department text,
    recipient_department text NOT NULL,
    purpose text NOT NULL,
    scale bigint NOT NULL,
    valid_until timestamptz,
    actor text
  );
  -- the audit log: hash-chained, seq without gaps, append-only
  CREATE TABLE access_audit (
    seq bigint PRIMARY KEY,
    at timestamptz NOT NULL,
    actor text NOT NULL,
    department text,
    action text NOT NULL,
    target text,
    outcome text NOT NULL,
    purpose text,
    ip text,
    detail jsonb,
    prev_hash text NOT NULL,
    hash text NOT NULL
  );
  CREATE INDEX access_audit_at_idx ON access_audit (at);
  CREATE INDEX access_audit_actor_idx ON access_audit (actor, seq);
  CREATE FUNCTION access_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      RAISE EXCEPTION 'the audit log is append-only';
    END
  $fn$;
  CREATE TRIGGER access_audit_no_update BEFORE UPDATE OR DELETE ON access_audit
    FOR EACH ROW EXECUTE FUNCTION access_audit_append_only();
  CREATE TRIGGER access_audit_no_truncate BEFORE TRUNCATE ON access_audit
    FOR EACH STATEMENT EXECUTE FUNCTION access_audit_append_only();
`;
