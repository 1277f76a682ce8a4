/**
 * The access model: who (principal: user, API key or external token), belonging to which
 * department, holding which roles; what a department may read or write (policies); what an
 * approved share or a direct grant adds; how attributes are classified (the data catalog).
 * Types only and a few pure helpers; storage is the access store (access-store.ts).
 */
import type { MaskKind } from './masking.js';

/**
 * Administrative roles are separate (MLPS 2.0 三权分立, GB/T 35273 §7.1): the system
 * administrator runs the platform (departments, API keys, data catalog), the security
 * administrator decides who may do what (users, roles, policies, grants), the auditor reads the
 * audit log and the sharing ledger. No role does all three jobs. Department roles work on data.
 */
export const ROLES = [
  'system-administrator',
  'security-administrator',
  'auditor',
  'department-admin',
  'department-user',
] as const;
export type Role = (typeof ROLES)[number];

export const ADMIN_ROLES: readonly Role[] = ['system-administrator', 'security-administrator', 'auditor'];

/** The administrative jobs and the one role that does each. */
export const ADMIN_JOBS = {
  departments: 'system-administrator',
  apiKeys: 'system-administrator',
  catalog: 'system-administrator',
  users: 'security-administrator',
  policies: 'security-administrator',
  grants: 'security-administrator',
  audit: 'auditor',
} as const satisfies Record<string, Role>;
export type AdminJob = keyof typeof ADMIN_JOBS;

export function isRole(s: unknown): s is Role {
  return typeof s === 'string' && (ROLES as readonly string[]).includes(s);
}

/**
 * Separation of duties: the auditor checks the administrators, so nobody is auditor and
 * administrator at once. Returns the reason, or undefined when the set is allowed.
 */
export function rolesConflict(roles: readonly Role[]): string | undefined {
  if (
    roles.includes('auditor') &&
    roles.some((r) => r === 'system-administrator' || r === 'security-administrator')
  )
    return 'The auditor role cannot be held together with an administrator role (separation of duties)';
  return undefined;
}

export const SENSITIVITY_CLASSES = ['personal', 'sensitive-personal', 'important', 'general'] as const;
export type SensitivityClass = (typeof SENSITIVITY_CLASSES)[number];

/** Classes whose values are masked unless a grant for the stated purpose covers them. */
export const MASKED_CLASSES: readonly SensitivityClass[] = ['personal', 'sensitive-personal'];

/** One data catalog entry: an attribute of an entity type, classified (GB/T 43697, PIPL Art.28/51). */
export interface CatalogEntry {
  /** Tenant, or '*' for every tenant. */
  tenant: string;
  /** Expanded entity type IRI. */
  entityType: string;
  /** Expanded attribute IRI. */
  attr: string;
  sensitivity: SensitivityClass;
  /** How the value is masked; default `auto`. */
  mask: MaskKind;
}

export const ACTIONS = ['read', 'write'] as const;
export type Action = (typeof ACTIONS)[number];

/** A geographic area: a bounding box [west, south, east, north] or a GeoJSON Polygon/MultiPolygon. */
export type Area =
  | { bbox: [number, number, number, number] }
  | { type: 'Polygon'; coordinates: number[][][] }
  | { type: 'MultiPolygon'; coordinates: number[][][][] };

/** What a department may do: on which tenants, entity types and attributes, optionally in an area. */
export interface AccessPolicy {
  id: string;
  department: string;
  /** Tenant name ('' is the default tenant) or '*'. */
  tenant: string;
  /** Expanded type IRIs, or ['*'] for every type. */
  entityTypes: string[];
  /** Expanded attribute IRIs; undefined: every attribute. */
  attrs?: string[];
  actions: Action[];
  area?: Area;
}

/** Read access given to a department through an approved share or by the security administrator. */
export interface AccessGrant {
  id: string;
  department: string;
  tenant: string;
  entityType: string;
  /** Expanded attribute IRIs; undefined: every attribute of the type. */
  attrs?: string[];
  /** The purpose stated when reading; tagged values are shown unmasked only for this purpose. */
  purpose: string;
  area?: Area;
  validFrom: string;
  validUntil: string;
  /** The share request it came from, if any. */
  requestId?: string;
  datasetId?: string;
}

/** `devices`: the devices of a department's config groups, writing with its rights (never signs in). */
export const PRINCIPAL_KINDS = ['user', 'api-key', 'external', 'devices'] as const;
export type PrincipalKind = (typeof PRINCIPAL_KINDS)[number];

/** Who is asking. */
export interface Principal {
  kind: PrincipalKind;
  /** User id, API key id, or the external token's subject. */
  id: string;
  /** Shown in the audit log. */
  name: string;
  /** Department id; undefined for an account without department (it sees no data). */
  department?: string;
  roles: Role[];
  /** Hub token id (jti), for logout and the idle timeout. */
  sessionId?: string;
  /** A restricted token (password login of an administrator without TOTP yet): only TOTP enrolment. */
  scope?: 'full' | 'totp-enrolment';
}

export function hasRole(p: Principal | undefined, role: Role): boolean {
  return p !== undefined && p.roles.includes(role);
}
