/**
 * Periodic subscriptions (NGSI-LD §5.2.12 timeInterval): every timeInterval seconds, the entities
 * that match are notified, changed or not. Due subscriptions are leased with SKIP LOCKED, so that
 * with several instances each run happens once; the notification goes through the same outbox.
 */
import { randomUUID } from 'node:crypto';
import type { ActiveContext } from '../core/context/active-context.js';
import { renderEntity } from '../core/entity-output.js';
import type { Store } from '../core/store.js';
import { statusOf } from '../core/subscription/subscription-model.js';
import type { OwnerViews } from '../core/subscription/subscription-store.js';
import { compileSubscription, subscriptionQuery } from './subscription-matcher.js';

/** At most this many entities go in one periodic notification. */
const MAX_ENTITIES = 1000;

export function createPeriodicNotifier(opts: {
  store: Store;
  resolve: (contextValue: unknown) => Promise<ActiveContext>;
  tickMs?: number;
  views?: OwnerViews;
  onError?: (err: unknown) => void;
}) {
  const tickMs = opts.tickMs ?? 1000;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = true;

  async function tick(): Promise<void> {
    const now = new Date().toISOString();
    const due = await opts.store.subscriptions.claimPeriodic(now, 50);
    for (const { tenant, sub } of due) {
      const interval = (sub.timeInterval ?? 0) * 1000;
      const next = new Date(Date.now() + Math.max(interval, 1000)).toISOString();
      try {
        if (statusOf(sub, now) === 'active') {
          const c = await compileSubscription(sub, opts.resolve);
          let { entities } = await opts.store.queryEntities(tenant, subscriptionQuery(c, MAX_ENTITIES));
          if (sub.owner && opts.views) {
            const view = await opts.views(sub.owner, tenant);
            entities = view ? entities.filter((e) => view.allows(e)).map((e) => view.project(e)) : [];
          }
          if (entities.length > 0) {
            await opts.store.transaction((tx) =>
              tx.outbox.enqueue([
                {
                  tenant,
                  subscriptionId: sub.id,
                  notificationId: `urn:ngsi-ld:Notification:${randomUUID()}`,
                  orderKey: sub.id,
                  endpoint: sub.notification.endpoint.uri,
                  payload: {
                    data: entities.map((e) => renderEntity(e, c.notifyCtx, c.ro)),
                    context: c.notifyContext,
                  },
                },
              ]),
            );
          }
        }
      } catch (err) {
        opts.onError?.(err);
      }
      await opts.store.subscriptions
        .schedule(tenant, sub.id, next)
        .catch((err: unknown) => opts.onError?.(err));
    }
  }

  function loop(): void {
    if (stopped) return;
    running = tick()
      .catch((err: unknown) => opts.onError?.(err))
      .finally(() => {
        running = undefined;
        if (!stopped) {
          timer = setTimeout(loop, tickMs);
          timer.unref();
        }
      });
  }

  return {
    start(): void {
      if (!stopped) return;
      stopped = false;
      loop();
    },
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
