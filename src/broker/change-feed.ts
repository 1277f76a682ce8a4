/**
 * The change feed's broker side: what a write appends (one entry per entity change, with the
 * attributes it touched), and the runner that feeds the named consumers of this instance.
 *
 * The runner holds a dedicated database session. Each consumer it runs has its own loop: take
 * the consumer (no other instance holds it), read the changes after its cursor, hand them to the
 * consumer, move the cursor; a handler that fails gets the same changes again after a pause that
 * grows (at least once). Singleton jobs run where their lock is held. When the session breaks
 * (database restart, network), everything is let go and taken again on a new session.
 */
import {
  cursorOf,
  type ChangeConsumer,
  type ChangeFeedStore,
  type FeedChange,
  type FeedCursor,
  type FeedSession,
} from '../core/change-feed.js';
import type { SingletonJob } from '../core/module.js';

export interface FeedRunnerOptions {
  feed: ChangeFeedStore;
  consumers: ChangeConsumer[];
  jobs?: SingletonJob[];
  /** This instance, as the consumers' holder is shown (host:pid). */
  instance: string;
  /** How often an idle consumer looks for new changes (ms; default 250). */
  pollMs?: number;
  /** How often a consumer or job held elsewhere is tried again (ms; default 2000). */
  holdRetryMs?: number;
  /** First pause after a failed batch (ms; default 1000); doubles up to a minute. */
  retryMs?: number;
  onError?: (err: unknown, what: string) => void;
}

const MAX_RETRY_MS = 60_000;

export function createFeedRunner(opts: FeedRunnerOptions) {
  const pollMs = opts.pollMs ?? 250;
  const holdRetryMs = opts.holdRetryMs ?? 2000;
  const retryMs = opts.retryMs ?? 1000;
  const names = new Set<string>();
  for (const c of [...opts.consumers, ...(opts.jobs ?? [])]) {
    if (names.has(c.name)) throw new Error(`two change feed consumers or jobs are named ${c.name}`);
    names.add(c.name);
  }
  let session: Promise<FeedSession> | undefined;
  let stopped = true;
  const loops: Promise<void>[] = [];
  const sleepers = new Set<() => void>();
  const jobAborts = new Set<AbortController>();
  const holding = new Set<string>();

  /** The session, opened when first needed and again after it broke. */
  function current(): Promise<FeedSession> {
    session ??= opts.feed.openSession().catch((err: unknown) => {
      session = undefined;
      throw err;
    });
    return session;
  }

  /** Drops a broken session: whatever it held is taken again on the next one. */
  async function broke(s: FeedSession): Promise<void> {
    if (session && (await session.catch(() => undefined)) === s) session = undefined;
    holding.clear();
    // Jobs held on it are held no more: they stop, and start again where their lock is taken.
    for (const a of jobAborts) a.abort();
    await s.close();
  }

  function sleep(ms: number): Promise<void> {
    if (stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        sleepers.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      sleepers.add(done);
    });
  }

  async function runConsumer(c: ChangeConsumer): Promise<void> {
    const batch = c.batchSize ?? 200;
    const wanted = c.types ? new Set(c.types) : undefined;
    let cursor: FeedCursor | undefined;
    let held: FeedSession | undefined;
    let pause = retryMs;
    while (!stopped) {
      let s: FeedSession;
      try {
        s = await current();
      } catch (err) {
        opts.onError?.(err, `change feed session for ${c.name}`);
        await sleep(holdRetryMs);
        continue;
      }
      if (held !== s) {
        cursor = undefined;
        held = undefined;
      }
      let rows: FeedChange[];
      try {
        if (!cursor) {
          cursor = await s.tryHold(c.name, opts.instance);
          if (!cursor) {
            await sleep(holdRetryMs);
            continue;
          }
          held = s;
          holding.add(c.name);
        }
        rows = await s.read(cursor, batch);
      } catch (err) {
        opts.onError?.(err, `change feed consumer ${c.name}`);
        await broke(s);
        await sleep(holdRetryMs);
        continue;
      }
      if (rows.length === 0) {
        await sleep(pollMs);
        continue;
      }
      const mine = wanted ? rows.filter((r) => r.types.some((t) => wanted.has(t))) : rows;
      try {
        if (mine.length > 0) await c.handle(mine);
        pause = retryMs;
      } catch (err) {
        opts.onError?.(err, `change feed consumer ${c.name}`);
        await sleep(pause);
        pause = Math.min(pause * 2, MAX_RETRY_MS);
        continue;
      }
      const next = cursorOf((rows[rows.length - 1] as FeedChange).position);
      try {
        await s.advance(c.name, next);
        cursor = next;
      } catch (err) {
        // Lost the consumer (the session broke): another instance may have it now.
        opts.onError?.(err, `change feed consumer ${c.name}`);
        await broke(s);
        cursor = undefined;
      }
    }
    if (held && cursor) await held.release(c.name).catch(() => undefined);
    holding.delete(c.name);
  }

  async function runJob(job: SingletonJob): Promise<void> {
    let pause = retryMs;
    while (!stopped) {
      let s: FeedSession;
      try {
        s = await current();
        if (!(await s.tryLock(job.name))) {
          await sleep(holdRetryMs);
          continue;
        }
      } catch (err) {
        opts.onError?.(err, `singleton job ${job.name}`);
        await sleep(holdRetryMs);
        continue;
      }
      // Stopped while the lock was being taken: nothing would abort the run (no await from here
      // to jobAborts.add, so a stop() now or later sees it).
      if (stopped) {
        await s.unlock(job.name).catch(() => undefined);
        break;
      }
      holding.add(job.name);
      const abort = new AbortController();
      jobAborts.add(abort);
      try {
        await job.run(abort.signal);
        pause = retryMs;
      } catch (err) {
        if (!stopped) opts.onError?.(err, `singleton job ${job.name}`);
        await sleep(pause);
        pause = Math.min(pause * 2, MAX_RETRY_MS);
      } finally {
        jobAborts.delete(abort);
        holding.delete(job.name);
        await s.unlock(job.name).catch(() => undefined);
      }
    }
  }

  return {
    /** Starts a loop per consumer and per job. */
    start(): void {
      if (!stopped) return;
      stopped = false;
      for (const c of opts.consumers) loops.push(runConsumer(c));
      for (const j of opts.jobs ?? []) loops.push(runJob(j));
    },
    /** Looks for new changes now (this instance just committed some). */
    wake(): void {
      for (const s of [...sleepers]) s();
    },
    /** The consumers and jobs this instance holds now. */
    holding(): string[] {
      return [...holding].sort();
    },
    /** Stops after the batches under way; lets everything go. */
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      for (const a of jobAborts) a.abort();
      for (const s of [...sleepers]) s();
      await Promise.all(loops.splice(0));
      const s = await session?.catch(() => undefined);
      session = undefined;
      await s?.close();
    },
  };
}

export type FeedRunner = ReturnType<typeof createFeedRunner>;
