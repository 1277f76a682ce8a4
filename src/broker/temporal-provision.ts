/**
 * Temporal provision (NGSI-LD §5.6.11-5.6.16): writes through the entity service's batch, so
 * that the current state, the history and the notifications move together in one transaction.
 * Instances written here are recorded by this module itself (many per attribute), not by the
 * history recorder.
 */
import type { ActiveContext } from '../core/context/active-context.js';
import type { StoredAttribute, StoredEntity } from '../core/entity-model.js';
import { parseAttributeInstances, parseEntity } from '../core/entity-input.js';
import { badRequest, notFound } from '../core/errors.js';
import type { HistoryInstance } from '../core/history-store.js';
import type { Store, StoreTx } from '../core/store.js';
import { isPlainObject } from '../core/validation.js';
import type { EntityChange, EntityService } from './entity-service.js';
import { clone } from './entity-service.js';
import { findInstance, putInstance } from './entity-merge.js';
import { HISTORY_WRITTEN, historyEntityOf, rowOf } from './history-recorder.js';

export function createTemporalProvision(opts: { store: Store; entities: EntityService }) {
  const { store, entities } = opts;

  return {
    /**
     * NGSI-LD §5.6.11 Create or Update Temporal Representation of an Entity: every instance of
     * the body is appended to the history (an instance with the same observedAt replaces the
     * held one), and the newest instance of each attribute becomes the current state.
     * Returns true if the entity was created.
     */
    async upsert(tenant: string, body: unknown, ctx: ActiveContext): Promise<boolean> {
      const t = entities.now();
      const { entity, series } = parseTemporalEntity(body, ctx, t);
      return entities.batch(async (tx, changes) => {
        await tx.ensureTenant(tenant);
        const before = await tx.getEntity(tenant, entity.id, { forUpdate: true });
        const known = before ?? (await tx.history.getEntity(tenant, entity.id));
        const after = applyNewest(before, entity, series, t);
        await writeCurrent(tx, tenant, before, after, changes);
        await tx.history.append(
          tenant,
          [historyEntityOf(after, t)],
          series.map(([attr, inst]) => rowOf(entity.id, attr, inst, t)),
          { replaceSameObservedAt: true },
        );
        return known === undefined;
      });
    },

    /** NGSI-LD §5.6.12 Add Attributes to Temporal Representation of an Entity. */
    async addAttributes(tenant: string, id: string, body: unknown, ctx: ActiveContext): Promise<void> {
      const t = entities.now();
      if (!isPlainObject(body)) throw badRequest('The request body must be a JSON object');
      const { series } = parseTemporalEntity({ ...body, id, type: 'x' }, ctx, t, true);
      await entities.batch(async (tx, changes) => {
        const before = await tx.getEntity(tenant, id, { forUpdate: true });
        const held = before ?? (await tx.history.getEntity(tenant, id));
        if (!held) throw notFound(`No temporal evolution of entity ${id}`, id);
        const base: StoredEntity = before ?? {
          id,
          types: held.types,
          attrs: {},
          ...(held.createdAt === undefined ? {} : { createdAt: held.createdAt }),
        };
        const after = applyNewest(base, undefined, series, t);
        await writeCurrent(tx, tenant, before, after, changes);
        await tx.history.append(
          tenant,
          [historyEntityOf(after, t)],
          series.map(([attr, inst]) => rowOf(id, attr, inst, t)),
          { replaceSameObservedAt: true },
        );
      });
    },

    /** NGSI-LD §5.6.14 Modify Attribute Instance in Temporal Representation of an Entity. */
    async modifyInstance(
      tenant: string,
      id: string,
      attrName: string,
      instanceId: string,
      body: unknown,
      ctx: ActiveContext,
    ): Promise<void> {
      const t = entities.now();
      if (!isPlainObject(body) || Object.keys(body).filter((k) => k !== '@context').length === 0)
        throw badRequest('The instance fragment must be a non-empty JSON object');
      const iri = ctx.expand(attrName);
      const { '@context': _c, ...fragment } = body;
      const raw = fragment[attrName] ?? fragment[iri];
      // The body is either {attrName: {...}} or the instance members themselves.
      const source = isPlainObject(raw)
        ? raw
        : Array.isArray(raw) && isPlainObject(raw[0])
          ? raw[0]
          : fragment;
      await store.transaction(async (tx) => {
        const held = await tx.history.getInstance(tenant, id, iri, instanceId);
        if (!held) throw notFound(`No instance ${instanceId} of ${attrName} in entity ${id}`, id);
        const whole = { ...renderable(held.instance), ...source };
        const [inst] = parseAttributeInstances(attrName, whole, ctx, { now: t });
        if (!inst) throw badRequest('The instance fragment is empty');
        inst.createdAt = held.createdAt;
        inst.modifiedAt = t;
        const row: HistoryInstance = { ...rowOf(id, iri, inst, t), instanceId, createdAt: held.createdAt };
        await tx.history.replaceInstance(tenant, row);
      });
    },

    /** NGSI-LD §5.6.15 Delete Attribute Instance from Temporal Representation of an Entity. */
    async deleteInstance(
      tenant: string,
      id: string,
      attrName: string,
      instanceId: string,
      ctx: ActiveContext,
    ) {
      const iri = ctx.expand(attrName);
      await store.transaction(async (tx) => {
        if (!(await tx.history.getEntity(tenant, id)))
          throw notFound(`No temporal evolution of entity ${id}`, id);
        if (!(await tx.history.deleteInstance(tenant, id, iri, instanceId)))
          throw notFound(`No instance ${instanceId} of ${attrName} in entity ${id}`, id);
      });
    },

    /** NGSI-LD §5.6.13 Delete Attribute from Temporal Representation of an Entity. */
    async deleteAttribute(
      tenant: string,
      id: string,
      attrName: string,
      ctx: ActiveContext,
      which: { datasetId?: string; deleteAll?: boolean },
    ): Promise<void> {
      const iri = ctx.expand(attrName);
      await entities.batch(async (tx, changes) => {
        if (!(await tx.history.getEntity(tenant, id)))
          throw notFound(`No temporal evolution of entity ${id}`, id);
        const n = await tx.history.deleteAttribute(tenant, id, iri, {
          ...(which.datasetId !== undefined ? { datasetId: which.datasetId } : {}),
          ...(which.deleteAll ? { all: true } : {}),
        });
        if (n === 0) throw notFound(`Entity ${id} has no history of ${attrName}`, id);
        // The current state follows: the attribute's history is gone, so is its value.
        const before = await tx.getEntity(tenant, id, { forUpdate: true });
        if (before?.attrs[iri]) {
          const after = clone(before);
          const left = which.deleteAll
            ? []
            : (after.attrs[iri] ?? []).filter((i) => i.datasetId !== which.datasetId);
          if (left.length > 0) after.attrs[iri] = left;
          else delete after.attrs[iri];
          await writeCurrent(tx, tenant, before, after, changes);
        }
      });
    },

    /** NGSI-LD §5.6.16 Delete Temporal Representation of an Entity: its history and current state. */
    async deleteEntity(tenant: string, id: string): Promise<void> {
      await entities.batch(async (tx, changes) => {
        const before = await tx.getEntity(tenant, id, { forUpdate: true });
        const had = await tx.history.deleteEntity(tenant, id);
        if (!had && !before) throw notFound(`No temporal evolution of entity ${id}`, id);
        if (before) {
          await tx.deleteEntity(tenant, id);
          const c: EntityChange = { tenant, id, kind: 'deleted', before };
          HISTORY_WRITTEN.add(c);
          changes.push(c);
        }
      });
    },
  };

  async function writeCurrent(
    tx: StoreTx,
    tenant: string,
    before: StoredEntity | undefined,
    after: StoredEntity,
    changes: EntityChange[],
  ): Promise<void> {
    let c: EntityChange;
    if (before) {
      await tx.updateEntity(tenant, after);
      c = { tenant, id: after.id, kind: 'updated', before, after };
    } else {
      await tx.insertEntity(tenant, after);
      c = { tenant, id: after.id, kind: 'created', after };
    }
    HISTORY_WRITTEN.add(c);
    changes.push(c);
  }
}

