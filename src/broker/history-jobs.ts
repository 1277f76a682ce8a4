/**
 * The history's background jobs: monthly partitions prepared ahead (and back-filled rows filed
 * into their month), and retention applied. Each is a singleton across hub instances through a
 * PostgreSQL advisory lock: an instance that does not get the lock skips the round.
 */
import type { HistoryStore } from '../core/history-store.js';

/** Advisory lock keys (the migrations use 7_253_001). */
export const JOB_LOCKS = { partitions: 7_253_041, retention: 7_253_042 } as const;

export interface HistoryJobOptions {
  history: HistoryStore;
  /** Between rounds; default one hour. */
  intervalMs?: number;
  /** Months prepared ahead of now (default 3) and kept before (default 1). */
  monthsAhead?: number;
  monthsBack?: number;
  clock?: () => Date;
  onError?: (err: unknown) => void;
}

export function createHistoryJobs(opts: HistoryJobOptions) {
  const { history } = opts;
  const clock = opts.clock ?? (() => new Date());
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  /** One round of every job; the result says what each did (undefined: another instance had it). */
  async function runOnce() {
    const now = clock();
    const partitions = await history.maintenance.withJobLock(JOB_LOCKS.partitions, () =>
      history.maintenance.ensurePartitions(now, opts.monthsBack ?? 1, opts.monthsAhead ?? 3),
    );
    const retention = await history.maintenance.withJobLock(JOB_LOCKS.retention, () =>
      history.maintenance.applyRetention(now),
    );
    return { partitions, retention };
  }

  const round = () => {
    running ??= runOnce()
      .then(() => undefined)
      .catch((err: unknown) => opts.onError?.(err))
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  return {
    runOnce,
    /** Runs a first round now (partitions exist before traffic), then every interval. */
    async start(): Promise<void> {
      await round();
      timer = setInterval(() => void round(), opts.intervalMs ?? 3_600_000);
      timer.unref();
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
