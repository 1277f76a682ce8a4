/**
 * Device health: when each device was last heard from, and whether it is online against its
 * expected interval between readings. Transitions are events that other modules (rules, the
 * dashboard) subscribe to in-process; a sweep on a timer finds devices that fell silent.
 */

export const HEALTH_STATES = ['online', 'offline'] as const;
export type HealthState = (typeof HEALTH_STATES)[number];

/** A device went online (first reading, or a reading after being offline) or offline. */
export interface DeviceHealthEvent {
  state: HealthState;
  tenant: string;
  servicePath: string;
  deviceId: string;
  entityId: string;
  lastSeen: string;
  /** When the transition was noticed. */
  at: string;
}

export interface DeviceHealthKey {
  tenant: string;
  servicePath: string;
  deviceId: string;
  entityId: string;
}

interface Tracked extends DeviceHealthKey {
  lastSeen: number;
  /** Milliseconds; no interval: the device is never declared offline. */
  expectedMs?: number;
  state: HealthState;
}

export interface DeviceHealth {
  /** Records a reading; emits `online` when the device was offline or unknown. */
  seen(key: DeviceHealthKey, expectedIntervalSeconds: number | undefined, at?: Date): void;
  status(
    tenant: string,
    servicePath: string,
    deviceId: string,
  ): { state: HealthState; lastSeen: string } | undefined;
  /** Counts per state over the devices heard from since start, for one tenant or all. */
  summary(tenant?: string): Record<HealthState, number>;
  /** Subscribes to transitions; returns the unsubscribe function. A throwing listener is ignored. */
  on(listener: (e: DeviceHealthEvent) => void): () => void;
  forget(tenant: string, servicePath: string, deviceId: string): void;
  /** Runs one sweep now (the timer does it every `sweepMs`). */
  sweep(): void;
  stop(): void;
}

export interface DeviceHealthOptions {
  /** How often silent devices are looked for; default 1000 ms. */
  sweepMs?: number;
  clock?: () => Date;
}

const keyOf = (tenant: string, servicePath: string, deviceId: string) =>
  `${tenant}\u0000${servicePath}\u0000${deviceId}`;

/** Creates the health tracker and starts its sweep timer (unref'd: it never keeps the process alive). */
export function createDeviceHealth(opts: DeviceHealthOptions = {}): DeviceHealth {
  const clock = opts.clock ?? (() => new Date());
  const devices = new Map<string, Tracked>();
  const listeners = new Set<(e: DeviceHealthEvent) => void>();
  const emit = (t: Tracked, state: HealthState) => {
    t.state = state;
    const e: DeviceHealthEvent = {
      state,
      tenant: t.tenant,
      servicePath: t.servicePath,
      deviceId: t.deviceId,
      entityId: t.entityId,
      lastSeen: new Date(t.lastSeen).toISOString(),
      at: clock().toISOString(),
    };
    for (const l of listeners) {
      try {
        l(e);
      } catch {
        // a listener's failure is its own business
      }
    }
  };
  const sweep = () => {
    const now = clock().getTime();
    for (const t of devices.values()) {
      if (t.state === 'online' && t.expectedMs !== undefined && now - t.lastSeen > t.expectedMs)
        emit(t, 'offline');
    }
  };
  const timer = setInterval(sweep, opts.sweepMs ?? 1000);
  timer.unref();
  return {
    seen(key, expected, at) {
      const k = keyOf(key.tenant, key.servicePath, key.deviceId);
      const when = (at ?? clock()).getTime();
      let t = devices.get(k);
      const expectedMs = expected === undefined ? undefined : expected * 1000;
      if (!t) {
        t = { ...key, lastSeen: when, state: 'offline', ...(expectedMs === undefined ? {} : { expectedMs }) };
        devices.set(k, t);
      } else {
        t.lastSeen = Math.max(t.lastSeen, when);
        t.entityId = key.entityId;
        if (expectedMs === undefined) delete t.expectedMs;
        else t.expectedMs = expectedMs;
      }
      if (t.state !== 'online') emit(t, 'online');
    },
    status(tenant, servicePath, deviceId) {
      const t = devices.get(keyOf(tenant, servicePath, deviceId));
      return t ? { state: t.state, lastSeen: new Date(t.lastSeen).toISOString() } : undefined;
    },
    summary(tenant) {
      const out: Record<HealthState, number> = { online: 0, offline: 0 };
      for (const t of devices.values()) if (tenant === undefined || t.tenant === tenant) out[t.state]++;
      return out;
    },
    on(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    forget(tenant, servicePath, deviceId) {
      devices.delete(keyOf(tenant, servicePath, deviceId));
    },
    sweep,
    stop() {
      clearInterval(timer);
      listeners.clear();
    },
  };
}
