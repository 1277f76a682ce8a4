/**
 * The access module's storage port: settings, departments, users, sessions, API keys, policies,
 * the data catalog, data sharing (datasets, requests, grants, the ledger) and the audit log. The
 * PostgreSQL adapter is access/postgres-access.ts; the services of the access module, its routes
 * and the CLI use this interface only.
 */
import type { AccessGrant, AccessPolicy, Area, CatalogEntry, Role } from './access-model.js';
import type { AuditEvent, AuditOutcome, AuditRecord } from './audit-chain.js';

export interface Department {
  id: string;
  name: string;
  parent: string | null;
}

export interface UserRecord {
  id: string;
  username: string;
  displayName: string | null;
  department: string | null;
  roles: Role[];
  passwordHash: string | null;
  passwordChangedAt: string | null;
  totpSecret: string | null;
  totpEnabled: boolean;
  totpLastStep: number | null;
  failedLogins: number;
  lockedUntil: string | null;
  disabled: boolean;
  createdAt: string;
  lastLoginAt: string | null;
}

export interface ApiKeyRecord {
  id: string;
  name: string;
  secretHash: string;
  department: string | null;
  roles: Role[];
  createdBy: string | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

export interface SessionRecord {
  id: string;
  userId: string;
  scope: string;
  lastSeenAt: string;
  expiresAt: string;
  revokedAt: string | null;
}

export interface Dataset {
  id: string;
  ownerDepartment: string;
  tenant: string;
  entityType: string;
  attrs?: string[];
  area?: Area;
  title: string;
  description?: string;
  createdBy?: string;
  createdAt?: string;
}

export const REQUEST_STATES = ['pending', 'approved', 'denied'] as const;
export type RequestState = (typeof REQUEST_STATES)[number];

export interface ShareRequest {
  id: string;
  datasetId: string;
  department: string;
  purpose: string;
  validFrom: string;
  validUntil: string;
  state: RequestState;
  requestedBy?: string;
  decidedBy?: string;
  decidedAt?: string;
  reason?: string;
  createdAt?: string;
}

/** An entry of the sharing ledger (GB/T 35273 §9.2: date, scale, purpose, recipient). */
export interface LedgerEntry {
  seq?: number;
  at?: string;
  kind: 'approved' | 'read';
  datasetId?: string;
  requestId?: string;
  grantId?: string;
  tenant: string;
  entityType: string;
  ownerDepartment?: string;
  recipientDepartment: string;
  purpose: string;
  /** Entities covered (approval) or returned (read). */
  scale: number;
  validUntil?: string;
  actor?: string;
}

export interface AuditFilter {
  actor?: string;
  action?: string;
  outcome?: AuditOutcome;
  /** ISO date-times. */
  from?: string;
  to?: string;
  afterSeq?: number;
  limit: number;
}

/** Data shared between departments: published datasets, access requests, grants, the ledger. */
export interface SharingStore {
  createDataset(d: Dataset): Promise<void>;
  getDataset(id: string): Promise<Dataset | undefined>;
  listDatasets(): Promise<Dataset[]>;
  deleteDataset(id: string): Promise<boolean>;
  createRequest(q: ShareRequest): Promise<void>;
  getRequest(id: string): Promise<ShareRequest | undefined>;
  listRequests(filter?: { departments?: string[] }): Promise<ShareRequest[]>;
  /**
   * Decides a pending request; on approval the grant and the ledger entry are written in the
   * same transaction. False if the request was not pending (decided already, concurrently).
   */
  decide(
    id: string,
    decision: { state: 'approved' | 'denied'; by: string; reason?: string },
    approved?: { grant: AccessGrant; ledger: LedgerEntry },
  ): Promise<boolean>;
  createGrant(g: AccessGrant, by: string): Promise<void>;
  /** Grants of these departments that have not ended and are not revoked (at `now`). */
  activeGrants(departments: string[], now: Date): Promise<AccessGrant[]>;
  listGrants(): Promise<(AccessGrant & { revoked: boolean })[]>;
  revokeGrant(id: string): Promise<boolean>;
  appendLedger(e: LedgerEntry): Promise<void>;
  listLedger(page: { limit: number; offset: number }): Promise<LedgerEntry[]>;
}

/**
 * The hash-chained audit log: records from every hub instance form one chain, seq numbers
 * without gaps; records are never changed or deleted.
 */
export interface AuditStore {
  /** Appends one record to the chain and returns it. */
  append(e: AuditEvent, now?: Date): Promise<AuditRecord>;
  /**
   * Moves records staged inside entity write transactions into the chain, oldest first, at most
   * `limit` per call; returns how many it moved. Safe to run from several hub instances at once.
   */
  chainStaged(limit?: number): Promise<number>;
  query(f: AuditFilter): Promise<AuditRecord[]>;
  /** Every record in seq order, page by page (verification, export). */
  scan(pageSize?: number): AsyncGenerator<AuditRecord[]>;
}

export interface AccessStore {
  sharing: SharingStore;
  audit: AuditStore;

