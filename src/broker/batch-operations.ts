/**
 * The NGSI-LD batch operations (§5.6.7-5.6.10, §5.6.20: create, upsert, update, merge, delete) on
 * entities already parsed by the caller: each batch in one transaction of the entity service,
 * its rows read under lock, one change per item, each change checked against the writer's rights
 * before it is applied (a refused item is that item's 403 and nothing of it is written; the others
 * go on), the final states written in a few multi-row statements. The HTTP layer
 * (api/batch-routes.ts) parses the items and turns the result into 201/204/207.
 */
import type { StoredEntity } from '../core/entity-model.js';
import { HubError, badRequest, toProblemDetails } from '../core/errors.js';
import type { ProblemDetails } from '../core/errors.js';
import type { StoreTx } from '../core/store.js';
import { isUri } from '../core/validation.js';
import type { ActiveContext } from '../core/context/active-context.js';
import type { parseFragment } from '../core/entity-input.js';
import type { EntityChange, EntityService } from './entity-service.js';
import { clone, mergeInto } from './entity-service.js';
import { findInstance, putInstance } from './entity-merge.js';

/** NGSI-LD BatchOperationResult. */
export interface BatchResult {
  success: string[];
  errors: { entityId: string; error: ProblemDetails }[];
}

/** An item as the caller parsed it: its value, or the error that is its result. */
export type Prepared<T> = { ok: true; id: string; value: T } | { ok: false; id: string; error: HubError };

/** A merge item: the fragment, the time it was parsed at and its @context. */
export interface MergeItem {
  frag: ReturnType<typeof parseFragment>;
  now: string;
  ctx: ActiveContext;
}

export type BatchOperations = ReturnType<typeof createBatchOperations>;

export function createBatchOperations(entities: EntityService) {
  const fail = (result: BatchResult, id: string, err: HubError) =>
    result.errors.push({ entityId: id, error: toProblemDetails(err) });
  /** Checks a change against the writer's rights; refused, it is the item's error. */
  async function admit(r: BatchResult, changes: EntityChange[], change: EntityChange): Promise<boolean> {
    try {
      await entities.authorize(change);
    } catch (err) {
      if (!(err instanceof HubError)) throw err;
      fail(r, change.id, err);
      return false;
    }
    changes.push(change);
    return true;
  }
  const notFoundErr = (id: string) =>
    new HubError('ResourceNotFound', `Entity ${id} does not exist`, { instance: id });

  /** Rows of the items that parsed, read under lock. */
  const lockRows = (tx: StoreTx, tenant: string, prepared: Prepared<unknown>[]) =>
    tx.getEntities(
      tenant,
      prepared.filter((p) => p.ok).map((p) => p.id),
      { forUpdate: true },
    );

  /** Update or merge of existing entities: `apply` makes the new state (and maybe a note). */
  function applyToExisting<T>(
    tenant: string,
    prepared: Prepared<T>[],
    apply: (before: StoredEntity, value: T) => StoredEntity | { entity: StoredEntity; note: HubError },
  ): Promise<BatchResult> {
    return entities.batch(async (tx, changes: EntityChange[], now) => {
      const r: BatchResult = { success: [], errors: [] };
      const writer = createBatchWriter();
      const existing = await lockRows(tx, tenant, prepared);
      for (const p of prepared) {
        if (!p.ok) {
          fail(r, p.id, p.error);
          continue;
        }
        const before = existing.get(p.id);
        if (!before) {
          fail(r, p.id, notFoundErr(p.id));
          continue;
        }
        const applied = apply(before, p.value);
        const after = 'note' in applied ? applied.entity : applied;
        after.modifiedAt = now;
        if (!(await admit(r, changes, { tenant, id: p.id, kind: 'updated', before, after }))) continue;
        writer.update(after);
        existing.set(p.id, after);
        if ('note' in applied) fail(r, p.id, applied.note);
        else r.success.push(p.id);
      }
      await writer.flush(tx, tenant);
      return r;
    });
  }

  return {
    /** §5.6.7: new entities; an id that exists (or came earlier in the batch) is that item's 409. */
    create(tenant: string, prepared: Prepared<StoredEntity>[]): Promise<BatchResult> {
      return entities.batch(async (tx, changes, now) => {
        const r: BatchResult = { success: [], errors: [] };
        const writer = createBatchWriter();
        if (prepared.some((p) => p.ok)) await tx.ensureTenant(tenant);
        const seen = new Set((await lockRows(tx, tenant, prepared)).keys());
        for (const p of prepared) {
          if (!p.ok) {
            fail(r, p.id, p.error);
            continue;
          }
          if (seen.has(p.id)) {
            fail(r, p.id, new HubError('AlreadyExists', `Entity ${p.id} already exists`, { instance: p.id }));
            continue;
          }
          const e = p.value;
          e.createdAt = now;
          e.modifiedAt = now;
          if (!(await admit(r, changes, { tenant, id: e.id, kind: 'created', after: e }))) continue;
          writer.insert(e);
          seen.add(p.id);
          r.success.push(p.id);
        }
        await writer.flush(tx, tenant);
        return r;
      });
    },

    /**
     * §5.6.8: create what does not exist; replace (default) or update what does. `created`: the
     * ids created, in order.
     */
    async upsert(
      tenant: string,
      prepared: Prepared<StoredEntity>[],
      mode: 'replace' | 'update',
    ): Promise<{ result: BatchResult; created: string[] }> {
      let created: string[] = [];
      const result = await entities.batch(async (tx, changes, now) => {
        const r: BatchResult = { success: [], errors: [] };
        const writer = createBatchWriter();
        created = [];
        if (prepared.some((p) => p.ok)) await tx.ensureTenant(tenant);
        const existing = await lockRows(tx, tenant, prepared);
        for (const p of prepared) {
          if (!p.ok) {
            fail(r, p.id, p.error);
            continue;
          }
          const incoming = p.value;
          const before = existing.get(p.id);
          if (!before) {
            incoming.createdAt = now;
            incoming.modifiedAt = now;
            if (!(await admit(r, changes, { tenant, id: p.id, kind: 'created', after: incoming }))) continue;
            writer.insert(incoming);
            existing.set(p.id, incoming);
            created.push(p.id);
          } else {
            const after =
              mode === 'replace'
                ? { ...incoming, createdAt: before.createdAt ?? now }
                : appendAll(before, incoming, false);
            if (mode === 'update')
              for (const t of incoming.types) if (!after.types.includes(t)) after.types.push(t);
            after.modifiedAt = now;
            if (!(await admit(r, changes, { tenant, id: p.id, kind: 'updated', before, after }))) continue;
            writer.update(after);
            existing.set(p.id, after);
          }
          r.success.push(p.id);
        }
        await writer.flush(tx, tenant);
        return r;
      });
      return { result, created };
    },

    /** §5.6.9: attributes appended to existing entities; under `noOverwrite` existing ones stay. */
    update(tenant: string, prepared: Prepared<StoredEntity>[], noOverwrite: boolean): Promise<BatchResult> {
      return applyToExisting(tenant, prepared, (before, incoming) => {
        const kept: string[] = [];
        const after = appendAll(before, incoming, noOverwrite, kept);
        // NGSI-LD §5.6.9: attributes left alone under noOverwrite are reported, the rest is applied.
        const note =
          kept.length > 0
            ? new HubError(
                'BadRequestData',
                `Not overwritten (noOverwrite): ${kept.map(shortName).join(', ')}`,
                { instance: before.id },
              )
            : undefined;
        return note ? { entity: after, note } : after;
      });
    },

    /** §5.6.20: each fragment merged into its existing entity (JSON Merge Patch rules of §5.5.12). */
    merge(tenant: string, prepared: Prepared<MergeItem>[]): Promise<BatchResult> {
      return applyToExisting(tenant, prepared, (before, v) => mergeInto(before, v.frag, v.now, v.ctx));
    },

    /** §5.6.10: entities deleted by id; an item that is not a URI is a 400, a missing one a 404. */
    delete(tenant: string, items: unknown[]): Promise<BatchResult> {
      return entities.batch(async (tx, changes) => {
        const r: BatchResult = { success: [], errors: [] };
        const valid = items.filter((i): i is string => isUri(i));
        const existing = await tx.getEntities(tenant, valid, { forUpdate: true });
        for (const item of items) {
          if (!isUri(item)) {
            fail(
              r,
              typeof item === 'string' ? item : JSON.stringify(item),
              badRequest(`Invalid entity id ${JSON.stringify(item)}`),
            );
            continue;
          }
          const before = existing.get(item);
          if (!before) {
            fail(r, item, notFoundErr(item));
            continue;
          }
          if (!(await admit(r, changes, { tenant, id: item, kind: 'deleted', before }))) continue;
          await tx.deleteEntity(tenant, item);
          existing.delete(item);
          r.success.push(item);
        }
        return r;
      });
    },
  };
}

