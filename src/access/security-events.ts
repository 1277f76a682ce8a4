/**
 * Security events for situational awareness: failed logins, denied requests and unusual read
 * volume by one account are counted (GET /api/v1/security/metrics, Prometheus text) and handed to
 * listeners (the rules engine to come).
 */

export const SECURITY_EVENT_KINDS = ['login-failed', 'login-locked', 'denied', 'read-volume'] as const;
export type SecurityEventKind = (typeof SECURITY_EVENT_KINDS)[number];

export interface SecurityEvent {
  kind: SecurityEventKind;
  actor: string;
  at: string;
  detail?: Record<string, unknown>;
}

/** Entities one account may read in a minute before a read-volume event; default 10 000. */
export const READ_VOLUME_PER_MINUTE = 10_000;

export function createSecurityEvents(opts: { readVolumePerMinute?: number; now?: () => Date } = {}) {
  const now = opts.now ?? (() => new Date());
  const limit = opts.readVolumePerMinute ?? READ_VOLUME_PER_MINUTE;
  const counts: Record<SecurityEventKind, number> = {
    'login-failed': 0,
    'login-locked': 0,
    denied: 0,
    'read-volume': 0,
  };
  const listeners: ((e: SecurityEvent) => void)[] = [];
  // entities read per account in the current minute
  let minute = 0;
  let reads = new Map<string, number>();

  const emit = (kind: SecurityEventKind, actor: string, detail?: Record<string, unknown>) => {
    counts[kind]++;
    const e: SecurityEvent = { kind, actor, at: now().toISOString(), ...(detail ? { detail } : {}) };
    for (const l of listeners) {
      try {
        l(e);
      } catch {
        // a listener's failure is its own
      }
    }
  };

  return {
    emit,
    onEvent(l: (e: SecurityEvent) => void): void {
      listeners.push(l);
    },
    /** Counts entities read by an account; crossing the per-minute limit emits one read-volume event. */
    countRead(actor: string, n: number): void {
      const m = Math.floor(now().getTime() / 60_000);
      if (m !== minute) {
        minute = m;
        reads = new Map();
      }
      const before = reads.get(actor) ?? 0;
      reads.set(actor, before + n);
      if (before < limit && before + n >= limit) emit('read-volume', actor, { perMinute: before + n });
    },
    counts: (): Readonly<Record<SecurityEventKind, number>> => ({ ...counts }),
    /** Prometheus text exposition of the counters. */
    metricsText(): string {
      const lines = [
        '# HELP citypivot_security_events_total Security events by kind',
        '# TYPE citypivot_security_events_total counter',
      ];
      for (const k of SECURITY_EVENT_KINDS)
        lines.push(`citypivot_security_events_total{kind="${k}"} ${counts[k]}`);
      return `${lines.join('\n')}\n`;
    },
  };
}

export type SecurityEvents = ReturnType<typeof createSecurityEvents>;
