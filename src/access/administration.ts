/**
 * The platform's administration of departments, API keys and data policies, once for the API
 * (/api/v1, access-admin-routes.ts) and the command line (citypivot departments|api-keys|
 * policies): the same checks, the same store calls, the same audit record, whoever asks. Who may
 * ask is the caller's business (a route's declared role; the CLI's access to the database).
 */
import { randomUUID } from 'node:crypto';
import { HubError, badRequest, notFound } from '../core/errors.js';
import type { AccessPolicy, Action } from '../core/access/access-model.js';
import { ACTIONS } from '../core/access/access-model.js';
import type { AuditEvent } from '../core/access/audit-chain.js';
import { optArea, optString, optStringList, reqString } from '../core/access/admin-input.js';
import type { AccessStore } from '../core/access/access-store.js';
import { newApiKey } from './token-service.js';
import type { IdentityService } from './identity-service.js';

const ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;

/** Who made a change, as the audit log names it; `id`: the account, when one asks. */
export interface Actor {
  name: string;
  id?: string;
  department?: string;
  ip?: string;
}

export interface AdministrationDeps {
  store: AccessStore;
  identity: Pick<IdentityService, 'checkRoles' | 'hashPassword'>;
  audit: (e: AuditEvent) => Promise<void>;
  now?: () => Date;
}

export type Administration = ReturnType<typeof createAdministration>;