/** A stored instance back in request form (IRIs in sub-attributes are compacted by the parser's context). */
function renderable(i: StoredAttribute): Record<string, unknown> {
  const { createdAt: _c, modifiedAt: _m, languageValues: _l, sub: _s, ...rest } = i;
  return rest;
}

/**
 * Parses a temporal entity: attributes hold arrays of instances, several per datasetId allowed
 * (NGSI-LD §4.5.7). Returns the entity head and every instance in order.
 */
export function parseTemporalEntity(
  body: unknown,
  ctx: ActiveContext,
  now: string,
  attrsOnly = false,
): { entity: StoredEntity; series: [string, StoredAttribute][] } {
  if (!isPlainObject(body)) throw badRequest('A temporal entity must be a JSON object');
  const head: Record<string, unknown> = {};
  const series: [string, StoredAttribute][] = [];
  for (const [k, v] of Object.entries(body)) {
    if (['id', '@id', 'type', '@type', 'scope', '@context'].includes(k)) {
      head[k] = v;
      continue;
    }
    if (['createdAt', 'modifiedAt', 'deletedAt'].includes(k)) continue;
    const list = Array.isArray(v) && v.every((x) => isPlainObject(x)) ? v : [v];
    for (const item of list) {
      const [inst] = parseAttributeInstances(k, item, ctx, { now });
      if (inst) series.push([ctx.expand(k), inst]);
    }
  }
  const entity = parseEntity(head, ctx, { now });
  if (attrsOnly && series.length === 0) throw badRequest('No attribute instances to add');
  return { entity, series };
}

/**
 * The current state after temporal provision: the newest instance (by observedAt) of each
 * attribute and datasetId replaces the held one unless the held one is newer.
 */
function applyNewest(
  before: StoredEntity | undefined,
  head: StoredEntity | undefined,
  series: [string, StoredAttribute][],
  now: string,
): StoredEntity {
  const after: StoredEntity = before ? clone(before) : { ...(head as StoredEntity), attrs: {} };
  if (head) {
    for (const ty of head.types) if (!after.types.includes(ty)) after.types.push(ty);
    if (head.scopes) after.scopes = head.scopes;
  }
  after.createdAt ??= now;
  after.modifiedAt = now;
  const time = (i: StoredAttribute | undefined) => (i?.observedAt ? Date.parse(i.observedAt) : -Infinity);
  for (const [attr, inst] of series) {
    const held = findInstance(after.attrs[attr], inst.datasetId);
    if (held && time(held) > time(inst)) continue;
    after.attrs[attr] = putInstance(after.attrs[attr] ?? [], inst);
  }
  return after;
}
