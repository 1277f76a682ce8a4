/**
 * The one storage port. The broker owns transactions and talks to storage only through this
 * interface; the PostgreSQL adapter in store/ implements it (docs/architecture.md).
 */
import type { StoredEntity } from './entity-model.js';
import type { EntityQuery } from './query/entity-query.js';
import type { HistoryStore, HistoryTx } from './history-store.js';
import type { AuditEvent } from './access/audit-chain.js';
import type { SubscriptionStore, SubscriptionTx } from './subscription/subscription-store.js';
import type { ChangeFeedStore, ChangeFeedTx } from './change-feed.js';

export type { EntityQuery, EntitySelector, OrderKey } from './query/entity-query.js';

export interface QueryResult {
  entities: StoredEntity[];
  /** Total number of matches, when asked for. */
  count?: number;
}

export interface TypeSummary {
  type: string;
  attributes: { name: string; kinds: string[] }[];
  entityCount: number;
}

export interface AttributeSummary {
  name: string;
  kinds: string[];
  types: string[];
  entityCount: number;
}

export interface ContextRecord {
  url: string;
  /** The id under /ngsi-ld/v1/jsonldContexts/{localId}. */
  localId: string;
  document: unknown;
  origin: 'cached' | 'preloaded' | 'hosted';
  createdAt: string;
  lastUsedAt: string | null;
  useCount: number;
}

/** Operations inside one transaction. */
export interface StoreTx {
  ensureTenant(tenant: string): Promise<void>;
  getEntity(tenant: string, id: string, opts?: { forUpdate?: boolean }): Promise<StoredEntity | undefined>;
  getEntities(
    tenant: string,
    ids: string[],
    opts?: { forUpdate?: boolean },
  ): Promise<Map<string, StoredEntity>>;
  /** Inserts; throws HubError AlreadyExists if the id is taken. */
  insertEntity(tenant: string, e: StoredEntity): Promise<void>;
  /** Replaces the stored row of an existing entity. */
  updateEntity(tenant: string, e: StoredEntity): Promise<void>;
  /**
   * Writes many entities in a few statements (batch operations): `inserts` must be new ids,
   * `updates` existing ones. Same effect as insertEntity/updateEntity one by one.
   */
  writeEntities(
    tenant: string,
    inserts: StoredEntity[],
    updates: StoredEntity[],
    /** The updated entities as this transaction read them (under lock): geometry not moved is not rewritten. */
    previous?: ReadonlyMap<string, StoredEntity>,
  ): Promise<void>;
  deleteEntity(tenant: string, id: string): Promise<boolean>;
  /** Deletes all matches of a query; returns the entities as they were. */
  deleteMatching(tenant: string, query: EntityQuery): Promise<StoredEntity[]>;
  queryEntities(tenant: string, query: EntityQuery): Promise<QueryResult>;
  /** Attribute history (temporal API), written with the change. */
  history: HistoryTx;
  /** The notification outbox, written with the change. */
  outbox: SubscriptionTx;
  /** Audit records of the change, staged with it and chained by the access layer. */
  auditTrail: { stage(events: AuditEvent[], at: Date): Promise<void> };
  /** The durable change feed, appended with the change. */
  changeFeed: ChangeFeedTx;
}

export interface Store extends StoreTx {
  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T>;
  tenantExists(tenant: string): Promise<boolean>;
  listTenants(): Promise<string[]>;
  /**
   * The entity types of a tenant (NGSI-LD §5.7.1, §5.7.2). `only`: just that type (expanded IRI),
   * an empty list when no entity has it; a store may also ignore it and list every type, so
   * callers pick the type out of the answer. The lists in the answer may be shared between
   * answers and frozen: copy before changing them.
   */
  listTypes(tenant: string, only?: { type: string }): Promise<TypeSummary[]>;
  /**
   * The attributes of a tenant (NGSI-LD §5.7.3, §5.7.4). `only`: just that attribute (expanded
   * IRI), with the same caveat as `listTypes`.
   */
  listAttributes(tenant: string, only?: { name: string }): Promise<AttributeSummary[]>;
  history: HistoryStore;
  subscriptions: SubscriptionStore;
  /** The change feed's consumers and retention. */
  feed: ChangeFeedStore;
  contexts: {
    get(url: string): Promise<ContextRecord | undefined>;
    getByLocalId(localId: string): Promise<ContextRecord | undefined>;
    /** Stores (or replaces) a document; returns its local id. */
    put(url: string, document: unknown, origin: ContextRecord['origin'], localId?: string): Promise<string>;
    list(): Promise<ContextRecord[]>;
    delete(url: string): Promise<boolean>;
    touch(url: string): Promise<void>;
  };
  ping(): Promise<void>;
  close(): Promise<void>;
}
