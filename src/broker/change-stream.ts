/**
 * Entity changes as a live stream (for dashboards and other push consumers): this instance's
 * changes come from the entity service after commit; other instances' changes come by NOTIFY
 * (announced in the writing transaction, so only committed changes arrive) and are read back from
 * the store. Best effort by design: a stream is a view of now, the outbox is the durable path.
 */
import { randomUUID } from 'node:crypto';
import type { StoredEntity } from '../core/entity-model.js';
import type { Store, StoreTx } from '../core/store.js';
import type { ChangeKind, EntityChange } from './entity-service.js';

export const CHANGES_CHANNEL = 'citypivot_changes';

/** NOTIFY payloads must stay under 8000 bytes. */
const MAX_PAYLOAD = 7000;

export interface StreamEvent {
  tenant: string;
  id: string;
  kind: ChangeKind;
  /** The entity now; for a deletion, the entity as it was when known. */
  entity?: StoredEntity;
  types: string[];
}

interface Announcement {
  origin: string;
  tenant: string;
  changes: { id: string; kind: ChangeKind; types: string[] }[];
}

export function createChangeStream(store: Store, onError?: (err: unknown) => void) {
  const origin = randomUUID();
  const listeners = new Set<(events: StreamEvent[]) => void>();
  let listener: { close(): Promise<void> } | undefined;

  function emit(events: StreamEvent[]): void {
    if (events.length === 0) return;
    for (const l of listeners) {
      try {
        l(events);
      } catch (err) {
        onError?.(err);
      }
    }
  }

  async function onRemote(payload: string): Promise<void> {
    const a = JSON.parse(payload) as Announcement;
    if (a.origin === origin || listeners.size === 0) return;
    const live = a.changes.filter((c) => c.kind !== 'deleted').map((c) => c.id);
    const found = live.length > 0 ? await store.getEntities(a.tenant, live) : new Map<string, StoredEntity>();
    emit(
      a.changes.map((c) => {
        const entity = found.get(c.id);
        return { tenant: a.tenant, id: c.id, kind: c.kind, types: c.types, ...(entity ? { entity } : {}) };
      }),
    );
  }

  return {
    /** This instance's mark on its announcements. */
    origin,
    /** The transaction hook: tells the other instances what changed, at commit. */
    async announce(tx: StoreTx, changes: EntityChange[]): Promise<void> {
      // Each tenant's announcement with its size so far (measured change by change, not re-serialised).
      const byTenant = new Map<string, { a: Announcement; size: number }>();
      const payloads: string[] = [];
      for (const ch of changes) {
        let held = byTenant.get(ch.tenant);
        if (!held) {
          const a: Announcement = { origin, tenant: ch.tenant, changes: [] };
          byTenant.set(ch.tenant, (held = { a, size: JSON.stringify(a).length }));
        }
        const c = { id: ch.id, kind: ch.kind, types: (ch.after ?? ch.before)?.types ?? [] };
        held.a.changes.push(c);
        held.size += JSON.stringify(c).length + 1;
        if (held.size > MAX_PAYLOAD) {
          payloads.push(JSON.stringify(held.a));
          byTenant.delete(ch.tenant);
        }
      }
      for (const { a } of byTenant.values()) payloads.push(JSON.stringify(a));
      await tx.outbox.announce(CHANGES_CHANNEL, payloads);
    },
    /** This instance's committed changes. */
    local(changes: EntityChange[]): void {
      if (listeners.size === 0) return;
      emit(
        changes.map((c) => {
          const entity = c.after ?? c.before;
          return {
            tenant: c.tenant,
            id: c.id,
            kind: c.kind,
            types: entity?.types ?? [],
            ...(entity ? { entity } : {}),
          };
        }),
      );
    },
    /** Calls `l` with every batch of changes; returns the unsubscribe function. */
    subscribe(l: (events: StreamEvent[]) => void): () => void {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    async start(): Promise<void> {
      listener = await store.subscriptions.listen(CHANGES_CHANNEL, (p) => {
        onRemote(p).catch((err: unknown) => onError?.(err));
      });
    },
    async stop(): Promise<void> {
      await listener?.close();
      listener = undefined;
      listeners.clear();
    },
  };
}

export type ChangeStream = ReturnType<typeof createChangeStream>;
