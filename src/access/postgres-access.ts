/**
 * The PostgreSQL adapter of the access module's storage port (core/access/access-store.ts; tables
 * of migration 5): settings, departments, users, sessions, API keys, policies and the data
 * catalog. Sharing and the audit log are in postgres-sharing.ts and postgres-audit.ts, on the
 * hub's pool.
 */
import type pg from 'pg';
import type { QueryResultRow } from 'pg';
import { HubError } from '../core/errors.js';
import type {
  AccessPolicy,
  Action,
  Area,
  CatalogEntry,
  Role,
  SensitivityClass,
} from '../core/access/access-model.js';
import type {
  AccessStore,
  ApiKeyRecord,
  Department,
  SessionRecord,
  UserRecord,
} from '../core/access/access-store.js';
import type { MaskKind } from '../core/access/masking.js';
import { translate } from '../store/sql-errors.js';
import { withTransaction } from '../store/database.js';
import type { Run } from '../store/sql-run.js';
import { createAccessSharingStore } from './postgres-sharing.js';
import { createAccessAuditStore } from './postgres-audit.js';
import { noDepartment, onMissingReference } from '../store/foreign-keys.js';

const iso = (v: unknown): string | null =>
  v === null || v === undefined ? null : new Date(v as string).toISOString();

function userOf(r: QueryResultRow): UserRecord {
  return {
    id: r.id as string,
    username: r.username as string,
    displayName: r.display_name as string | null,
    department: r.department as string | null,
    roles: r.roles as Role[],
    passwordHash: r.password_hash as string | null,
    passwordChangedAt: iso(r.password_changed_at),
    totpSecret: r.totp_secret as string | null,
    totpEnabled: r.totp_enabled as boolean,
    totpLastStep: r.totp_last_step === null ? null : Number(r.totp_last_step),
    failedLogins: r.failed_logins as number,
    lockedUntil: iso(r.locked_until),
    disabled: r.disabled as boolean,
    createdAt: iso(r.created_at) as string,
    lastLoginAt: iso(r.last_login_at),
  };
}

function policyOf(r: QueryResultRow): AccessPolicy {
  return {
    id: r.id as string,
    department: r.department as string,
    tenant: r.tenant as string,
    entityTypes: r.entity_types as string[],
    ...(r.attrs === null ? {} : { attrs: r.attrs as string[] }),
    actions: r.actions as Action[],
    ...(r.area === null ? {} : { area: r.area as Area }),
  };
}

