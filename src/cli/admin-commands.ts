/**
 * `citypivot users|departments|api-keys|policies`: the administration the API offers under /api/v1,
 * from the command line, through the same service (access/administration.ts): the same checks
 * and the same audit record (actor `cli`). Like `users`, they open the database themselves.
 */
import { parseArgs } from 'node:util';
import { createAdministration, type Administration } from '../access/administration.js';
import { createIdentityService, type IdentityService } from '../access/identity-service.js';
import type { AccessStore } from '../core/access/access-store.js';
import { createTokenService } from '../access/token-service.js';
import { createContextResolver } from '../broker/context-resolver.js';
import { loadBundledContexts } from '../server/bundled-contexts.js';
import { UsageError } from './config.js';
import { readPassword, withAccessStore } from './user-commands.js';

const ACTOR = { name: 'cli' };

type Values = Record<string, string | boolean | string[] | undefined>;

function parse(
  argv: string[],
  options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>,
): { values: Values; positionals: string[] } {
  try {
    return parseArgs({
      args: argv,
      options: { db: { type: 'string' }, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

const dbOf = (v: Values) => (typeof v.db === 'string' ? v.db : process.env.CITYPIVOT_DB || './data');

/** Runs `fn` with the administration service on the database of `--db`, the store and identity. */
async function run(
  v: Values,
  fn: (admin: Administration, deps: { store: AccessStore; identity: IdentityService }) => Promise<number>,
): Promise<number> {
  return withAccessStore(dbOf(v), async (store) => {
    const identity = createIdentityService({ store, tokens: await createTokenService({ store }) });
    const admin = createAdministration({
      store,
      identity,
      audit: async (e) => void (await store.audit.append(e)),
    });
    return fn(admin, { store, identity });
  });
}

/** Rows as aligned columns. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export async function departmentsCommand(argv: string[]): Promise<number> {
  const { values: v, positionals: p } = parse(argv, {
    name: { type: 'string' },
    parent: { type: 'string' },
  });
  const [sub, id, ...extra] = p;
  if (extra.length > 0 || !(sub === 'list' ? id === undefined : (sub === 'add' || sub === 'remove') && id))
    throw new UsageError('departments: use add ID --name NAME [--parent P], list, or remove ID');
  if (sub === 'add' && typeof v.name !== 'string') throw new UsageError('departments add needs --name NAME');
  return run(v, async (admin) => {
    if (sub === 'add') {
      await admin.createDepartment({ id, name: v.name, ...(v.parent ? { parent: v.parent } : {}) }, ACTOR);
      console.log(`Created the department ${id!}`);
    } else if (sub === 'remove') {
      await admin.deleteDepartment(id!, ACTOR);
      console.log(`Removed the department ${id!}`);
    } else {
      const list = await admin.listDepartments();
      console.log(
        table(
          ['ID', 'NAME', 'PARENT'],
          list.map((d) => [d.id, d.name, d.parent ?? '']),
        ),
      );
    }
    return 0;
  });
}

export async function apiKeysCommand(argv: string[]): Promise<number> {
  const { values: v, positionals: p } = parse(argv, {
    role: { type: 'string', multiple: true },
    department: { type: 'string' },
    expires: { type: 'string' },
  });
  const [sub, arg, ...extra] = p;
  if (extra.length > 0 || !(sub === 'list' ? arg === undefined : (sub === 'add' || sub === 'revoke') && arg))
    throw new UsageError(
      'api-keys: use add NAME [--role R]... [--department D] [--expires DATE], list, or revoke ID',
    );
  return run(v, async (admin) => {
    if (sub === 'add') {
      const k = await admin.createApiKey(
        {
          name: arg,
          ...(Array.isArray(v.role) ? { roles: v.role } : {}),
          ...(typeof v.department === 'string' ? { department: v.department } : {}),
          ...(typeof v.expires === 'string' ? { expiresAt: v.expires } : {}),
        },
        ACTOR,
      );
      console.log(
        `Created the API key ${k.id}; its secret, shown this once (send it as the X-API-Key header):`,
      );
      console.log(k.key);
    } else if (sub === 'revoke') {
      await admin.revokeApiKey(arg!, ACTOR);
      console.log(`Revoked the API key ${arg!}`);
    } else {
      const keys = await admin.listApiKeys();
      console.log(
        table(
          ['ID', 'NAME', 'DEPARTMENT', 'ROLES', 'EXPIRES', 'REVOKED'],
          keys.map((k) => [
            k.id,
            k.name,
            k.department ?? '',
            k.roles.join(','),
            k.expiresAt ?? '',
            k.revokedAt ? 'yes' : '',
          ]),
        ),
      );
    }
    return 0;
  });
}

export async function policiesCommand(argv: string[]): Promise<number> {
  const { values: v, positionals: p } = parse(argv, {
    department: { type: 'string' },
    type: { type: 'string', multiple: true },
    attr: { type: 'string', multiple: true },
    action: { type: 'string', multiple: true },
    tenant: { type: 'string' },
    context: { type: 'string' },
  });
  const [sub, id, ...extra] = p;
  if (extra.length > 0 || !(sub === 'remove' ? id : (sub === 'add' || sub === 'list') && id === undefined))
    throw new UsageError(
      'policies: use add --department D [--type T]... [--attr A]... [--action read|write]... [--tenant T] [--context URL], list, or remove ID',
    );
  if (sub === 'add' && typeof v.department !== 'string')
    throw new UsageError('policies add needs --department D');
  // Type and attribute names: expanded with --context (a bundled or stored @context; no network),
  // else with the NGSI-LD core context, as the API does without a Link header.
  const expand =
    sub === 'add'
      ? await (async () => {
          const resolver = createContextResolver({
            bundled: await loadBundledContexts(),
            fetchDocument: (url: string) =>
              Promise.reject(new Error(`${url} is not a bundled @context (the CLI fetches nothing)`)),
          });
          const ctx = await resolver
            .resolve(typeof v.context === 'string' ? v.context : undefined)
            .catch((err: unknown) => {
              throw new UsageError(`--context: ${(err as Error).message}`);
            });
          return (t: string) => (t === '*' ? t : ctx.expand(t));
        })()
      : (t: string) => t;
  return run(v, async (admin) => {
    if (sub === 'add') {
      const policy = await admin.createPolicy(
        {
          department: v.department,
          ...(typeof v.tenant === 'string' ? { tenant: v.tenant } : {}),
          ...(Array.isArray(v.type) ? { entityTypes: v.type } : {}),
          ...(Array.isArray(v.attr) ? { attrs: v.attr } : {}),
          ...(Array.isArray(v.action) ? { actions: v.action } : {}),
        },
        ACTOR,
        expand,
      );
      console.log(
        `Created the policy ${policy.id}: ${policy.department} may ${policy.actions.join(' and ')} ${policy.entityTypes.join(', ')}${policy.tenant ? ` in tenant ${policy.tenant}` : ''}`,
      );
    } else if (sub === 'remove') {
      await admin.deletePolicy(id!, ACTOR);
      console.log(`Removed the policy ${id!}`);
    } else {
      const list = await admin.listPolicies();
      console.log(
        table(
          ['ID', 'DEPARTMENT', 'TENANT', 'ACTIONS', 'TYPES', 'ATTRIBUTES'],
          list.map((x) => [
            x.id,
            x.department,
            x.tenant === '' ? '(default)' : x.tenant,
            x.actions.join(','),
            x.entityTypes.join(' '),
            x.attrs?.join(' ') ?? '*',
          ]),
        ),
      );
    }
    return 0;
  });
}

export async function usersCommand(argv: string[]): Promise<number> {
  const { values: v, positionals: p } = parse(argv, {
    role: { type: 'string', multiple: true },
    department: { type: 'string' },
    'display-name': { type: 'string' },
    disable: { type: 'boolean' },
    enable: { type: 'boolean' },
  });
  const [sub, name, ...extra] = p;
  const named = ['add', 'passwd', 'unlock', 'totp-reset', 'set', 'remove'];
  if (extra.length > 0 || !(sub === 'list' ? name === undefined : named.includes(sub ?? '') && name))
    throw new UsageError(`users: use ${named.join('|')} NAME, or list`);
  if (v.disable && v.enable) throw new UsageError('users set: --disable or --enable, not both');
  return run(v, async (admin, { store, identity }) => {
    if (sub === 'list') {
      const users = await admin.listUsers();
      console.log(
        table(
          ['USER', 'DEPARTMENT', 'ROLES', 'TOTP', 'STATE', 'LAST LOGIN'],
          users.map((u) => [
            u.username,
            u.department ?? '',
            u.roles.join(','),
            u.totp ? 'yes' : 'no',
            u.disabled ? 'disabled' : u.locked ? 'locked' : 'active',
            u.lastLoginAt ?? '',
          ]),
        ),
      );
      return 0;
    }
    if (sub === 'add') {
      const body = {
        username: name,
        ...(Array.isArray(v.role) ? { roles: v.role } : {}),
        ...(typeof v.department === 'string' ? { department: v.department } : {}),
        ...(typeof v['display-name'] === 'string' ? { displayName: v['display-name'] } : {}),
      };
      // The name and roles are checked before the password is asked for.
      identity.checkRoles(body.roles ?? ['department-user']);
      await admin.createUser({ ...body, password: await readPassword(name!) }, ACTOR);
      console.log(`Created ${name!} (${(body.roles ?? ['department-user']).join(', ')})`);
      return 0;
    }
    const user = await store.getUserByName(name!);
    if (!user) throw new Error(`No user ${name!} (citypivot users list shows them)`);
    if (sub === 'passwd') await admin.resetPassword(user.id, await readPassword(name!), ACTOR);
    else if (sub === 'unlock') await admin.unlockUser(user.id, ACTOR);
    else if (sub === 'totp-reset') await admin.resetTotp(user.id, ACTOR);
    else if (sub === 'remove') await admin.deleteUser(user.id, ACTOR);
    else {
      const patch = {
        ...(Array.isArray(v.role) ? { roles: v.role } : {}),
        ...(typeof v.department === 'string'
          ? { department: v.department === '' ? null : v.department }
          : {}),
        ...(typeof v['display-name'] === 'string' ? { displayName: v['display-name'] } : {}),
        ...(v.disable ? { disabled: true } : v.enable ? { disabled: false } : {}),
      };
      if (Object.keys(patch).length === 0)
        throw new UsageError(
          'users set: give --role R (repeatable), --department D, --display-name N, --disable or --enable',
        );
      await admin.updateUser(user.id, patch, ACTOR);
    }
    console.log(`${sub}: done for ${name!}`);
    return 0;
  });
}
