/**
 * Per-device reading counters kept in memory and added to the registry in one statement every
 * `flushMs`, so that the hot path never waits for an UPDATE per reading. Reads add the increments
 * not yet written, so that a counter never goes backwards; reads and flushes take turns, so that a
 * read never sees increments that have left the buffer but are not committed yet.
 */
import type { CounterDelta, DeviceCounters, DeviceRegistry } from '../core/iot/device-registry.js';

export const READING_OUTCOMES = ['accepted', 'rejected', 'quarantined'] as const;
export type ReadingOutcome = (typeof READING_OUTCOMES)[number];

export interface DeviceRef {
  service: string;
  servicePath: string;
  deviceId: string;
}

export interface CounterBuffer {
  /** Counts one reading (received, plus its outcome); `error` becomes the device's last error. */
  record(device: DeviceRef, outcome: ReadingOutcome, error?: string, at?: Date): void;
  /** Stored counters plus those not yet flushed. */
  read(device: DeviceRef): Promise<DeviceCounters | undefined>;
  /** Writes the pending increments now. */
  flush(): Promise<void>;
  /** Stops the timer and flushes. */
  stop(): Promise<void>;
}

const keyOf = (d: DeviceRef) => `${d.service}\u0000${d.servicePath}\u0000${d.deviceId}`;

/** Creates the buffer; `flushMs` defaults to 1000. Flush failures keep the increments for the next try. */
export function createCounterBuffer(
  registry: DeviceRegistry,
  opts: { flushMs?: number; onError?: (err: unknown) => void } = {},
): CounterBuffer {
  let pending = new Map<string, CounterDelta>();
  let flushing: Promise<void> | undefined;
  let turn: Promise<unknown> = Promise.resolve();
  const inTurn = <T>(fn: () => Promise<T>): Promise<T> => {
    const p = turn.then(fn, fn);
    turn = p.catch(() => undefined);
    return p;
  };
  const flush = (): Promise<void> => inTurn(flushNow);
  const flushNow = async (): Promise<void> => {
    if (flushing) await flushing;
    if (pending.size === 0) return;
    const batch = pending;
    pending = new Map();
    flushing = registry.addCounters([...batch.values()]).catch((err: unknown) => {
      for (const [k, d] of batch) {
        const now = pending.get(k);
        pending.set(k, now ? merge(d, now) : d);
      }
      opts.onError?.(err);
    });
    try {
      await flushing;
    } finally {
      flushing = undefined;
    }
  };
  const timer = setInterval(() => void flush(), opts.flushMs ?? 1000);
  timer.unref();
  return {
    record(device, outcome, error, at) {
      const k = keyOf(device);
      const when = (at ?? new Date()).toISOString();
      const d: CounterDelta = pending.get(k) ?? {
        ...device,
        received: 0,
        accepted: 0,
        rejected: 0,
        quarantined: 0,
      };
      d.received++;
      d[outcome]++;
      d.lastSeen = when;
      if (error !== undefined) {
        d.lastError = error.slice(0, 1000);
        d.lastErrorAt = when;
      }
      pending.set(k, d);
    },
    read: (device) => inTurn(() => readNow(device)),
    flush,
    async stop() {
      clearInterval(timer);
      await flush();
    },
  };

  async function readNow(device: DeviceRef): Promise<DeviceCounters | undefined> {
    const stored = await registry.getCounters(device.service, device.servicePath, device.deviceId);
    if (!stored) return undefined;
    const d = pending.get(keyOf(device));
    if (!d) return stored;
    return merge(stored, d);
  }
}

/** `a` plus the increments of `b`; the last error and last seen of `b` win. */
function merge<T extends DeviceCounters>(a: T, b: DeviceCounters): T {
  const out: T = {
    ...a,
    received: a.received + b.received,
    accepted: a.accepted + b.accepted,
    rejected: a.rejected + b.rejected,
    quarantined: a.quarantined + b.quarantined,
  };
  const lastError = b.lastError ?? a.lastError;
  const lastErrorAt = b.lastErrorAt ?? a.lastErrorAt;
  const lastSeen = b.lastSeen ?? a.lastSeen;
  if (lastError !== undefined) out.lastError = lastError;
  if (lastErrorAt !== undefined) out.lastErrorAt = lastErrorAt;
  if (lastSeen !== undefined) out.lastSeen = lastSeen;
  return out;
}
