/**
 * Who a fuzzed request claims to be, and how it says so: no credentials, a user of each
 * department, the administrator, the auditor, a department's API key, credentials that must not
 * work (garbage, a logged-out session, a forged or expired token, a token for no session) and
 * good credentials in the wrong place (a header nobody reads, no scheme, a cookie).
 */
import { SignJWT, generateKeyPair, importJWK, decodeJwt, type JWK } from 'jose';
import type pg from 'pg';
import type { Rng } from './prng.js';
import type { SeedAccounts } from './fuzz-seed.js';
import type { RouteAccess } from '../../src/http/route-access.js';

export const PRINCIPALS = [
  'anonymous',
  'admin',
  'transport',
  'health',
  'auditor',
  'transport-key',
  'health-key',
  'bad-credentials',
  'misplaced-credentials',
  'enrolment-only',
] as const;
export type PrincipalName = (typeof PRINCIPALS)[number];

/** What each principal may do as seeded (fuzz-seed.ts). */
export const RIGHTS: Record<PrincipalName, { department?: string; tenants: readonly string[] | 'all' }> = {
  anonymous: { tenants: [] },
  admin: { department: 'city', tenants: 'all' },
  transport: { department: 'transport', tenants: ['', 'traffic'] },
  health: { department: 'health', tenants: ['', 'clinic'] },
  auditor: { tenants: [] },
  'transport-key': { department: 'transport', tenants: ['', 'traffic'] },
  'health-key': { department: 'health', tenants: ['', 'clinic'] },
  'bad-credentials': { tenants: [] },
  'misplaced-credentials': { tenants: [] },
  /** An administrator's token before TOTP enrolment: the sign-in routes only. */
  'enrolment-only': { tenants: [] },
};

export interface Credentials {
  headers: Record<string, string>;
  /** A query parameter carrying a token, if that is where this request puts it. */
  query?: [string, string];
  /** Whether the hub should recognise the request as the principal's (false: as anonymous). */
  authenticates: boolean;
  /** Which credential form was used, for the reproduction. */
  form: string;
}

export interface CredentialSet {
  credentials(rng: Rng, who: PrincipalName, rule: RouteAccess | undefined): Credentials;
  /** Every secret a credential holds, to be elided from reports. */
  secrets: readonly [string, string][];
}

