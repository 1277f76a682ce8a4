/**
 * Delivers the notification outbox. Every hub instance runs one; they share the rows through the
 * database (leases taken with SKIP LOCKED), wake each other with NOTIFY, and fall back to polling.
 *
 * - Order: only the oldest pending notification of a (subscription, entity) is handed out.
 * - Isolation: at most `perEndpoint` deliveries in flight per endpoint, so that a slow or dead
 *   receiver holds a few slots and never the whole dispatcher.
 * - Retries: exponential backoff from `baseDelayMs` to `maxDelayMs`; after `maxAttempts` the
 *   notification is kept as failed, listed and replayable through /api/v1/notifications.
 * - Crash safety: a lease that runs out (the instance died mid-delivery) makes the row due again,
 *   so a notification in flight at a crash may arrive twice, with the same id; none is lost.
 */
import { randomUUID } from 'node:crypto';
import {
  OUTBOX_CHANNEL,
  type ClaimedNotification,
  type SubscriptionStore,
} from '../core/subscription/subscription-store.js';
import type { NotificationSender } from './notification-senders.js';

export interface DispatcherOptions {
  store: SubscriptionStore;
  senders: { http: NotificationSender; mqtt: NotificationSender };
  /** Deliveries in flight in this instance; default 64. */
  concurrency?: number;
  /** Deliveries in flight per endpoint; default 4. */
  perEndpoint?: number;
  /** How long a claimed row stays with this instance; default 30 s (three delivery timeouts). */
  leaseMs?: number;
  /** Timeout of one delivery unless the endpoint sets one; default 10 s. */
  timeoutMs?: number;
  /** First retry delay; default 1 s, doubling up to `maxDelayMs` (default 5 min). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Attempts before a notification is kept as failed; default 12 (about half an hour). */
  maxAttempts?: number;
  /** Polling fallback when no NOTIFY arrives; default 2 s. */
  pollMs?: number;
  /** How long stop() waits for deliveries in flight; default 3 s. */
  stopGraceMs?: number;
  onError?: (err: unknown) => void;
}

