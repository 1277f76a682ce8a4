/**
 * Turns committed-to-be entity changes into history rows, inside the write transaction (an
 * `entities.onTransaction` hook): every created or changed attribute instance is appended,
 * every removed instance (attribute or entity deleted) is recorded as a deletion.
 * Unchanged instances write nothing.
 */
import { randomUUID } from 'node:crypto';
import type { StoredAttribute, StoredEntity } from '../core/entity-model.js';
import type { HistoryEntity, HistoryInstance } from '../core/history-store.js';
import type { StoreTx } from '../core/store.js';
import { SCOPE_ATTR } from '../core/temporal/temporal-output.js';
import type { EntityChange } from './entity-service.js';
import { instanceDiff } from './feed-entries.js';

/**
 * Changes whose history the writer has already recorded itself (temporal provision writes many
 * instances per attribute, more than the before/after entity shows): the recorder skips them.
 */
export const HISTORY_WRITTEN = new WeakSet<EntityChange>();

export const newInstanceId = (): string => `urn:ngsi-ld:${randomUUID()}`;

/** What the history keeps of an entity. */
export function historyEntityOf(e: StoredEntity, now: string, deletedAt?: string): HistoryEntity {
  const out: HistoryEntity = {
    id: e.id,
    types: e.types,
    createdAt: e.createdAt ?? now,
    modifiedAt: deletedAt ?? e.modifiedAt ?? now,
  };
  if (e.scopes && e.scopes.length > 0) out.scopes = e.scopes;
  if (deletedAt !== undefined) out.deletedAt = deletedAt;
  return out;
}

/** One history row for an instance as it now is. */
export function rowOf(entityId: string, attr: string, inst: StoredAttribute, now: string): HistoryInstance {
  const row: HistoryInstance = {
    entityId,
    attr,
    instanceId: newInstanceId(),
    createdAt: inst.createdAt ?? now,
    modifiedAt: inst.modifiedAt ?? now,
    instance: inst,
  };
  if (inst.datasetId !== undefined) row.datasetId = inst.datasetId;
  if (inst.observedAt !== undefined) row.observedAt = inst.observedAt;
  return row;
}

function deletionOf(entityId: string, attr: string, inst: StoredAttribute, now: string): HistoryInstance {
  const row: HistoryInstance = {
    entityId,
    attr,
    instanceId: newInstanceId(),
    createdAt: inst.createdAt ?? now,
    modifiedAt: now,
    deletedAt: now,
    instance: { type: inst.type, ...(inst.datasetId === undefined ? {} : { datasetId: inst.datasetId }) },
  };
  if (inst.datasetId !== undefined) row.datasetId = inst.datasetId;
  return row;
}

/** The history rows one change produces: changed and new instances, and deletions. */
export function historyRowsOf(change: EntityChange, now: string): HistoryInstance[] {
  const diff = instanceDiff(change);
  const rows = diff.written.map(([attr, inst]) => rowOf(change.id, attr, inst, now));
  for (const [attr, inst] of diff.removed) rows.push(deletionOf(change.id, attr, inst, now));
  if (diff.scopeRemoved) rows.push(deletionOf(change.id, SCOPE_ATTR, { type: 'Property' }, now));
  return rows;
}

/** The transaction hook: appends the history of every change not already recorded. */
export function createHistoryRecorder(clock: () => string) {
  return async (tx: StoreTx, changes: EntityChange[]): Promise<void> => {
    const now = clock();
    const byTenant = new Map<string, { entities: HistoryEntity[]; rows: HistoryInstance[] }>();
    for (const c of changes) {
      if (HISTORY_WRITTEN.has(c)) continue;
      let t = byTenant.get(c.tenant);
      if (!t) {
        t = { entities: [], rows: [] };
        byTenant.set(c.tenant, t);
      }
      const e = c.kind === 'deleted' ? c.before : c.after;
      if (e) t.entities.push(historyEntityOf(e, now, c.kind === 'deleted' ? now : undefined));
      t.rows.push(...historyRowsOf(c, now));
    }
    for (const [tenant, t] of byTenant) await tx.history.append(tenant, t.entities, t.rows);
  };
}