export function createAdministration({ store, identity, audit, now = () => new Date() }: AdministrationDeps) {
  const record = (actor: Actor, action: string, target: string, detail?: Record<string, unknown>) =>
    audit({
      actor: actor.name,
      ...(actor.department ? { department: actor.department } : {}),
      ...(actor.ip ? { ip: actor.ip } : {}),
      action,
      target,
      outcome: 'success',
      ...(detail ? { detail } : {}),
    });

  const userView = (u: NonNullable<Awaited<ReturnType<typeof store.getUser>>>) => ({
    id: u.id,
    username: u.username,
    displayName: u.displayName,
    department: u.department,
    roles: u.roles,
    totp: u.totpEnabled,
    disabled: u.disabled,
    locked: u.lockedUntil !== null && Date.parse(u.lockedUntil) > now().getTime(),
    createdAt: u.createdAt,
    lastLoginAt: u.lastLoginAt,
  });

  return {
    listUsers: async () => (await store.listUsers()).map(userView),

    async createUser(b: Record<string, unknown>, actor: Actor): Promise<{ id: string }> {
      const username = reqString(b, 'username', 64);
      if (!ID_RE.test(username)) throw badRequest('username: letters, digits, . _ - only');
      const roles = identity.checkRoles(b.roles ?? ['department-user']);
      const department = optString(b, 'department', 64) ?? null;
      const id = randomUUID();
      await store.createUser({
        id,
        username,
        displayName: optString(b, 'displayName') ?? null,
        department,
        roles,
        passwordHash: await identity.hashPassword(username, reqString(b, 'password')),
      });
      await record(actor, 'user.create', username, { roles, department });
      return { id };
    },

    /** Roles, department, display name, disabled; a change of roles or a disabling ends the sessions. */
    async updateUser(id: string, b: Record<string, unknown>, actor: Actor): Promise<void> {
      const patch: Parameters<typeof store.updateUser>[1] = {};
      if ('roles' in b) patch.roles = identity.checkRoles(b.roles);
      if ('department' in b) patch.department = optString(b, 'department', 64) ?? null;
      if ('displayName' in b) patch.displayName = optString(b, 'displayName') ?? null;
      if ('disabled' in b) {
        if (typeof b.disabled !== 'boolean') throw badRequest('disabled must be true or false');
        patch.disabled = b.disabled;
      }
      if (id === actor.id && patch.roles && !patch.roles.includes('security-administrator'))
        throw new HubError('Conflict', 'You cannot take the security administrator role from yourself');
      if (!(await store.updateUser(id, patch))) throw notFound(`No user ${id}`);
      if (patch.disabled || patch.roles) await store.revokeUserSessions(id);
      await record(actor, 'user.update', id, patch);
    },

    async deleteUser(id: string, actor: Actor): Promise<void> {
      if (id === actor.id) throw new HubError('Conflict', 'You cannot delete your own account');
      if (!(await store.deleteUser(id))) throw notFound(`No user ${id}`);
      await record(actor, 'user.delete', id);
    },

    /** A new password (checked by the password policy); the account's sessions end. */
    async resetPassword(id: string, password: unknown, actor: Actor): Promise<void> {
      const u = await store.getUser(id);
      if (!u) throw notFound(`No user ${id}`);
      if (typeof password !== 'string' || password === '')
        throw badRequest('password must be a non-empty string');
      await store.setPassword(id, await identity.hashPassword(u.username, password));
      await store.revokeUserSessions(id);
      await record(actor, 'user.password-reset', u.username);
    },

    async unlockUser(id: string, actor: Actor): Promise<void> {
      if (!(await store.getUser(id))) throw notFound(`No user ${id}`);
      await store.unlock(id);
      await record(actor, 'user.unlock', id);
    },

    /** Removes the TOTP factor (the user enrols again at the next login); the sessions end. */
    async resetTotp(id: string, actor: Actor): Promise<void> {
      if (!(await store.getUser(id))) throw notFound(`No user ${id}`);
      await store.setTotp(id, null, false);
      await store.revokeUserSessions(id);
      await record(actor, 'user.totp-reset', id);
    },

    listDepartments: () => store.listDepartments(),

    async createDepartment(b: Record<string, unknown>, actor: Actor): Promise<{ id: string }> {
      const id = reqString(b, 'id', 64);
      if (!ID_RE.test(id)) throw badRequest('id: letters, digits, . _ - only');
      const parent = optString(b, 'parent', 64) ?? null;
      await store.createDepartment({ id, name: reqString(b, 'name'), parent });
      await record(actor, 'department.create', id, { parent });
      return { id };
    },

    async updateDepartment(id: string, b: Record<string, unknown>, actor: Actor): Promise<void> {
      const patch: { name?: string; parent?: string | null } = {};
      if ('name' in b) patch.name = reqString(b, 'name');
      if ('parent' in b) {
        patch.parent = optString(b, 'parent', 64) ?? null;
        if (patch.parent !== null && (await store.departmentSubtree(id)).includes(patch.parent))
          throw badRequest('A department cannot be placed under itself or its sub-departments');
      }
      if (!(await store.updateDepartment(id, patch))) throw notFound(`No department ${id}`);
      await record(actor, 'department.update', id, patch);
    },

    async deleteDepartment(id: string, actor: Actor): Promise<void> {
      if (!(await store.deleteDepartment(id))) throw notFound(`No department ${id}`);
      await record(actor, 'department.delete', id);
    },

    /** The keys without their secret hashes. */
    listApiKeys: async () => (await store.listApiKeys()).map(({ secretHash: _s, ...k }) => k),

    /** A new key; `key` is its secret, shown this once (only its hash is kept). */
    async createApiKey(b: Record<string, unknown>, actor: Actor): Promise<{ id: string; key: string }> {
      const roles = identity.checkRoles(b.roles ?? ['department-user']);
      if (roles.some((r) => r !== 'department-user' && r !== 'department-admin'))
        throw badRequest('An API key holds department roles only');
      const k = newApiKey();
      const expiresAt = optString(b, 'expiresAt');
      if (expiresAt !== undefined && !Number.isFinite(Date.parse(expiresAt)))
        throw badRequest('expiresAt must be a date-time');
      await store.createApiKey({
        id: k.id,
        name: reqString(b, 'name', 128),
        secretHash: k.secretHash,
        department: optString(b, 'department', 64) ?? null,
        roles,
        createdBy: actor.name,
        expiresAt: expiresAt === undefined ? null : new Date(expiresAt).toISOString(),
      });
      await record(actor, 'api-key.create', k.id, { roles });
      return { id: k.id, key: k.key };
    },

    async revokeApiKey(id: string, actor: Actor): Promise<void> {
      if (!(await store.revokeApiKey(id))) throw notFound(`No active API key ${id}`);
      await record(actor, 'api-key.revoke', id);
    },

    listPolicies: () => store.listPolicies(),

    /** `expand`: entity type and attribute names to IRIs ('*' stays), with the caller's @context. */
    async createPolicy(
      b: Record<string, unknown>,
      actor: Actor,
      expand: (term: string) => string,
    ): Promise<AccessPolicy> {
      const actions = optStringList(b, 'actions') ?? ['read'];
      if (!actions.every((a) => (ACTIONS as readonly string[]).includes(a)))
        throw badRequest('actions: read, write');
      const tenant = typeof b.tenant === 'string' ? b.tenant : '';
      const attrs = optStringList(b, 'attrs')?.map(expand);
      const area = optArea(b);
      const policy: AccessPolicy = {
        id: randomUUID(),
        department: reqString(b, 'department', 64),
        tenant,
        entityTypes: (optStringList(b, 'entityTypes') ?? ['*']).map(expand),
        ...(attrs ? { attrs } : {}),
        actions: actions as Action[],
        ...(area ? { area } : {}),
      };
      await store.createPolicy(policy);
      await record(actor, 'policy.create', policy.id, { ...policy });
      return policy;
    },

    async deletePolicy(id: string, actor: Actor): Promise<void> {
      const gone = await store.deletePolicy(id);
      if (!gone) throw notFound(`No policy ${id}`);
      await record(actor, 'policy.delete', id, { ...gone });
    },
  };
}
