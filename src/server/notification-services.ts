/**
 * Subscriptions wired together: the matcher runs in every entity write's transaction, the
 * dispatcher and the periodic notifier run in the background, and each instance hears the others'
 * subscription changes and outbox writes through LISTEN/NOTIFY.
 */
import type { FastifyInstance } from 'fastify';
import type { ActiveContext } from '../core/context/active-context.js';
import type { Store } from '../core/store.js';
import { SUBSCRIPTIONS_CHANNEL } from '../core/subscription/subscription-store.js';
import type { EntityService } from '../broker/entity-service.js';
import { createNotificationDispatcher, type DispatcherOptions } from '../broker/notification-dispatcher.js';
import { createHttpSender, createMqttSender } from '../broker/notification-senders.js';
import { createPeriodicNotifier } from '../broker/periodic-notifier.js';
import { createSubscriptionMatcher } from '../broker/subscription-matcher.js';
import { createSubscriptionService } from '../broker/subscription-service.js';
import { registerSubscriptionRoutes } from '../api/subscription-routes.js';
import { registerStreamRoutes } from '../api/stream-routes.js';
import { createChangeStream } from '../broker/change-stream.js';

export type DeliveryOptions = Omit<DispatcherOptions, 'store' | 'senders'>;

export function createNotificationServices(opts: {
  store: Store;
  entities: EntityService;
  resolve: (contextValue: unknown) => Promise<ActiveContext>;
  delivery?: DeliveryOptions;
  onError?: (err: unknown) => void;
}) {
  const { store, entities } = opts;
  const matcher = createSubscriptionMatcher({
    subscriptions: store.subscriptions,
    resolve: opts.resolve,
    onError: (err) => opts.onError?.(err),
  });
  const subscriptions = createSubscriptionService({
    subscriptions: store.subscriptions,
    resolve: opts.resolve,
    onChanged: (tenant) => matcher.invalidate(tenant),
  });
  const dispatcher = createNotificationDispatcher({
    ...opts.delivery,
    store: store.subscriptions,
    senders: { http: createHttpSender(), mqtt: createMqttSender() },
    ...(opts.onError ? { onError: opts.onError } : {}),
  });
  const periodic = createPeriodicNotifier({
    store,
    resolve: opts.resolve,
    ...(opts.onError ? { onError: opts.onError } : {}),
  });
  const stream = createChangeStream(store, opts.onError);
  entities.onTransaction((tx, changes) => matcher.enqueueFor(tx, changes, entities.now()));
  entities.onTransaction((tx, changes) => stream.announce(tx, changes));
  // This instance's own writes wake its dispatcher at once; other instances' come by NOTIFY.
  entities.onChange((changes) => {
    dispatcher.wake();
    stream.local(changes);
  });
  let listener: { close(): Promise<void> } | undefined;

  return {
    subscriptions,
    dispatcher,
    stream,
    routes: (app: FastifyInstance) => {
      registerSubscriptionRoutes(app, { subscriptions, contexts: { resolve: opts.resolve } });
      registerStreamRoutes(app, { stream, entities, contexts: { resolve: opts.resolve } });
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
