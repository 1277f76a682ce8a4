/**
 * Keeps the premises of the oracles true while the fuzzer runs. The administrator and the
 * department administrators are principals too, and their requests legitimately change who may
 * do what (a policy created, a grant approved, a user moved, a session logged out) or rewrite the
 * secret entities. After such a request has been checked, the access tables, the principals'
 * sessions and the secret entities are put back as seeded, so that every later request is
 * judged against the same rights and the markers stay in the data.
 */
import type pg from 'pg';
import type { RowChange } from './data-watch.js';

/** Access tables restored from the snapshot (the sharing ledger is a record, not a right). */
const ACCESS_TABLES = [
  'access_settings',
  'access_departments',
  'access_users',
  'access_sessions',
  'access_api_keys',
  'access_policies',
  'access_catalog',
  'access_datasets',
  'access_share_requests',
  'access_grants',
] as const;

export interface ProtectedEntity {
  tenant: string;
  id: string;
  body: Record<string, unknown>;
}

export interface SeedKeeper {
  /** Whether these changes touched rights, principals' sessions or a protected entity. */
  disturbed(changes: readonly RowChange[]): { access: boolean; entities: ProtectedEntity[] };
  /** Puts the access tables and sessions back as they were at the snapshot. */
  restoreAccess(): Promise<void>;
}

/** Copies the access tables into the schema `fuzz_seed` (call once the seed is written). */
export async function keepSeed(
  pool: pg.Pool,
  protectedEntities: readonly ProtectedEntity[],
): Promise<SeedKeeper> {
  const columns = new Map<string, string[]>();
  const cols = await pool.query<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name = ANY($1) ORDER BY table_name, ordinal_position`,
    [ACCESS_TABLES],
  );
  for (const c of cols.rows) columns.set(c.table_name, [...(columns.get(c.table_name) ?? []), c.column_name]);
  const list = (t: string) => (columns.get(t) ?? []).join(', ');
  await pool.query(
    [
      'CREATE SCHEMA fuzz_seed',
      ...ACCESS_TABLES.map((t) => `CREATE TABLE fuzz_seed.${t} AS SELECT ${list(t)} FROM ${t}`),
    ].join(';\n'),
  );
  const replaced = ['access_api_keys', 'access_policies', 'access_catalog', 'access_datasets'] as const;
  const userCols = (columns.get('access_users') ?? []).filter((c) => c !== 'id');
  // In foreign-key order: departments exist before what names them, are cut loose from their
  // parents before departments the fuzzer made are deleted, and get their parents back last.
  const restoreSql = [
    'BEGIN',
    `INSERT INTO access_departments (${list('access_departments')})
       SELECT ${list('access_departments')} FROM fuzz_seed.access_departments
       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name`,
    'DELETE FROM access_share_requests',
    'DELETE FROM access_grants',
    ...replaced.map((t) => `DELETE FROM ${t}`),
    'DELETE FROM access_users WHERE id NOT IN (SELECT id FROM fuzz_seed.access_users)',
    `UPDATE access_users u SET (${userCols.join(', ')}) = (${userCols.map((c) => `s.${c}`).join(', ')})
       FROM fuzz_seed.access_users s WHERE u.id = s.id`,
    `INSERT INTO access_users (${list('access_users')})
       SELECT ${list('access_users')} FROM fuzz_seed.access_users ON CONFLICT (id) DO NOTHING`,
    'UPDATE access_departments SET parent = NULL WHERE parent IS NOT NULL',
    'DELETE FROM access_departments WHERE id NOT IN (SELECT id FROM fuzz_seed.access_departments)',
    `UPDATE access_departments d SET parent = s.parent FROM fuzz_seed.access_departments s
       WHERE d.id = s.id AND s.parent IS NOT NULL`,
    ...[...replaced, 'access_share_requests', 'access_grants'].map(
      (t) => `INSERT INTO ${t} (${list(t)}) SELECT ${list(t)} FROM fuzz_seed.${t}`,
    ),
    `INSERT INTO access_sessions (${list('access_sessions')})
       SELECT ${list('access_sessions')} FROM fuzz_seed.access_sessions
       ON CONFLICT (id) DO UPDATE SET revoked_at = EXCLUDED.revoked_at, last_seen_at = now()`,
    'DELETE FROM access_settings WHERE name NOT IN (SELECT name FROM fuzz_seed.access_settings)',
    `INSERT INTO access_settings (${list('access_settings')})
       SELECT ${list('access_settings')} FROM fuzz_seed.access_settings
       ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = EXCLUDED.updated_at`,
    'COMMIT',
  ].join(';\n');

  const watched = new Set<string>(ACCESS_TABLES);
  return {
    disturbed(changes) {
      const access = changes.some(
        (c) => watched.has(c.table) && !(c.table === 'access_sessions' && c.op === 'INSERT'),
      );
      const entities = protectedEntities.filter((p) =>
        changes.some(
          (c) =>
            (c.table === 'entities' || c.table === 'entity_geo') &&
            c.rowId === p.id &&
            (c.tenant ?? '') === p.tenant,
        ),
      );
      return { access, entities };
    },
    async restoreAccess() {
      const client = await pool.connect();
      try {
        await client.query(restoreSql);
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
  };
}
