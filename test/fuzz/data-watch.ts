/**
 * Did a request write data? A trigger on every data table of the fuzzed hub's database (its own
 * database, made for the run) appends each committed row change to `fuzz_change_log`; the mark
 * before a request and the rows after it say what the request changed. A rolled-back write
 * leaves nothing (the log row goes with it). This costs the same at the 50,000th request as at
 * the first, where an md5 of every table grows with the data the fuzzer writes; the md5
 * fingerprint is still computed now and then to check that the log misses nothing.
 *
 * Not data, so not watched: the audit log (a refused request is audited), sessions (sign-in,
 * logout and idle timeouts), and the counters a refused request legitimately moves (failed
 * logins, last use of an API key or a @context, device reading counters, delivery state).
 * Sessions are still logged, apart, so that the fuzzer can see its principals logged out.
 */
import type pg from 'pg';

/** Tables that are not data (audit, migrations) or that legitimately change on a refusal. */
const UNWATCHED = new Set(['access_audit', 'access_audit_staged', 'schema_migrations', 'fuzz_change_log']);
/** Logged for the fuzzer's own bookkeeping only (its principals' sessions), never an oracle. */
export const BOOKKEEPING_TABLES = new Set(['access_sessions']);

/** Columns that change on reads and refusals: ignored when a row's other columns are unchanged. */
const VOLATILE: Record<string, string[]> = {
  access_users: ['failed_logins', 'locked_until', 'last_login_at'],
  access_api_keys: ['last_used_at'],
  access_sessions: ['last_seen_at'],
  jsonld_contexts: ['last_used_at', 'use_count'],
  iot_devices: [
    'readings_received',
    'readings_accepted',
    'readings_rejected',
    'readings_quarantined',
    'last_error',
    'last_error_at',
    'last_seen',
  ],
  subscriptions: [
    'times_sent',
    'times_failed',
    'last_notification',
    'last_success',
    'last_failure',
    'last_error',
    'run_lease_until',
  ],
  notification_outbox: ['lease_until', 'leased_by'],
};

export interface RowChange {
  id: number;
  table: string;
  op: string;
  /** The row's `id` (or `entity_id`, `device_id`) and `tenant` (or `service`), when it has them. */
  rowId: string | null;
  tenant: string | null;
  /** An entity row's types, before and after the change. */
  types: string[] | null;
  /** A config group's or device's apikey. */
  apikey: string | null;
  /** The row (new, or old for a delete) as JSON, cut at 300 characters. */
  row: string | null;
}

export interface DataWatch {
  /** The tables watched (every base table of the schema but the unwatched ones). */
  tables: readonly string[];
  /** The newest change logged so far. */
  mark(): Promise<number>;
  /** Changes logged after `mark`, oldest first. */
  since(mark: number): Promise<RowChange[]>;
  /** md5 of every watched table (volatile columns left out): a check of the log, not the oracle. */
  fingerprint(): Promise<Record<string, string>>;
}

/** Installs the change log and its triggers (after the hub has applied its migrations). */
export async function watchData(pool: pg.Pool): Promise<DataWatch> {
  const { rows } = await pool.query<{ relname: string }>(
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY c.relname`,
  );
  const tables = rows.map((r) => r.relname).filter((t) => !UNWATCHED.has(t));
  const sql = [
    `CREATE TABLE fuzz_change_log (
       id bigserial PRIMARY KEY, tbl text NOT NULL, op text NOT NULL,
       row_id text, tenant text, types jsonb, apikey text, row_text text)`,
    // TG_ARGV: the volatile columns; an UPDATE that changes only those is not a change.
    `CREATE FUNCTION fuzz_log_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
     DECLARE
       r jsonb;
       types jsonb;
     BEGIN
       IF TG_OP = 'TRUNCATE' THEN
         INSERT INTO fuzz_change_log (tbl, op) VALUES (TG_TABLE_NAME, TG_OP);
         RETURN NULL;
       END IF;
       IF TG_OP = 'UPDATE' AND (to_jsonb(OLD) - TG_ARGV) = (to_jsonb(NEW) - TG_ARGV) THEN
         RETURN NULL;
       END IF;
       r := CASE WHEN TG_OP = 'DELETE' THEN to_jsonb(OLD) ELSE to_jsonb(NEW) END;
       -- The types the row had before and has after (entities): who may write it depends on both.
       IF TG_OP <> 'INSERT' THEN types := to_jsonb(OLD)->'types'; END IF;
       IF TG_OP <> 'DELETE' THEN types := coalesce(types, '[]'::jsonb) || coalesce(to_jsonb(NEW)->'types', '[]'::jsonb); END IF;
       INSERT INTO fuzz_change_log (tbl, op, row_id, tenant, types, apikey, row_text)
         VALUES (TG_TABLE_NAME, TG_OP, coalesce(r->>'id', r->>'entity_id', r->>'device_id'),
                 coalesce(r->>'tenant', r->>'service'), types, r->>'apikey', left(r::text, 300));
       RETURN NULL;
     END
     $fn$`,
  ];
  for (const t of tables) {
    const args = (VOLATILE[t] ?? []).map((c) => `'${c}'`).join(', ');
    sql.push(
      `CREATE TRIGGER fuzz_log AFTER INSERT OR UPDATE OR DELETE ON ${t}
         FOR EACH ROW EXECUTE FUNCTION fuzz_log_change(${args})`,
      `CREATE TRIGGER fuzz_log_truncate AFTER TRUNCATE ON ${t}
         FOR EACH STATEMENT EXECUTE FUNCTION fuzz_log_change()`,
    );
  }
  await pool.query(sql.join(';\n'));

  const columnsOf = new Map<string, string[]>();
  const cols = await pool.query<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM information_schema.columns
      WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`,
  );
  for (const c of cols.rows) {
    if (VOLATILE[c.table_name]?.includes(c.column_name)) continue;
    columnsOf.set(c.table_name, [...(columnsOf.get(c.table_name) ?? []), c.column_name]);
  }
  const oracleTables = tables.filter((t) => !BOOKKEEPING_TABLES.has(t));
  const fingerprintSql = `SELECT ${oracleTables
    .map((t) => {
      const list = (columnsOf.get(t) ?? []).map((c) => `t.${c}`).join(', ');
      return `(SELECT coalesce(md5(string_agg(x, '|' ORDER BY x)), '') FROM (SELECT ROW(${list})::text AS x FROM ${t} t) s) AS ${t}`;
    })
    .join(',\n')}`;

  return {
    tables,
    async mark() {
      const r = await pool.query<{ id: string | null }>('SELECT max(id)::text AS id FROM fuzz_change_log');
      return Number(r.rows[0]?.id ?? 0);
    },
    async since(mark) {
      const r = await pool.query<{
        id: string;
        tbl: string;
        op: string;
        row_id: string | null;
        tenant: string | null;
        types: string[] | null;
        apikey: string | null;
        row_text: string | null;
      }>(
        `SELECT id::text, tbl, op, row_id, tenant, types, apikey, row_text
           FROM fuzz_change_log WHERE id > $1 ORDER BY id`,
        [mark],
      );
      return r.rows.map((x) => ({
        id: Number(x.id),
        table: x.tbl,
        op: x.op,
        rowId: x.row_id,
        tenant: x.tenant,
        types: x.types,
        apikey: x.apikey,
        row: x.row_text,
      }));
    },
    async fingerprint() {
      const r = await pool.query<Record<string, string>>(fingerprintSql);
      return r.rows[0] ?? {};
    },
  };
}
