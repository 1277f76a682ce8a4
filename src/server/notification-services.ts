/**
 * Subscriptions wired together: the matcher runs in every entity write's transaction, the
 * dispatcher and the periodic notifier run in the background, and each instance hears the others'
 * subscription changes and outbox writes through LISTEN/NOTIFY.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal } from '../core/access/access-model.js';
import type { ReadFilter } from '../core/access/read-filter.js';
import type { EntityQuery } from '../core/store.js';
import type { SubscriptionOwner } from '../core/subscription/subscription-model.js';
import type { EntityView, OwnerViews } from '../core/subscription/subscription-store.js';
import type { ActiveContext } from '../core/context/active-context.js';
import type { Store } from '../core/store.js';
import { SUBSCRIPTIONS_CHANNEL } from '../core/subscription/subscription-store.js';
import type { EntityService } from '../broker/entity-service.js';
import { createNotificationDispatcher, type DispatcherOptions } from '../broker/notification-dispatcher.js';
import { createHttpSender, createMqttSender } from '../broker/notification-senders.js';
import { createOutboundGuard } from '../broker/outbound-guard.js';
import { hostRefusal, type EndpointRules } from '../core/addresses/endpoint-rules.js';
import { checkNotificationEndpoint } from '../core/subscription/subscription-input.js';
import { createPeriodicNotifier } from '../broker/periodic-notifier.js';
import { createSubscriptionMatcher } from '../broker/subscription-matcher.js';
import { createSubscriptionService, type SubscriptionService } from '../broker/subscription-service.js';
import { registerSubscriptionRoutes } from '../api/subscription-routes.js';
import { registerStreamRoutes } from '../api/stream-routes.js';
import { registerMetricsRoutes, type MetricFamily, type MetricSource } from '../api/metrics-routes.js';
import { createChangeStream } from '../broker/change-stream.js';

export type DeliveryOptions = Omit<DispatcherOptions, 'store' | 'senders'>;

export function createNotificationServices(opts: {
  store: Store;
  entities: EntityService;
  resolve: (contextValue: unknown) => Promise<ActiveContext>;
  delivery?: DeliveryOptions;
  /** With authentication on: who asks, and what a principal may read. */
  access?: NotificationAccess;
  /** Where notifications may go besides the built-in rules (`--deny-endpoints`, `--allow-endpoints`). */
  outbound?: EndpointRules;
  /** More families for /metrics (the change feed's lag). */
  metrics?: MetricSource[];
  onError?: (err: unknown) => void;
}) {
  const { store, entities } = opts;
  const guard = createOutboundGuard(opts.outbound ? { rules: opts.outbound } : {});
  const views = opts.access ? cachedViews(opts.access) : undefined;
  const matcher = createSubscriptionMatcher({
    subscriptions: store.subscriptions,
    ...(views ? { views } : {}),
    resolve: opts.resolve,
    onError: (err) => opts.onError?.(err),
  });
  const access = opts.access;
  // Filters that run later, outside the request (subscriptions, the stream's q), are checked now.
  const checkFilters = access
    ? { checkFilters: (tenant: string, q: EntityQuery) => access.checkFilters(tenant, q) }
    : {};
  const subscriptions = refusingEndpoints(
    createSubscriptionService({
      subscriptions: store.subscriptions,
      resolve: opts.resolve,
      ...checkFilters,
      onChanged: (tenant) => matcher.invalidate(tenant),
    }),
    (body) => checkNotificationEndpoint(body, (host) => hostRefusal(guard.policy, host)),
  );
  const dispatcher = createNotificationDispatcher({
    ...opts.delivery,
    store: store.subscriptions,
    senders: { http: createHttpSender({ guard }), mqtt: createMqttSender({ guard }) },
    ...(opts.onError ? { onError: opts.onError } : {}),
  });
  const periodic = createPeriodicNotifier({
    store,
    ...(views ? { views } : {}),
    resolve: opts.resolve,
    ...(opts.onError ? { onError: opts.onError } : {}),
  });
  const stream = createChangeStream(store, opts.onError);
  entities.onTransaction((tx, changes) => matcher.enqueueFor(tx, changes, entities.now()));
  entities.onTransaction((tx, changes) => stream.announce(tx, changes));
  // This instance's own writes wake its dispatcher at once; other instances' come by NOTIFY.
  const writes = { created: 0, updated: 0, deleted: 0 };
  entities.onChange((changes) => {
    dispatcher.wake();
    stream.local(changes);
    for (const c of changes) writes[c.kind]++;
  });
  let listener: { close(): Promise<void> } | undefined;

  return {
    subscriptions,
    dispatcher,
    stream,
    routes: (app: FastifyInstance) => {
      const ownerOf = access ? (req: FastifyRequest) => ownerFrom(access.principalFor(req)) : undefined;
      registerSubscriptionRoutes(app, {
        subscriptions,
        contexts: { resolve: opts.resolve },
        ...(ownerOf ? { ownerOf } : {}),
      });
      registerMetricsRoutes(app, [
        async (): Promise<MetricFamily[]> => {
          const outbox = await store.subscriptions.outboxCounts();
          return [
            {
              name: 'citypivot_entity_changes_total',
              help: 'Entity changes committed by this instance',
              type: 'counter',
              samples: Object.entries(writes).map(([kind, value]) => ({ labels: { kind }, value })),
            },
            {
              name: 'citypivot_notification_outbox',
              help: 'Notifications in the outbox (all instances): pending delivery, or failed and kept for replay',
              type: 'gauge',
              samples: [
                { labels: { state: 'pending' }, value: outbox.pending },
                { labels: { state: 'failed' }, value: outbox.failed },
              ],
            },
            {
              name: 'citypivot_notifications_in_flight',
              help: 'Deliveries under way in this instance',
              type: 'gauge',
              samples: [{ value: dispatcher.inFlight }],
            },
          ];
        },
        ...(opts.metrics ?? []),
      ]);
      registerStreamRoutes(app, {
        stream,
        entities,
        contexts: { resolve: opts.resolve },
        ...(ownerOf && views ? { viewFor: (req, tenant) => viewOf(ownerOf(req), tenant, views) } : {}),
        ...checkFilters,
      });
    },
    async start(): Promise<void> {
      listener = await store.subscriptions.listen(SUBSCRIPTIONS_CHANNEL, (tenant) =>
        matcher.invalidate(tenant),
      );
      await dispatcher.start();
      await stream.start();
      periodic.start();
    },
    async stop(): Promise<void> {
      await periodic.stop();
      await dispatcher.stop();
      await stream.stop();
      await listener?.close();
    },
  };
}