/** Builds the credential forms from the seeded accounts (and the hub's own key, for expired tokens). */
export async function credentialSet(accounts: SeedAccounts, pool: pg.Pool): Promise<CredentialSet> {
  const claims = decodeJwt(accounts.admin);
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const other = await generateKeyPair('ES256');
  const forged = await new SignJWT({ ...claims }).setProtectedHeader({ alg: 'ES256' }).sign(other.privateKey);
  const held = await pool.query<{ value: JWK }>(
    "SELECT value FROM access_settings WHERE name = 'token-signing-key'",
  );
  const hubKey = await importJWK(held.rows[0]?.value as JWK, 'ES256');
  const signed = (extra: Record<string, unknown>, exp: number) =>
    new SignJWT({ ...claims, ...extra })
      .setProtectedHeader({
        alg: 'ES256',
        ...(held.rows[0]?.value.kid ? { kid: held.rows[0].value.kid } : {}),
      })
      .setExpirationTime(exp)
      .sign(hubKey);
  const now = Math.floor(Date.now() / 1000);
  const expired = await signed({ iat: now - 7200 }, now - 3600);
  const ghost = await signed({ jti: '00000000-0000-0000-0000-000000000000' }, now + 3600);
  const enrolmentOnly = await signed({ scope: 'totp-enrolment' }, now + 3600);
  const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
  const otherIssuer = `${b64({ alg: 'ES256' })}.${b64({ ...claims, iss: 'https://idp.invalid' })}.AAAA`;
  const tampered = accounts.admin.slice(0, -3) + (accounts.admin.endsWith('AAA') ? 'BBB' : 'AAA');
  const keyTampered = accounts.transportKey.slice(0, -1) + (accounts.transportKey.endsWith('A') ? 'B' : 'A');

  const token: Record<string, string> = {
    admin: accounts.admin,
    transport: accounts.transport,
    health: accounts.health,
    auditor: accounts.auditor,
  };
  const key: Record<string, string> = {
    'transport-key': accounts.transportKey,
    'health-key': accounts.healthKey,
  };
  const bad: [string, Record<string, string>][] = [
    ['garbage bearer', { authorization: 'Bearer not-a-token' }],
    ['empty bearer', { authorization: 'Bearer ' }],
    ['two bearer words', { authorization: `Bearer ${accounts.admin} extra` }],
    ['tampered signature', { authorization: `Bearer ${tampered}` }],
    ['logged-out session', { authorization: `Bearer ${accounts.revoked}` }],
    ['alg none', { authorization: `Bearer ${unsigned}` }],
    ['foreign key', { authorization: `Bearer ${forged}` }],
    ['other issuer', { authorization: `Bearer ${otherIssuer}` }],
    ['expired', { authorization: `Bearer ${expired}` }],
    ['no such session', { authorization: `Bearer ${ghost}` }],
    ['bogus API key', { authorization: 'ApiKey cpk_0000000000000000_bogus' }],
    ['tampered API key', { 'x-api-key': keyTampered }],
    ['token as API key', { 'x-api-key': accounts.admin }],
    ['good bearer, bad API key', { authorization: `Bearer ${accounts.admin}`, 'x-api-key': 'cpk_bogus' }],
    ['basic password', { authorization: `Basic ${Buffer.from('admin:Chief-Passw0rd!').toString('base64')}` }],
  ];
  const misplaced: [string, (t: string) => Record<string, string>][] = [
    ['x-auth-token', (t) => ({ 'x-auth-token': t })],
    ['no scheme', (t) => ({ authorization: t })],
    ['Token scheme', (t) => ({ authorization: `Token ${t}` })],
    ['cookie', (t) => ({ cookie: `access_token=${t}` })],
    ['proxy-authorization', (t) => ({ 'proxy-authorization': `Bearer ${t}` })],
    ['x-api-key bearer', (t) => ({ 'x-api-key': `Bearer ${t}` })],
  ];

  return {
    secrets: [
      [accounts.admin, '<token:admin>'],
      [accounts.transport, '<token:transport-user>'],
      [accounts.health, '<token:health-user>'],
      [accounts.auditor, '<token:auditor>'],
      [accounts.revoked, '<token:logged-out>'],
      [accounts.transportKey, '<api-key:transport>'],
      [accounts.healthKey, '<api-key:health>'],
      [forged, '<token:foreign-key>'],
      [expired, '<token:expired>'],
      [ghost, '<token:no-session>'],
      [enrolmentOnly, '<token:enrolment-only>'],
      [tampered, '<token:tampered>'],
      [keyTampered, '<api-key:tampered>'],
    ],
    credentials(rng, who, rule): Credentials {
      switch (who) {
        case 'anonymous':
          return { headers: {}, authenticates: false, form: 'none' };
        case 'admin':
        case 'transport':
        case 'health':
        case 'auditor': {
          const t = token[who] as string;
          const scheme = rng.pick(['Bearer', 'bearer', 'BEARER']);
          return {
            headers: { authorization: `${scheme} ${t}` },
            authenticates: true,
            form: `${scheme} token`,
          };
        }
        case 'transport-key':
        case 'health-key': {
          const k = key[who] as string;
          const [form, headers]: [string, Record<string, string>] = rng.chance(0.5)
            ? ['ApiKey header', { authorization: `ApiKey ${k}` }]
            : ['X-API-Key', { 'x-api-key': k }];
          return { headers, authenticates: true, form };
        }
        case 'bad-credentials': {
          const [form, headers] = rng.pick(bad);
          return { headers, authenticates: false, form };
        }
        case 'misplaced-credentials': {
          const t = accounts.transport;
          if (rng.chance(0.25)) {
            // Only routes that say so read a token from the query (the live stream): there it
            // is transport-user's.
            const inQuery = rule?.who === 'data' && rule.tokenInQuery === true;
            return {
              headers: {},
              query: ['access_token', t],
              authenticates: inQuery,
              form: 'access_token query',
            };
          }
          const [form, make] = rng.pick(misplaced);
          return { headers: make(t), authenticates: false, form };
        }
        case 'enrolment-only':
          return {
            headers: { authorization: `Bearer ${enrolmentOnly}` },
            authenticates: true,
            form: 'Bearer token',
          };
      }
    },
  };
}
