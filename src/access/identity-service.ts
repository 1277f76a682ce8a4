/**
 * Accounts and sign-in: Argon2id password hashes, lockout after repeated failures, TOTP second
 * factor (required for administrator roles), hub sessions with an idle timeout and revocation,
 * and authentication of each request from its bearer token or API key.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { hash as argonHash, verify as argonVerify } from '@node-rs/argon2';
import { generateSecret, generateURI, verify as totpVerify } from 'otplib';
import { HubError, badRequest } from '../core/errors.js';
import type { Principal, Role } from '../core/access/access-model.js';
import { ADMIN_ROLES, isRole, rolesConflict } from '../core/access/access-model.js';
import {
  DEFAULT_PASSWORD_POLICY,
  passwordProblems,
  type PasswordPolicy,
} from '../core/access/password-policy.js';
import type { AccessStore, UserRecord } from '../core/access/access-store.js';
import { HUB_ISSUER, apiKeyMatches, parseApiKey, type TokenService } from './token-service.js';

/** Argon2id with the OWASP-recommended minimum (19 MiB, 2 passes, 1 lane). */
const ARGON = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export interface LoginResult {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  /** Set when only TOTP enrolment is allowed with this token. */
  scope?: 'totp-enrolment';
  password_change_required?: boolean;
}

export interface IdentityDeps {
  store: AccessStore;
  tokens: TokenService;
  /** Require TOTP for administrator roles; default true. */
  adminTotp?: boolean;
  now?: () => Date;
}

const wrongCredentials = () => new HubError('Unauthorized', 'Wrong user name, password or code');