/** The access tables on the hub's pool (database.ts; the store has applied migration 5). */
export function createPostgresAccessStore(pool: pg.Pool): AccessStore {
  const run: Run = async (sql, params = []) => {
    try {
      return await pool.query(sql, params);
    } catch (err) {
      throw translate(err);
    }
  };
  const exists = (what: string) => (err: unknown) => {
    if (
      (err as { code?: unknown }).code === 'AlreadyExists' ||
      (err instanceof HubError && err.code === 'AlreadyExists')
    )
      throw new HubError('AlreadyExists', `${what} already exists`);
    throw err;
  };

  return {
    sharing: createAccessSharingStore(run, (fn) =>
      withTransaction(pool, (client) => fn(async (sql, params = []) => client.query(sql, params)), translate),
    ),
    audit: createAccessAuditStore(pool),

    async getSetting<T>(name: string): Promise<T | undefined> {
      const r = await run<{ value: T }>('SELECT value FROM access_settings WHERE name = $1', [name]);
      return r.rows[0]?.value;
    },
    /** Stores the value unless one is there; returns the value held (several instances race at first start). */
    async initSetting<T>(name: string, value: T): Promise<T> {
      await run('INSERT INTO access_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [
        name,
        JSON.stringify(value),
      ]);
      return (await this.getSetting<T>(name)) as T;
    },
    async putSetting(name: string, value: unknown): Promise<void> {
      await run(
        `INSERT INTO access_settings (name, value) VALUES ($1, $2)
         ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
        [name, JSON.stringify(value)],
      );
    },

    // departments
    async listDepartments(): Promise<Department[]> {
      return (await run<Department>('SELECT id, name, parent FROM access_departments ORDER BY id')).rows;
    },
    async createDepartment(d: Department): Promise<void> {
      await run('INSERT INTO access_departments (id, name, parent) VALUES ($1, $2, $3)', [
        d.id,
        d.name,
        d.parent,
      ])
        .catch(onMissingReference({ access_departments_parent_fkey: noDepartment(d.parent) }))
        .catch(exists(`Department ${d.id}`));
    },
    async updateDepartment(id: string, patch: { name?: string; parent?: string | null }): Promise<boolean> {
      const r = await run(
        `UPDATE access_departments SET name = COALESCE($2, name),
           parent = CASE WHEN $4 THEN $3 ELSE parent END WHERE id = $1`,
        [id, patch.name ?? null, patch.parent ?? null, 'parent' in patch],
      ).catch(onMissingReference({ access_departments_parent_fkey: noDepartment(patch.parent) }));
      return (r.rowCount ?? 0) > 0;
    },
    async deleteDepartment(id: string): Promise<boolean> {
      const r = await run('DELETE FROM access_departments WHERE id = $1', [id]).catch((err: unknown) => {
        if (
          (err as { cause?: { code?: string } }).cause?.code === '23503' ||
          (err as { code?: string }).code === '23503'
        )
          throw new HubError('Conflict', `Department ${id} still has sub-departments, users or keys`);
        throw err;
      });
      return (r.rowCount ?? 0) > 0;
    },
    /** The department and all below it (policies of sub-departments apply to the parent's users). */
    async departmentSubtree(id: string): Promise<string[]> {
      const r = await run<{ id: string }>(
        `WITH RECURSIVE t(id) AS (SELECT id FROM access_departments WHERE id = $1
           UNION SELECT d.id FROM access_departments d JOIN t ON d.parent = t.id)
         SELECT id FROM t`,
        [id],
      );
      return r.rows.map((x) => x.id);
    },

    // users
    async createUser(
      u: Pick<UserRecord, 'id' | 'username' | 'displayName' | 'department' | 'roles' | 'passwordHash'>,
    ) {
      await run(
        `INSERT INTO access_users (id, username, display_name, department, roles, password_hash, password_changed_at)
         VALUES ($1, $2, $3, $4, $5, $6, now())`,
        [u.id, u.username, u.displayName, u.department, u.roles, u.passwordHash],
      )
        .catch(onMissingReference({ access_users_department_fkey: noDepartment(u.department) }))
        .catch(exists(`User ${u.username}`));
    },
    async getUserByName(username: string): Promise<UserRecord | undefined> {
      const r = await run('SELECT * FROM access_users WHERE username = $1', [username]);
      return r.rows[0] ? userOf(r.rows[0]) : undefined;
    },
    async getUser(id: string): Promise<UserRecord | undefined> {
      const r = await run('SELECT * FROM access_users WHERE id = $1', [id]);
      return r.rows[0] ? userOf(r.rows[0]) : undefined;
    },
    async listUsers(): Promise<UserRecord[]> {
      return (await run('SELECT * FROM access_users ORDER BY username')).rows.map(userOf);
    },
    async countUsers(): Promise<number> {
      return Number((await run<{ n: string }>('SELECT count(*) AS n FROM access_users')).rows[0]?.n ?? 0);
    },
    async updateUser(
      id: string,
      patch: Partial<Pick<UserRecord, 'displayName' | 'department' | 'roles' | 'disabled'>>,
    ): Promise<boolean> {
      const sets: string[] = [];
      const params: unknown[] = [id];
      const col = {
        displayName: 'display_name',
        department: 'department',
        roles: 'roles',
        disabled: 'disabled',
      };
      for (const [k, c] of Object.entries(col)) {
        if (k in patch) {
          params.push(patch[k as keyof typeof patch]);
          sets.push(`${c} = $${params.length}`);
        }
      }
      if (sets.length === 0) return (await this.getUser(id)) !== undefined;
      const r = await run(`UPDATE access_users SET ${sets.join(', ')} WHERE id = $1`, params).catch(
        onMissingReference({ access_users_department_fkey: noDepartment(patch.department) }),
      );
      return (r.rowCount ?? 0) > 0;
    },
    async setPassword(id: string, hash: string): Promise<void> {
      await run(
        `UPDATE access_users SET password_hash = $2, password_changed_at = now(), failed_logins = 0,
           locked_until = NULL WHERE id = $1`,
        [id, hash],
      );
    },
    async deleteUser(id: string): Promise<boolean> {
      return ((await run('DELETE FROM access_users WHERE id = $1', [id])).rowCount ?? 0) > 0;
    },
    /** Counts a failed login; locks the account when the count reaches `max`. Returns the new count. */
    async recordFailure(
      id: string,
      max: number,
      lockSeconds: number,
    ): Promise<{ failures: number; locked: boolean }> {
      const r = await run<{ failed_logins: number; locked: boolean }>(
        `UPDATE access_users SET failed_logins = failed_logins + 1,
           locked_until = CASE WHEN failed_logins + 1 >= $2 THEN now() + make_interval(secs => $3) ELSE locked_until END
         WHERE id = $1 RETURNING failed_logins, locked_until IS NOT NULL AND locked_until > now() AS locked`,
        [id, max, lockSeconds],
      );
      return { failures: r.rows[0]?.failed_logins ?? 0, locked: r.rows[0]?.locked ?? false };
    },
    async recordSuccess(id: string): Promise<void> {
      await run(
        'UPDATE access_users SET failed_logins = 0, locked_until = NULL, last_login_at = now() WHERE id = $1',
        [id],
      );
    },
    async unlock(id: string): Promise<void> {
      await run('UPDATE access_users SET failed_logins = 0, locked_until = NULL WHERE id = $1', [id]);
    },
    async setTotp(id: string, secret: string | null, enabled: boolean): Promise<void> {
      await run(
        'UPDATE access_users SET totp_secret = $2, totp_enabled = $3, totp_last_step = NULL WHERE id = $1',
        [id, secret, enabled],
      );
    },
    /** Records a used TOTP time step; false if it (or a later one) was used already (replay). */
    async useTotpStep(id: string, step: number): Promise<boolean> {
      const r = await run(
        `UPDATE access_users SET totp_last_step = $2
         WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)`,
        [id, step],
      );
      return (r.rowCount ?? 0) > 0;
    },

    // sessions
    async createSession(s: { id: string; userId: string; scope: string; expiresAt: string }): Promise<void> {
      await run(
        'INSERT INTO access_sessions (id, user_id, scope, last_seen_at, expires_at) VALUES ($1, $2, $3, now(), $4)',
        [s.id, s.userId, s.scope, s.expiresAt],
      ).catch(
        // the account was deleted while its holder logged in
        onMissingReference({
          access_sessions_user_id_fkey: (cause) =>
            new HubError('Unauthorized', 'The account no longer exists', { cause }),
        }),
      );
    },
    async getSession(id: string): Promise<SessionRecord | undefined> {
      const r = await run('SELECT * FROM access_sessions WHERE id = $1', [id]);
      const x = r.rows[0];
      if (!x) return undefined;
      return {
        id: x.id as string,
        userId: x.user_id as string,
        scope: x.scope as string,
        lastSeenAt: iso(x.last_seen_at) as string,
        expiresAt: iso(x.expires_at) as string,
        revokedAt: iso(x.revoked_at),
      };
    },
    async touchSession(id: string): Promise<void> {
      await run('UPDATE access_sessions SET last_seen_at = now() WHERE id = $1', [id]);
    },
    async revokeSession(id: string): Promise<boolean> {
      const r = await run(
        'UPDATE access_sessions SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL',
        [id],
      );
      return (r.rowCount ?? 0) > 0;
    },
    async revokeUserSessions(userId: string): Promise<void> {
      await run('UPDATE access_sessions SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL', [
        userId,
      ]);
    },

    // API keys
    async createApiKey(k: Omit<ApiKeyRecord, 'createdAt' | 'revokedAt'>): Promise<void> {
      await run(
        `INSERT INTO access_api_keys (id, name, secret_hash, department, roles, created_by, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [k.id, k.name, k.secretHash, k.department, k.roles, k.createdBy, k.expiresAt],
      ).catch(onMissingReference({ access_api_keys_department_fkey: noDepartment(k.department) }));
    },
    async getApiKey(id: string): Promise<ApiKeyRecord | undefined> {
      const r = await run('SELECT * FROM access_api_keys WHERE id = $1', [id]);
      const x = r.rows[0];
      return x ? apiKeyOf(x) : undefined;
    },
    async listApiKeys(): Promise<ApiKeyRecord[]> {
      return (await run('SELECT * FROM access_api_keys ORDER BY created_at')).rows.map(apiKeyOf);
    },
    async revokeApiKey(id: string): Promise<boolean> {
      const r = await run(
        'UPDATE access_api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL',
        [id],
      );
      return (r.rowCount ?? 0) > 0;
    },

    // policies
    async listPolicies(departments?: string[]): Promise<AccessPolicy[]> {
      const r = departments
        ? await run('SELECT * FROM access_policies WHERE department = ANY($1) ORDER BY created_at, id', [
            departments,
          ])
        : await run('SELECT * FROM access_policies ORDER BY created_at, id');
      return r.rows.map(policyOf);
    },
    async createPolicy(p: AccessPolicy): Promise<void> {
      await run(
        `INSERT INTO access_policies (id, department, tenant, entity_types, attrs, actions, area)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [
          p.id,
          p.department,
          p.tenant,
          p.entityTypes,
          p.attrs ?? null,
          p.actions,
          p.area ? JSON.stringify(p.area) : null,
        ],
      ).catch(onMissingReference({ access_policies_department_fkey: noDepartment(p.department) }));
    },
    async deletePolicy(id: string): Promise<AccessPolicy | undefined> {
      const r = await run('DELETE FROM access_policies WHERE id = $1 RETURNING *', [id]);
      return r.rows[0] ? policyOf(r.rows[0]) : undefined;
    },

    // the data catalog
    async listCatalog(): Promise<CatalogEntry[]> {
      const r = await run('SELECT * FROM access_catalog ORDER BY tenant, entity_type, attr');
      return r.rows.map((x) => ({
        tenant: x.tenant as string,
        entityType: x.entity_type as string,
        attr: x.attr as string,
        sensitivity: x.sensitivity as SensitivityClass,
        mask: x.mask as MaskKind,
      }));
    },
    async putCatalog(c: CatalogEntry): Promise<void> {
      await run(
        `INSERT INTO access_catalog (tenant, entity_type, attr, sensitivity, mask) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant, entity_type, attr) DO UPDATE SET sensitivity = EXCLUDED.sensitivity, mask = EXCLUDED.mask`,
        [c.tenant, c.entityType, c.attr, c.sensitivity, c.mask],
      );
    },
    async deleteCatalog(tenant: string, entityType: string, attr: string): Promise<boolean> {
      const r = await run('DELETE FROM access_catalog WHERE tenant = $1 AND entity_type = $2 AND attr = $3', [
        tenant,
        entityType,
        attr,
      ]);
      return (r.rowCount ?? 0) > 0;
    },
  };
}

function apiKeyOf(x: QueryResultRow): ApiKeyRecord {
  return {
    id: x.id as string,
    name: x.name as string,
    secretHash: x.secret_hash as string,
    department: x.department as string | null,
    roles: x.roles as Role[],
    createdBy: x.created_by as string | null,
    createdAt: iso(x.created_at) as string,
    expiresAt: iso(x.expires_at),
    revokedAt: iso(x.revoked_at),
  };
}
