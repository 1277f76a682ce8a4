/**
 * What the rest of the hub asks the access module (authentication on): its guard on the store,
 * on entity writes and on HTTP requests (the server wires them), the access of the work running
 * now, work on a principal's behalf, the principal of an API key, a department's policies,
 * security events and the audit log. The kernel and the other modules (IoT builds its
 * provisioning and MQTT authorities from it) know this interface only; access/access-setup.ts
 * implements it. Without authentication there is no port and nothing is checked.
 *
 * Fastify is named for its types only (like core/module.ts): the request gate hooks into the app.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { StoredEntity } from '../entity-model.js';
import type { EntityQuery, Store, StoreTx } from '../store.js';
import type { AccessGrant, AccessPolicy, Principal } from './access-model.js';
import type { AuditEvent } from './audit-chain.js';
import type { ReadFilter } from './read-filter.js';

/**
 * The access of a request (or of work done on a principal's behalf): who, for what purpose, from
 * where, and what its department may do (policies and grants, loaded at most once).
 */
export interface RequestAccess {
  principal: Principal;
  purpose?: string;
  ip?: string;
  policies(): Promise<AccessPolicy[]>;
  grants(): Promise<AccessGrant[]>;
  /** A fresh read filter for a tenant (its report starts empty). */
  filter(tenant: string): Promise<ReadFilter>;
}

/** One entity's change by a write, as the entity service hands it to its hooks. */
export interface WrittenChange {
  tenant: string;
  id: string;
  kind: 'created' | 'updated' | 'deleted';
  before?: StoredEntity;
  after?: StoredEntity;
}

/** The hooks of the entity service (broker/entity-service.ts) the write guard uses. */
export interface EntityWriteHooks {
  /** Runs before each change is written, in its transaction; a throw refuses that change. */
  onAuthorize(check: (change: WrittenChange) => Promise<void>): void;
  /** Runs in the write's transaction with the writer's own changes. */
  onOwnChanges(hook: (tx: StoreTx, changes: WrittenChange[]) => Promise<void>): void;
}

/** Who an audit record names: the account (anonymous without one), its department, purpose, address. */
export interface AuditActor {
  actor: string;
  department?: string;
  purpose?: string;
  ip?: string;
}

export interface AccessPort {
  /** The store as the work running now may see it: reads filtered and masked, sensitive values encrypted. */
  guardStore(inner: Store): Store;
  /**
   * Checks each entity write against the writer's policies (a refused change is a 403) and
   * stages its audit record in the write's transaction.
   */
  guardWrites(entities: EntityWriteHooks): void;
  /**
   * Registers what every HTTP request passes before its route (authentication against the route's
   * access rule, security headers, rate limits, the audit of requests); call before any route is added.
   */
  prepare(app: FastifyInstance): Promise<void>;
  /** The principal of a request (undefined when it had none). */
  principalFor(req: FastifyRequest): Principal | undefined;
  /** Who an audit record of this request names. */
  auditedBy(req: FastifyRequest): AuditActor;

  /** The access of the work running now (a request's, or one `runAs` gave), if any. */
  current(): RequestAccess | undefined;
  /** A new access of a principal acting without a request (its policies loaded on first use, then kept). */
  accessOf(principal: Principal): RequestAccess;
  /** Runs `fn` under `access`: every read and write it makes is checked against it, and audited in its name. */
  runAs<T>(access: RequestAccess, fn: () => Promise<T>): Promise<T>;
  /** The holder of a hub API key; undefined when the key is unknown, revoked or expired. */
  principalOfApiKey(key: string): Promise<Principal | undefined>;
  /** The policies that apply to a principal: its department's and those of the departments below. */
  policiesOf(principal: Principal): Promise<AccessPolicy[]>;
  /** A department and every department below it. */
  departmentSubtree(department: string): Promise<string[]>;
  /**
   * What a principal may see of a tenant, for work done later on its behalf (notifications, the
   * live stream). Loads the department's policies and grants now; call again for a fresh view.
   */
  readFilter(principal: Principal, tenant: string, purpose?: string): Promise<ReadFilter>;
  /**
   * Refuses (403) a subscription's filters on attributes the department of the work running now
   * may not read or sees masked; nothing to check outside a request.
   */
  checkFilters(tenant: string, query: EntityQuery): Promise<void>;
  /** A refusal, as a security event (counted and logged): who was refused, and what. */
  denied(who: string, detail: Record<string, unknown>): void;
  /** Appends a record to the audit log. */
  audit(e: AuditEvent): Promise<void>;
  /** Appends a record to the audit log without waiting; a failure is logged, never thrown. */
  auditLater(e: AuditEvent): void;
}