/**
 * Collects a batch's final entity states and writes them in a few multi-row statements; an id
 * created and then changed within the batch is inserted once, in its last state.
 */
function createBatchWriter() {
  const inserts = new Map<string, StoredEntity>();
  const updates = new Map<string, StoredEntity>();
  return {
    insert(e: StoredEntity): void {
      inserts.set(e.id, e);
    },
    update(e: StoredEntity): void {
      if (inserts.has(e.id)) inserts.set(e.id, e);
      else updates.set(e.id, e);
    },
    async flush(tx: StoreTx, tenant: string): Promise<void> {
      if (inserts.size + updates.size > 0)
        await tx.writeEntities(tenant, [...inserts.values()], [...updates.values()]);
    },
  };
}

/** Append semantics for batch update/upsert-update: instances replace by datasetId, types add up. */
function appendAll(
  before: StoredEntity,
  incoming: StoredEntity,
  noOverwrite: boolean,
  kept: string[] = [],
): StoredEntity {
  const after = clone(before);
  for (const t of incoming.types) if (!after.types.includes(t)) after.types.push(t);
  for (const [iri, instances] of Object.entries(incoming.attrs)) {
    let list = after.attrs[iri] ?? [];
    for (const inst of instances) {
      if (noOverwrite && findInstance(list, inst.datasetId)) {
        if (!kept.includes(iri)) kept.push(iri);
        continue;
      }
      list = putInstance(list, inst);
    }
    after.attrs[iri] = list;
  }
  if (incoming.scopes)
    after.scopes = noOverwrite
      ? [...new Set([...(after.scopes ?? []), ...incoming.scopes])]
      : incoming.scopes;
  return after;
}

/** The attribute's short name for messages: the last segment of its IRI. */
const shortName = (iri: string) => iri.replace(/^.*[/#]/, '');