/**
 * The subscription service, refusing a body whose endpoint is an IP address the outbound rules
 * refuse before the service reads it (the service parses the body itself, and knows no rules).
 */
function refusingEndpoints(
  service: SubscriptionService,
  check: (body: unknown) => void,
): SubscriptionService {
  return {
    ...service,
    async create(tenant, body, ctx, owner) {
      check(body);
      return service.create(tenant, body, ctx, owner);
    },
    async update(tenant, id, body, ctx, caller) {
      check(body);
      return service.update(tenant, id, body, ctx, caller);
    },
  };
}

/** What the access layer offers subscriptions and the live stream. */
export interface NotificationAccess {
  principalFor(req: FastifyRequest): Principal | undefined;
  readFilter(principal: Principal, tenant: string): Promise<ReadFilter>;
  /** Refuses a subscription's filters on attributes the requester may not filter on. */
  checkFilters(tenant: string, query: EntityQuery): Promise<void>;
}

/** How long a principal's view is reused: grants expire, so not for long. */
const VIEW_TTL_MS = 30_000;

function cachedViews(access: NotificationAccess): OwnerViews {
  const cache = new Map<string, { at: number; view: Promise<EntityView | undefined> }>();
  return (owner, tenant) => {
    const key = `${owner.kind}:${owner.id}|${tenant}`;
    const held = cache.get(key);
    if (held && Date.now() - held.at < VIEW_TTL_MS) return held.view;
    const principal: Principal = {
      kind: owner.kind as Principal['kind'],
      id: owner.id,
      name: owner.name,
      roles: owner.roles as Principal['roles'],
      ...(owner.department !== undefined ? { department: owner.department } : {}),
    };
    const view = access.readFilter(principal, tenant).then((f) => (f.tenantReadable ? f : undefined));
    if (cache.size > 10_000) cache.clear();
    cache.set(key, { at: Date.now(), view });
    view.catch(() => cache.delete(key));
    return view;
  };
}

function ownerFrom(p: Principal | undefined): SubscriptionOwner | undefined {
  if (!p) return undefined;
  return {
    kind: p.kind,
    id: p.id,
    name: p.name,
    roles: [...p.roles],
    ...(p.department !== undefined ? { department: p.department } : {}),
  };
}

/** The live stream's view: none at all for a request without a principal (cannot happen with auth on). */
async function viewOf(
  owner: SubscriptionOwner | undefined,
  tenant: string,
  views: OwnerViews,
): Promise<EntityView | undefined> {
  return owner ? views(owner, tenant) : undefined;
}
