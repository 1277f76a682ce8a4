/**
 * Bearer tokens: JWTs the hub signs (ES256, with a key generated at first start and kept in the
 * database so that every instance verifies every other's tokens), JWTs of an external OpenID
 * Connect provider (verified against its JWKS), and API keys for systems (`cpk_<id>.<secret>`,
 * stored as a SHA-256 of the secret).
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import {
  SignJWT,
  createRemoteJWKSet,
  decodeJwt,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';
import { HubError } from '../core/errors.js';
import type { Principal, Role } from '../core/access/access-model.js';
import { isRole } from '../core/access/access-model.js';
import type { AccessStore } from '../core/access/access-store.js';

export const HUB_ISSUER = 'urn:citypivot:hub';
export const HUB_AUDIENCE = 'urn:citypivot:api';

/** An external OpenID Connect provider whose access tokens the hub accepts. */
export interface OidcSetting {
  issuer: string;
  jwksUrl: string;
  /** Expected `aud`, if any. */
  audience?: string;
  /** Claims naming the user, department and roles; defaults preferred_username, department, roles. */
  usernameClaim?: string;
  departmentClaim?: string;
  rolesClaim?: string;
}

const unauthorized = (detail: string) => new HubError('Unauthorized', detail);

export interface HubTokenClaims {
  sub: string;
  sid: string;
  scope: 'full' | 'totp-enrolment';
}

export async function createTokenService(deps: { store: AccessStore; oidc?: OidcSetting }) {
  const held = await deps.store.initSetting<JWK>('token-signing-key', await newSigningKey());
  const privateKey = (await importJWK(held, 'ES256')) as CryptoKey;
  const { d: _d, ...publicJwk } = held;
  const publicKey = (await importJWK(publicJwk, 'ES256')) as CryptoKey;
  const jwks = deps.oidc ? createRemoteJWKSet(new URL(deps.oidc.jwksUrl)) : undefined;

  return {
    /** The public key as a JWKS (GET /api/v1/auth/jwks), for services that verify hub tokens. */
    jwks: { keys: [{ ...publicJwk, alg: 'ES256', use: 'sig', kid: held.kid }] },

    async sign(claims: HubTokenClaims & { name: string }, seconds: number): Promise<string> {
      return new SignJWT({ name: claims.name, scope: claims.scope })
        .setProtectedHeader({ alg: 'ES256', ...(held.kid ? { kid: held.kid } : {}) })
        .setIssuer(HUB_ISSUER)
        .setAudience(HUB_AUDIENCE)
        .setSubject(claims.sub)
        .setJti(claims.sid)
        .setIssuedAt()
        .setExpirationTime(`${seconds}s`)
        .sign(privateKey);
    },

    /** Which kind of bearer token this is, by its issuer (not trusted until verified). */
    issuerOf(token: string): string | undefined {
      try {
        return decodeJwt(token).iss;
      } catch {
        return undefined;
      }
    },

    async verifyHub(token: string): Promise<HubTokenClaims> {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, publicKey, {
          issuer: HUB_ISSUER,
          audience: HUB_AUDIENCE,
          algorithms: ['ES256'],
        }));
      } catch (err) {
        throw new HubError('Unauthorized', 'The access token is invalid or has expired', { cause: err });
      }
      if (typeof payload.sub !== 'string' || typeof payload.jti !== 'string')
        throw unauthorized('The access token is incomplete');
      return {
        sub: payload.sub,
        sid: payload.jti,
        scope: payload.scope === 'totp-enrolment' ? 'totp-enrolment' : 'full',
      };
    },

    /** Verifies an external provider's token and maps its claims to a principal. */
    async verifyExternal(token: string): Promise<Principal> {
      const o = deps.oidc;
      if (!o || !jwks) throw unauthorized('Tokens of other issuers are not accepted');
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, jwks, {
          issuer: o.issuer,
          ...(o.audience ? { audience: o.audience } : {}),
        }));
      } catch (err) {
        throw new HubError('Unauthorized', 'The access token is invalid or has expired', { cause: err });
      }
      const claim = (name: string | undefined, dflt: string) => payload[name ?? dflt];
      const username = claim(o.usernameClaim, 'preferred_username') ?? payload.sub;
      const department = claim(o.departmentClaim, 'department');
      const rawRoles = claim(o.rolesClaim, 'roles');
      // An external provider may give department roles only: administrators are local accounts with TOTP.
      const roles = (Array.isArray(rawRoles) ? rawRoles : []).filter(
        (r): r is Role => isRole(r) && (r === 'department-admin' || r === 'department-user'),
      );
      if (typeof payload.sub !== 'string') throw unauthorized('The access token has no subject');
      return {
        kind: 'external',
        id: payload.sub,
        name: typeof username === 'string' ? username : payload.sub,
        ...(typeof department === 'string' ? { department } : {}),
        roles,
        scope: 'full',
      };
    },
  };
}

export type TokenService = Awaited<ReturnType<typeof createTokenService>>;

async function newSigningKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid: randomUUID() };
}

/** A new API key: the text given once to its owner, and what is stored. */
export function newApiKey(): { id: string; key: string; secretHash: string } {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(24).toString('base64url');
  return { id, key: `cpk_${id}.${secret}`, secretHash: sha256(secret) };
}

/** Splits an API key into id and secret; undefined if it is not shaped like one. */
export function parseApiKey(key: string): { id: string; secret: string } | undefined {
  const m = /^cpk_([0-9a-f]{16})\.([A-Za-z0-9_-]{20,})$/.exec(key.trim());
  return m ? { id: m[1] as string, secret: m[2] as string } : undefined;
}

export function apiKeyMatches(secret: string, secretHash: string): boolean {
  const a = Buffer.from(sha256(secret), 'hex');
  const b = Buffer.from(secretHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}
