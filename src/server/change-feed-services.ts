/**
 * The change feed in a running hub: the runner of this instance's consumers and singleton jobs
 * (the modules' ones, and the feed's own retention), woken by this instance's commits, and the
 * consumers' lag for /metrics.
 */
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChangeConsumer } from '../core/change-feed.js';
import type { SingletonJob } from '../core/module.js';
import type { Store } from '../core/store.js';
import type { MetricFamily } from '../api/metrics-routes.js';
import { createFeedRunner } from '../broker/change-feed.js';
import type { EntityService } from '../broker/entity-service.js';

/** Consumed changes are kept this long by default (1 hour); unread ones are kept until read. */
export const DEFAULT_FEED_RETENTION_MS = 3_600_000;
const PRUNE_EVERY_MS = 60_000;

export interface ChangeFeedOptions {
  /** How long read changes stay in the feed (ms). */
  retentionMs?: number;
  /** How often idle consumers look for changes committed by other instances (ms). */
  pollMs?: number;
  /** How often a consumer or job held by another instance is tried again (ms). */
  holdRetryMs?: number;
  /** How often the retention job runs (ms). */
  pruneEveryMs?: number;
}

export function createChangeFeedServices(opts: {
  store: Store;
  entities: EntityService;
  consumers: ChangeConsumer[];
  jobs: SingletonJob[];
  feed?: ChangeFeedOptions;
  onError?: (err: unknown) => void;
}) {
  const retentionMs = opts.feed?.retentionMs ?? DEFAULT_FEED_RETENTION_MS;
  const pruneEvery = opts.feed?.pruneEveryMs ?? PRUNE_EVERY_MS;
  const retention: SingletonJob = {
    name: 'kernel.feed-retention',
    async run(signal) {
      while (!signal.aborted) {
        await opts.store.feed.prune(retentionMs);
        // Aborted already (during the prune) or later: either way the wait ends at once.
        await sleep(pruneEvery, undefined, { signal }).catch(() => undefined);
      }
    },
  };
  const runner = createFeedRunner({
    feed: opts.store.feed,
    consumers: opts.consumers,
    jobs: [...opts.jobs, retention],
    instance: `${hostname()}:${process.pid}`,
    ...(opts.feed?.pollMs !== undefined ? { pollMs: opts.feed.pollMs } : {}),
    ...(opts.feed?.holdRetryMs !== undefined ? { holdRetryMs: opts.feed.holdRetryMs } : {}),
    onError: (err, what) =>
      opts.onError?.(
        new Error(`${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err }),
      ),
  });
  opts.entities.onChange(() => runner.wake());
  return {
    runner,
    /** The consumers this instance runs (held or waiting to be). */
    consumerNames: (): string[] => opts.consumers.map((c) => c.name),
    /** The consumers' lag (all instances), for /metrics. */
    async metrics(): Promise<MetricFamily[]> {
      const consumers = await opts.store.feed.consumers();
      return [
        {
          name: 'citypivot_change_feed_lag_changes',
          help: 'Changes in the change feed a consumer has not read yet',
          type: 'gauge',
          samples: consumers.map((c) => ({ labels: { consumer: c.name }, value: c.lagChanges })),
        },
        {
          name: 'citypivot_change_feed_lag_seconds',
          help: 'Age of the oldest change a consumer has not read yet (0 when it is up to date)',
          type: 'gauge',
          samples: consumers.map((c) => ({ labels: { consumer: c.name }, value: c.lagSeconds })),
        },
        {
          name: 'citypivot_change_feed_consumer_held',
          help: 'Whether some hub instance runs the consumer now (1) or none does (0)',
          type: 'gauge',
          samples: consumers.map((c) => ({ labels: { consumer: c.name }, value: c.holder ? 1 : 0 })),
        },
      ];
    },
    start(): void {
      runner.start();
    },
    stop(): Promise<void> {
      return runner.stop();
    },
  };
}