export function createIdentityService(deps: IdentityDeps) {
  const { store, tokens } = deps;
  const now = deps.now ?? (() => new Date());
  const adminTotp = deps.adminTotp ?? true;
  let dummyHash: Promise<string> | undefined;

  const policy = async (): Promise<PasswordPolicy> => ({
    ...DEFAULT_PASSWORD_POLICY,
    ...((await store.getSetting<Partial<PasswordPolicy>>('password-policy')) ?? {}),
  });

  async function hashPassword(username: string, password: string): Promise<string> {
    const problems = passwordProblems(password, username, await policy());
    if (problems.length > 0)
      throw badRequest(`The password of ${JSON.stringify(username)} is too weak: ${problems.join('; ')}`);
    return argonHash(password, ARGON);
  }

  function checkRoles(roles: unknown): Role[] {
    if (!Array.isArray(roles) || !roles.every(isRole))
      throw badRequest(
        `roles must be a list of: ${ADMIN_ROLES.join(', ')}, department-admin, department-user`,
      );
    const conflict = rolesConflict(roles);
    if (conflict) throw badRequest(conflict);
    return [...new Set(roles)];
  }

  async function checkTotp(user: UserRecord, code: string): Promise<boolean> {
    if (!user.totpSecret || !/^\d{6}$/.test(code)) return false;
    const r = await totpVerify({ secret: user.totpSecret, token: code, epochTolerance: 30 });
    // A code works once: a replayed code (same or older time step) is refused.
    if (!r.valid) return false;
    const step = 'timeStep' in r ? r.timeStep : Math.floor(Date.now() / 30_000) + r.delta;
    return store.useTotpStep(user.id, step);
  }

  return {
    policy,
    hashPassword,
    checkRoles,

    /** POST /api/v1/auth/login. Failures all look alike to the caller; the audit log tells them apart. */
    async login(
      username: string,
      password: string,
      code: string | undefined,
    ): Promise<{ result: LoginResult; user: UserRecord }> {
      const p = await policy();
      const user = await store.getUserByName(username);
      if (!user || user.disabled || !user.passwordHash) {
        // Spend the same time as a real check, so that timing does not tell which accounts exist.
        dummyHash ??= argonHash(randomBytes(16).toString('hex'), ARGON);
        await argonVerify(await dummyHash, password).catch(() => false);
        throw Object.assign(wrongCredentials(), { reason: user ? 'disabled' : 'unknown-user' });
      }
      if (user.lockedUntil && Date.parse(user.lockedUntil) > now().getTime())
        throw Object.assign(
          new HubError('Unauthorized', 'The account is locked after repeated failed logins; try again later'),
          { reason: 'locked', user },
        );
      const ok = await argonVerify(user.passwordHash, password).catch(() => false);
      const needsCode = user.totpEnabled;
      const codeOk = ok && needsCode && code !== undefined ? await checkTotp(user, code) : !needsCode;
      if (!ok || !codeOk) {
        if (ok && needsCode && code === undefined)
          throw Object.assign(new HubError('Unauthorized', 'A TOTP code is required: send it as "totp"'), {
            reason: 'totp-missing',
            user,
          });
        const f = await store.recordFailure(user.id, p.maxFailures, p.lockSeconds);
        throw Object.assign(wrongCredentials(), { reason: ok ? 'totp-wrong' : 'password-wrong', user, ...f });
      }
      await store.recordSuccess(user.id);
      const isAdmin = user.roles.some((r) => ADMIN_ROLES.includes(r));
      const scope = adminTotp && isAdmin && !user.totpEnabled ? 'totp-enrolment' : 'full';
      const seconds = scope === 'full' ? p.tokenSeconds : 600;
      const sid = randomUUID();
      await store.createSession({
        id: sid,
        userId: user.id,
        scope,
        expiresAt: new Date(now().getTime() + seconds * 1000).toISOString(),
      });
      const token = await tokens.sign({ sub: user.id, sid, scope, name: user.username }, seconds);
      const expired =
        p.maxAgeDays > 0 &&
        user.passwordChangedAt !== null &&
        now().getTime() - Date.parse(user.passwordChangedAt) > p.maxAgeDays * 86_400_000;
      return {
        user,
        result: {
          access_token: token,
          token_type: 'Bearer',
          expires_in: seconds,
          ...(scope === 'totp-enrolment' ? { scope } : {}),
          ...(expired ? { password_change_required: true } : {}),
        },
      };
    },

    /** Authenticates a request from its Authorization (Bearer, ApiKey) or X-API-Key header. */
    async authenticate(
      authorization: string | undefined,
      apiKeyHeader: string | undefined,
      queryToken: string | undefined,
    ): Promise<Principal | undefined> {
      const bearer = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1] ?? queryToken;
      const apiKey = /^ApiKey\s+(\S+)$/i.exec(authorization ?? '')?.[1] ?? apiKeyHeader;
      if (apiKey !== undefined) return this.byApiKey(apiKey);
      if (bearer === undefined) return undefined;
      const iss = tokens.issuerOf(bearer);
      if (iss !== undefined && iss !== HUB_ISSUER) return tokens.verifyExternal(bearer);
      const claims = await tokens.verifyHub(bearer);
      const session = await store.getSession(claims.sid);
      if (!session || session.revokedAt)
        throw new HubError('Unauthorized', 'The session has ended (logged out)');
      const p = await policy();
      const idle = now().getTime() - Date.parse(session.lastSeenAt);
      if (idle > p.idleSeconds * 1000) {
        await store.revokeSession(session.id);
        throw new HubError('Unauthorized', 'The session has ended after inactivity; log in again');
      }
      // Touch at most every 30 s: the idle timeout does not need more, the database is spared.
      if (idle > 30_000) await store.touchSession(session.id);
      const user = await store.getUser(claims.sub);
      if (!user || user.disabled) throw new HubError('Unauthorized', 'The account is disabled');
      return {
        kind: 'user',
        id: user.id,
        name: user.username,
        ...(user.department ? { department: user.department } : {}),
        roles: user.roles,
        sessionId: session.id,
        scope: claims.scope,
      };
    },

    async byApiKey(key: string): Promise<Principal> {
      const parsed = parseApiKey(key);
      const rec = parsed ? await store.getApiKey(parsed.id) : undefined;
      if (
        !parsed ||
        !rec ||
        rec.revokedAt ||
        (rec.expiresAt && Date.parse(rec.expiresAt) <= now().getTime()) ||
        !apiKeyMatches(parsed.secret, rec.secretHash)
      )
        throw new HubError('Unauthorized', 'The API key is invalid, revoked or expired');
      return {
        kind: 'api-key',
        id: rec.id,
        name: `api-key:${rec.name}`,
        ...(rec.department ? { department: rec.department } : {}),
        roles: rec.roles,
        scope: 'full',
      };
    },

    /** Starts TOTP enrolment: a new secret, not active until confirmed with a code. */
    async enrolTotp(userId: string): Promise<{ secret: string; otpauth_url: string }> {
      const user = await store.getUser(userId);
      if (!user) throw new HubError('ResourceNotFound', 'No such user');
      if (user.totpEnabled)
        throw new HubError('Conflict', 'TOTP is already active; an administrator can reset it');
      const secret = generateSecret();
      await store.setTotp(userId, secret, false);
      return { secret, otpauth_url: generateURI({ issuer: 'CityPivot', label: user.username, secret }) };
    },

    async confirmTotp(userId: string, code: string): Promise<void> {
      const user = await store.getUser(userId);
      if (!user?.totpSecret || user.totpEnabled) throw badRequest('Start TOTP enrolment first');
      if (!(await checkTotp(user, code))) throw new HubError('Unauthorized', 'The TOTP code is wrong');
      await store.setTotp(userId, user.totpSecret, true);
      // The enrolment-only session has done its job; a new login (with the code) gives full access.
      await store.revokeUserSessions(userId);
    },

    /**
     * First start: creates the `admin` account (security and system administrator of the root
     * department, which may read and write everything) unless accounts exist. Returns the
     * generated password when none was given, to be shown once.
     */
    async bootstrap(password: string | undefined): Promise<{ created: boolean; generated?: string }> {
      if ((await store.countUsers()) > 0) return { created: false };
      const pw = password ?? `${randomBytes(12).toString('base64url')}-Aa1`;
      const generated = password === undefined ? pw : undefined;
      const problems = passwordProblems(pw, 'admin', await policy());
      if (password !== undefined && problems.length > 0)
        throw new Error(
          `CITYPIVOT_ADMIN_PASSWORD, the password of the first account "admin", is refused by the password policy: ${problems.join('; ')}`,
        );
      if ((await store.listDepartments()).length === 0)
        await store.createDepartment({ id: 'city', name: 'City', parent: null });
      if ((await store.listPolicies(['city'])).length === 0)
        await store.createPolicy({
          id: randomUUID(),
          department: 'city',
          tenant: '*',
          entityTypes: ['*'],
          actions: ['read', 'write'],
        });
      await store
        .createUser({
          id: randomUUID(),
          username: 'admin',
          displayName: 'Administrator',
          department: 'city',
          roles: ['system-administrator', 'security-administrator'],
          passwordHash: await hashPassword('admin', pw),
        })
        .catch((err: unknown) => {
          // Another instance created it at the same moment.
          if (err instanceof HubError && err.code === 'AlreadyExists') return;
          throw err;
        });
      return { created: true, ...(generated ? { generated } : {}) };
    },
  };
}

export type IdentityService = ReturnType<typeof createIdentityService>;
