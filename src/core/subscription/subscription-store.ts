/**
 * The storage port of subscriptions and of the notification outbox. Outbox rows are written in the
 * transaction of the change that caused them (SubscriptionTx), and handed out to dispatchers of any
 * number of hub instances, each row to one of them at a time (SubscriptionStore.claim).
 */
import type { QExpr } from '../query/q-parser.js';
import type { ScopeExpr } from '../query/scope-query.js';
import type { StoredEntity } from '../entity-model.js';
import type {
  NotificationEndpoint,
  Subscription,
  SubscriptionOwner,
  SubscriptionState,
} from './subscription-model.js';

/** What a notification will carry, fixed when the change commits. */
export interface NotificationPayload {
  /** The `data` member: entities in the subscription's format. */
  data: Record<string, unknown>[];
  /** The @context to send: a URL for the Link header, or the value for a JSON-LD body. */
  context: unknown;
  /** Which trigger fired (NGSI-LD v1.8 triggerReason). */
  trigger?: string;
}

export interface OutboxEntry {
  tenant: string;
  subscriptionId: string;
  /** urn:ngsi-ld:Notification:<uuid>, the same on every attempt, so receivers can drop duplicates. */
  notificationId: string;
  /** Notifications with the same subscription and key are delivered in order: the entity id. */
  orderKey: string;
  /** Deliveries to one endpoint share its concurrency limit. */
  endpoint: string;
  payload: NotificationPayload;
}

/** A q and scopeQ test of one entity for one subscription, run by the database. */
export interface FilterCheck {
  attrs: unknown;
  scopes: string[] | undefined;
  q?: { expr: QExpr; expandAttr: (t: string) => string; expandValue: (t: string) => string };
  scopeQ?: ScopeExpr;
}

export interface SubscriptionTx {
  /** Bumped by every subscription change of the tenant: cached lists compare it. */
  generation(tenant: string): Promise<number>;
  /** Writes outbox rows and wakes the dispatchers (at commit). */
  enqueue(entries: OutboxEntry[]): Promise<void>;
  /** Claims the throttling window: false if the last notification is less than `seconds` old. */
  throttle(tenant: string, subscriptionId: string, seconds: number, now: string): Promise<boolean>;
  /** Runs each check against its entity; true where it matches. */
  matchFilters(tenant: string, checks: FilterCheck[]): Promise<boolean[]>;
  /** NOTIFYs `channel` with each payload, at commit (other instances' live streams). */
  announce(channel: string, payloads: string[]): Promise<void>;
}

export interface StoredSubscription {
  tenant: string;
  sub: Subscription;
  state: SubscriptionState;
}

/** An outbox row handed to one dispatcher for one attempt. */
export interface ClaimedNotification extends OutboxEntry {
  seq: string;
  attempts: number;
  /** The subscription's endpoint now (it may have changed since the row was written). */
  target: NotificationEndpoint;
  createdAt: string;
}

export interface UndeliveredNotification {
  seq: string;
  tenant: string;
  subscriptionId: string;
  notificationId: string;
  orderKey: string;
  endpoint: string;
  state: 'pending' | 'failed';
  attempts: number;
  lastError: string | undefined;
  createdAt: string;
  nextAttemptAt: string;
}

export interface SubscriptionStore {
  /** Throws AlreadyExists if the id is taken in the tenant. */
  create(tenant: string, sub: Subscription): Promise<void>;
  /**
   * Runs filter checks outside any write: a subscription's q is tried once when it is made, so
   * that a filter the database cannot run is refused then and never fails an entity write later.
   */
  tryFilters(tenant: string, checks: FilterCheck[]): Promise<boolean[]>;
  get(tenant: string, id: string): Promise<StoredSubscription | undefined>;
  /** A tenant's subscriptions, or only those `ownerId` made. */
  list(
    tenant: string,
    limit: number,
    offset: number,
    ownerId?: string,
  ): Promise<{ items: StoredSubscription[]; count: number }>;
  /** Replaces the document; false if it does not exist. */
  replace(tenant: string, sub: Subscription): Promise<boolean>;
  /** Deletes it and its undelivered notifications; false if it did not exist. */
  delete(tenant: string, id: string): Promise<boolean>;
  /** Every subscription of the tenant, with the generation they were read at. */
  loadTenant(tenant: string): Promise<{ generation: number; subs: Subscription[] }>;
  /**
   * Leases due outbox rows for `leaseMs`: at most `limit`, at most `perEndpoint` per endpoint, only
   * the oldest pending row per (subscription, order key); `inFlight` counts the caller's
   * deliveries under way per endpoint against `perEndpoint`.
   */
  claim(opts: {
    owner: string;
    limit: number;
    perEndpoint: number;
    leaseMs: number;
    inFlight: { endpoint: string; count: number }[];
  }): Promise<ClaimedNotification[]>;
  /** The attempts succeeded: the rows are done and the subscriptions' lastSuccess moves. */
  delivered(done: ClaimedNotification[], at: string): Promise<void>;
  /**
   * The attempt failed: retry at `retryAt` (the subscription's other rows wait as long), or give up
   * (`retryAt` undefined) and keep the row as failed for replay.
   */
  failed(n: ClaimedNotification, at: string, error: string, retryAt: string | undefined): Promise<void>;
  /** When the next pending row is due, if any. */
  nextDue(): Promise<string | undefined>;
  /** Outbox rows by state, over all tenants (for /metrics). */
  outboxCounts(): Promise<{ pending: number; failed: number }>;
  listUndelivered(
    tenant: string,
    opts: { subscriptionId?: string; state?: 'pending' | 'failed'; limit: number; offset: number },
  ): Promise<{ items: UndeliveredNotification[]; count: number }>;
  /** Puts failed rows back to pending, due now; returns how many. */
  replay(tenant: string, opts: { subscriptionId?: string; seqs?: string[] }): Promise<number>;
  /** Periodic subscriptions due to run; each is leased to the caller until it reschedules it. */
  claimPeriodic(now: string, limit: number): Promise<StoredSubscription[]>;
  /** Sets when a periodic subscription runs next. */
  schedule(tenant: string, id: string, nextRunAt: string | null): Promise<void>;
  /**
   * Calls `onMessage` for every NOTIFY on `channel`, from any instance; resolves when listening.
   * `onLost` is called once if the connection ends other than by `close` (messages may be missed).
   */
  listen(
    channel: string,
    onMessage: (payload: string) => void,
    onLost?: () => void,
  ): Promise<{ close(): Promise<void> }>;
}

/** What one principal may see of entities (the access layer's read filter, reduced to this). */
export interface EntityView {
  allows(entity: StoredEntity): boolean;
  /** The entity with unreadable attributes dropped and tagged values masked. */
  project(entity: StoredEntity): StoredEntity;
}

/** A subscription owner's view of a tenant; undefined when it may read nothing there. */
export type OwnerViews = (owner: SubscriptionOwner, tenant: string) => Promise<EntityView | undefined>;

/** NOTIFY channels between instances. */
export const OUTBOX_CHANNEL = 'citypivot_outbox';
export const SUBSCRIPTIONS_CHANNEL = 'citypivot_subscriptions';
