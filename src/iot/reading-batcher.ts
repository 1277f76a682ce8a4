/**
 * Group commit of device readings. A reading written alone is a transaction of its own, and a
 * durable COMMIT (one fsync) per reading caps ingestion at a few hundred readings per second.
 * Readings arriving together (from many MQTT connections or HTTP devices) are collected for up to
 * `maxWaitMs`, or up to `maxBatch`, and written through the entity service in one transaction, so
 * history, the notification outbox and the change listeners follow every entity change as before.
 *
 * - Each reading's promise settles after its transaction commits, with its own outcome: a bad
 *   body or a missing entity fails that reading alone. If the whole transaction fails (a database
 *   error, a transaction hook that throws), its readings are written again one by one, so one bad
 *   reading never loses the others.
 * - Order: a batch keeps arrival order, batches commit one after the other, and a fallback writes
 *   in arrival order too. (Ingestion already waits for a device's reading before its next one.)
 * - Bounded: one batch in flight and one filling, at most `maxBatch` readings each; a reading that
 *   finds the filling batch full waits (its promise pending), in arrival order, before it enters
 *   one. The waiting readings are as many as the callers: the broker hands over one packet per
 *   connection at a time, ingestion one message per device.
 * - Batches run in the async context the batcher was made in (hub start-up), never in that of the
 *   request whose reading happened to start them.
 */
import { AsyncResource } from 'node:async_hooks';
import type { AttributeOutcome, AttributeUpdate, EntityService } from '../broker/entity-service.js';

export interface ReadingBatcherOptions {
  entities: EntityService;
  /** Most readings in one transaction; default 200. */
  maxBatch?: number;
  /** Longest a reading waits for others before its batch starts (when none is in flight); default 2 ms. */
  maxWaitMs?: number;
}

/** What the batcher has done: batches are transactions (fallback writes not counted). */
export interface BatcherStats {
  batches: number;
  readings: number;
  /** Batches whose transaction failed and whose readings were written one by one. */
  fallbacks: number;
}

interface Pending {
  update: AttributeUpdate;
  resolve: (outcome: AttributeOutcome) => void;
  reject: (err: unknown) => void;
}

export type ReadingBatcher = ReturnType<typeof createReadingBatcher>;

export function createReadingBatcher(opts: ReadingBatcherOptions) {
  const { entities } = opts;
  const maxBatch = Math.max(1, opts.maxBatch ?? 200);
  const maxWaitMs = Math.max(0, opts.maxWaitMs ?? 2);
  const scope = new AsyncResource('ReadingBatcher');
  const stats: BatcherStats = { batches: 0, readings: 0, fallbacks: 0 };
  let filling: Pending[] = [];
  /** Readings that found the filling batch full, in arrival order. */
  const waiting: Pending[] = [];
  let inFlight: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;

  /** Starts the filling batch now if it is full, else after maxWaitMs; not while one is in flight. */
  function schedule(): void {
    if (inFlight || filling.length === 0) return;
    if (filling.length >= maxBatch) start();
    else timer ??= setTimeout(start, maxWaitMs);
  }

  function start(): void {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (inFlight || filling.length === 0) return;
    const batch = filling;
    filling = waiting.splice(0, maxBatch);
    inFlight = scope
      .runInAsyncScope(() => run(batch))
      .finally(() => {
        inFlight = undefined;
        // Readings gathered while the batch ran have waited long enough: they go next, at once.
        if (filling.length > 0) start();
      });
  }

  async function run(batch: Pending[]): Promise<void> {
    stats.batches++;
    stats.readings += batch.length;
    let results;
    try {
      results = await entities.updateAttributesMany(batch.map((p) => p.update));
    } catch {
      stats.fallbacks++;
      await oneByOne(batch);
      return;
    }
    results.forEach((r, i) => {
      const p = batch[i] as Pending;
      if (r.ok) p.resolve(r.outcome);
      else p.reject(r.error);
    });
  }

  /** The batch's transaction failed as a whole: each reading is written alone, in order. */
  async function oneByOne(batch: Pending[]): Promise<void> {
    for (const { update: u, resolve, reject } of batch) {
      try {
        const one = () => entities.updateAttributes(u.tenant, u.id, u.body, u.ctx);
        resolve(await (u.runIn ? u.runIn(one) : one()));
      } catch (err) {
        reject(err);
      }
    }
  }

  return {
    /** Updates an entity's attributes in the next batch; settles once that batch committed. */
    update(update: AttributeUpdate): Promise<AttributeOutcome> {
      return new Promise<AttributeOutcome>((resolve, reject) => {
        const p: Pending = { update, resolve, reject };
        if (filling.length < maxBatch && waiting.length === 0) {
          filling.push(p);
          schedule();
        } else waiting.push(p);
      });
    },
    stats(): BatcherStats {
      return { ...stats };
    },
    /** Waits until every reading handed in so far is written. */
    async drain(): Promise<void> {
      while (inFlight || filling.length > 0) {
        if (!inFlight) start();
        await inFlight;
      }
    },
  };
}