export function createNotificationDispatcher(opts: DispatcherOptions) {
  const owner = randomUUID();
  const concurrency = opts.concurrency ?? 64;
  const perEndpoint = opts.perEndpoint ?? 4;
  const leaseMs = opts.leaseMs ?? 30_000;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const baseDelay = opts.baseDelayMs ?? 1_000;
  const maxDelay = opts.maxDelayMs ?? 300_000;
  const maxAttempts = opts.maxAttempts ?? 12;
  const pollMs = opts.pollMs ?? 2_000;
  const stopGraceMs = opts.stopGraceMs ?? 3_000;
  /** Rows claimed and not yet finished (waiting or being delivered), per endpoint. */
  const inflight = new Map<string, number>();
  const running = new Set<Promise<void>>();
  /** Rows claimed, waiting for a free slot. */
  const queued: ClaimedNotification[] = [];
  let drained: (() => void) | undefined;
  let total = 0;
  let stopped = true;
  let pumping = false;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let listener: { close(): Promise<void> } | undefined;

  // Successes are recorded in batches: one statement for many rows instead of one per delivery.
  let done: ClaimedNotification[] = [];
  let flushing: Promise<void> | undefined;
  let flushTimer: NodeJS.Timeout | undefined;
  const FLUSH_SIZE = 32;
  /** Free slots needed before claiming more while deliveries are in flight. */
  const lowWater = Math.max(1, Math.floor(concurrency / 4));
  const FLUSH_MS = 2;

  function recordSuccess(n: ClaimedNotification): Promise<void> {
    done.push(n);
    if (done.length >= FLUSH_SIZE) return flush();
    flushTimer ??= setTimeout(() => void flush(), FLUSH_MS);
    return flushing ?? Promise.resolve();
  }

  async function flush(): Promise<void> {
    clearTimeout(flushTimer);
    flushTimer = undefined;
    if (done.length === 0) return;
    const batch = done;
    done = [];
    const p = opts.store
      .delivered(batch, new Date().toISOString())
      .catch((err: unknown) => opts.onError?.(err)) // the rows' leases run out: delivered again, not lost
      .finally(() => {
        // the successors of these rows are due now
        wake();
      });
    flushing = p;
    await p;
  }

  let wakeQueued = false;
  function wake(): void {
    if (stopped) return;
    // Many deliveries finish at once: one pump for all of them.
    if (wakeQueued) return;
    wakeQueued = true;
    setImmediate(() => {
      wakeQueued = false;
      pumpNow();
    });
  }

  function pumpNow(): void {
    if (stopped) return;
    if (pumping) {
      again = true;
      return;
    }
    pumping = true;
    void pump().finally(() => {
      pumping = false;
      if (again && !stopped) {
        again = false;
        pumpNow();
      }
    });
  }

  async function pump(): Promise<void> {
    try {
      for (;;) {
        again = false;
        // Claimed ahead: up to `concurrency` rows wait here for a free slot, so that a slot
        // freed by a delivery starts the next one at once instead of waiting for a claim.
        const room = 2 * concurrency - total - queued.length;
        // Claim in chunks: one claim statement per quarter of the slots, not one per delivery.
        if (room <= 0 || (total + queued.length > 0 && room < lowWater)) return;
        const claimed = await opts.store.claim({
          owner,
          limit: room,
          perEndpoint,
          leaseMs,
          inFlight: [...inflight.entries()].map(([endpoint, count]) => ({ endpoint, count })),
        });
        for (const n of claimed) {
          inflight.set(n.endpoint, (inflight.get(n.endpoint) ?? 0) + 1);
          queued.push(n);
        }
        startQueued();
        if (claimed.length < room && !again) break;
      }
      await arm();
    } catch (err) {
      opts.onError?.(err);
      schedule(pollMs);
    }
  }

  /** Sleeps until the next retry is due, or the poll interval, whichever comes first. */
  async function arm(): Promise<void> {
    const next = await opts.store.nextDue();
    const wait = next === undefined ? pollMs : Math.max(0, Date.parse(next) - Date.now());
    schedule(Math.min(pollMs, wait + 5));
  }

  function schedule(ms: number): void {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(wake, ms);
    timer.unref();
  }

  /** Starts claimed rows while slots are free (also while stopping: they are leased to us). */
  function startQueued(): void {
    while (total < concurrency && queued.length > 0) start(queued.shift() as ClaimedNotification);
    if (queued.length === 0) drained?.();
  }

  /** A claimed row is done with (delivered, failed, or left to its lease at stop). */
  function release(n: ClaimedNotification): void {
    const left = (inflight.get(n.endpoint) ?? 1) - 1;
    if (left <= 0) inflight.delete(n.endpoint);
    else inflight.set(n.endpoint, left);
  }

  function start(n: ClaimedNotification): void {
    total++;
    const p = deliver(n).finally(() => {
      total--;
      release(n);
      running.delete(p);
      startQueued();
      wake();
    });
    running.add(p);
  }

  async function deliver(n: ClaimedNotification): Promise<void> {
    const at = new Date().toISOString();
    const target = n.target;
    const sender = /^mqtts?:/i.test(target.uri) ? opts.senders.mqtt : opts.senders.http;
    try {
      await sender.send(n, target, at, target.timeout ?? timeoutMs);
      void recordSuccess(n);
      return;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const retryAt =
        n.attempts >= maxAttempts
          ? undefined
          : new Date(Date.now() + backoff(n.attempts, baseDelay, maxDelay)).toISOString();
      await opts.store.failed(n, at, message, retryAt).catch((e: unknown) => opts.onError?.(e));
    }
  }

  return {
    owner,
    async start(): Promise<void> {
      if (!stopped) return;
      stopped = false;
      listener = await opts.store.listen(OUTBOX_CHANNEL, () => wake());
      wake();
    },
    /** Wakes the dispatcher (a change committed in this process). */
    wake,
    /** Stops claiming and waits for the deliveries in flight. */
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      await listener?.close();
      listener = undefined;
      // Deliveries in flight and those claimed for them get a moment to finish; any left keep
      // their lease, which runs out, so that the next instance delivers them (at least once,
      // never lost).
      let grace: NodeJS.Timeout | undefined;
      const settled = (async () => {
        if (queued.length > 0) await new Promise<void>((resolve) => (drained = resolve));
        await Promise.allSettled([...running]);
      })();
      await Promise.race([
        settled,
        new Promise<void>((resolve) => {
          grace = setTimeout(resolve, stopGraceMs);
        }),
      ]);
      clearTimeout(grace);
      drained = undefined;
      // Claimed rows never started keep their lease: the next instance delivers them.
      for (const n of queued.splice(0)) release(n);
      await flush();
      await opts.senders.http.close();
      await opts.senders.mqtt.close();
    },
    /** Deliveries in flight now (for /metrics and tests). */
    get inFlight(): number {
      return total;
    },
    /** Deliveries in flight to one endpoint. */
    inFlightTo(endpoint: string): number {
      return inflight.get(endpoint) ?? 0;
    },
  };
}

/** Delay before attempt `attempts + 1`: doubling, capped, with ±20 % jitter against herds. */
export function backoff(attempts: number, base: number, max: number): number {
  const d = Math.min(max, base * 2 ** Math.max(0, attempts - 1));
  return Math.round(d * (0.8 + Math.random() * 0.4));
}

export type NotificationDispatcher = ReturnType<typeof createNotificationDispatcher>;
