/**
 * The NGSI-LD Subscription (NGSI-LD §5.2.12) as CityPivot stores it: the client's members with
 * every attribute name and entity type expanded to an IRI, so that it can be shown again under any
 * @context. `q` keeps its terms; they are expanded with the subscription's own @context when it is
 * compiled, the way a query is.
 */
import type { Format } from '../entity-output.js';

/** NGSI-LD §5.2.12 notificationTrigger values. */
export const NOTIFICATION_TRIGGERS = [
  'entityCreated',
  'entityUpdated',
  'entityDeleted',
  'attributeCreated',
  'attributeUpdated',
  'attributeDeleted',
] as const;
export type NotificationTrigger = (typeof NOTIFICATION_TRIGGERS)[number];

/** What a subscription without notificationTrigger reacts to (NGSI-LD §5.2.12). */
export const DEFAULT_TRIGGERS: readonly NotificationTrigger[] = ['attributeCreated', 'attributeUpdated'];

/** Media types a notification can be sent as (NGSI-LD §5.2.15 endpoint.accept). */
export const NOTIFICATION_MEDIA = [
  'application/json',
  'application/ld+json',
  'application/geo+json',
] as const;
export type NotificationMedia = (typeof NOTIFICATION_MEDIA)[number];

/** Endpoint schemes CityPivot delivers to. */
export const ENDPOINT_SCHEMES = ['http:', 'https:', 'mqtt:', 'mqtts:'] as const;

export const SUBSCRIPTION_STATUSES = ['active', 'paused', 'expired'] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];

export interface SubscriptionOwner {
  kind: string;
  id: string;
  name: string;
  department?: string;
  roles: string[];
}

export interface KeyValuePair {
  key: string;
  value: string;
}

export interface SubscriptionEntitySelector {
  id?: string;
  idPattern?: string;
  /** A type selection (NGSI-LD §4.17) with every name expanded: `A,B`, `A;B`, brackets. */
  type?: string;
}

export interface NotificationEndpoint {
  uri: string;
  accept: NotificationMedia;
  /** Milliseconds one delivery may take (CityPivot extension of §5.2.15); default from the dispatcher. */
  timeout?: number;
  receiverInfo?: KeyValuePair[];
  notifierInfo?: KeyValuePair[];
}

export interface NotificationParams {
  /** Expanded attribute IRIs to include; none means all. */
  attributes?: string[];
  format: Format;
  /** The client wrote `simplified` (shown back as given). */
  simplified?: boolean;
  sysAttrs: boolean;
  showChanges: boolean;
  endpoint: NotificationEndpoint;
  /** NGSI-LD §4.21 projection, entity members by expanded IRI ('id' and 'type' as such). */
  pick?: string[];
  omit?: string[];
  /** NGSI-LD §4.5.23 linked entity retrieval in notifications. */
  join?: 'flat' | 'inline' | '@none';
  joinLevel?: number;
}

export interface GeoQueryMember {
  geometry: string;
  coordinates: unknown;
  georel: string;
  /** Expanded IRI; default location. */
  geoproperty?: string;
}

export interface Subscription {
  id: string;
  subscriptionName?: string;
  description?: string;
  entities?: SubscriptionEntitySelector[];
  /** Expanded attribute IRIs. */
  watchedAttributes?: string[];
  notificationTrigger?: NotificationTrigger[];
  /** Seconds between periodic notifications. */
  timeInterval?: number;
  q?: string;
  geoQ?: GeoQueryMember;
  scopeQ?: string;
  /** Absent means true; kept absent so that it is shown back only when the client set it. */
  isActive?: boolean;
  expiresAt?: string;
  /** Minimum seconds between two notifications. */
  throttling?: number;
  lang?: string;
  /** Only instances with these datasetIds ('@none': the default instance), NGSI-LD §4.5.5. */
  datasetId?: string[];
  /** The @context notifications are compacted with, instead of the one the subscription came with. */
  jsonldContext?: string;
  notification: NotificationParams;
  /** The @context the subscription was created with (URL, array or object). */
  context: unknown;
  /**
   * Who made it, when authentication is on: notifications carry only what this principal may read,
   * and only it (or a system administrator) may see, change or delete the subscription.
   */
  owner?: SubscriptionOwner;
  createdAt: string;
  modifiedAt: string;
}

/** Runtime state the hub keeps beside a subscription (NGSI-LD §5.2.14 NotificationParams status). */
export interface SubscriptionState {
  timesSent: number;
  timesFailed: number;
  lastNotification?: string;
  lastSuccess?: string;
  lastFailure?: string;
  /** The last delivery error, shown to operators. */
  lastError?: string;
}

/** NGSI-LD §5.2.12 status: paused when inactive, expired past expiresAt, else active. */
export function statusOf(sub: Pick<Subscription, 'isActive' | 'expiresAt'>, now: string): SubscriptionStatus {
  if (sub.isActive === false) return 'paused';
  if (sub.expiresAt !== undefined && Date.parse(sub.expiresAt) <= Date.parse(now)) return 'expired';
  return 'active';
}

/** The triggers a subscription reacts to. */
export function triggersOf(sub: Subscription): readonly NotificationTrigger[] {
  return sub.notificationTrigger ?? DEFAULT_TRIGGERS;
}