  getSetting<T>(name: string): Promise<T | undefined>;
  /** Stores the value unless one is there; returns the value held (several instances race at first start). */
  initSetting<T>(name: string, value: T): Promise<T>;
  putSetting(name: string, value: unknown): Promise<void>;

  listDepartments(): Promise<Department[]>;
  createDepartment(d: Department): Promise<void>;
  updateDepartment(id: string, patch: { name?: string; parent?: string | null }): Promise<boolean>;
  /** Conflict while it has sub-departments, users or keys. */
  deleteDepartment(id: string): Promise<boolean>;
  /** The department and all below it (policies of sub-departments apply to the parent's users). */
  departmentSubtree(id: string): Promise<string[]>;

  createUser(
    u: Pick<UserRecord, 'id' | 'username' | 'displayName' | 'department' | 'roles' | 'passwordHash'>,
  ): Promise<void>;
  getUserByName(username: string): Promise<UserRecord | undefined>;
  getUser(id: string): Promise<UserRecord | undefined>;
  listUsers(): Promise<UserRecord[]>;
  countUsers(): Promise<number>;
  updateUser(
    id: string,
    patch: Partial<Pick<UserRecord, 'displayName' | 'department' | 'roles' | 'disabled'>>,
  ): Promise<boolean>;
  setPassword(id: string, hash: string): Promise<void>;
  deleteUser(id: string): Promise<boolean>;
  /** Counts a failed login; locks the account when the count reaches `max`. */
  recordFailure(id: string, max: number, lockSeconds: number): Promise<{ failures: number; locked: boolean }>;
  recordSuccess(id: string): Promise<void>;
  unlock(id: string): Promise<void>;
  setTotp(id: string, secret: string | null, enabled: boolean): Promise<void>;
  /** Records a used TOTP time step; false if it (or a later one) was used already (replay). */
  useTotpStep(id: string, step: number): Promise<boolean>;

  createSession(s: { id: string; userId: string; scope: string; expiresAt: string }): Promise<void>;
  getSession(id: string): Promise<SessionRecord | undefined>;
  touchSession(id: string): Promise<void>;
  revokeSession(id: string): Promise<boolean>;
  revokeUserSessions(userId: string): Promise<void>;

  createApiKey(k: Omit<ApiKeyRecord, 'createdAt' | 'revokedAt'>): Promise<void>;
  getApiKey(id: string): Promise<ApiKeyRecord | undefined>;
  listApiKeys(): Promise<ApiKeyRecord[]>;
  revokeApiKey(id: string): Promise<boolean>;

  listPolicies(departments?: string[]): Promise<AccessPolicy[]>;
  createPolicy(p: AccessPolicy): Promise<void>;
  deletePolicy(id: string): Promise<AccessPolicy | undefined>;

  listCatalog(): Promise<CatalogEntry[]>;
  putCatalog(c: CatalogEntry): Promise<void>;
  deleteCatalog(tenant: string, entityType: string, attr: string): Promise<boolean>;
}
