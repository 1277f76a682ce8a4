/**
 * Temporal application service (NGSI-LD §5.6.11-5.6.16 temporal provision, §5.7.3-5.7.4
 * temporal consumption): reads the history, aggregates it (from the rollups when the periods
 * allow), and writes temporal provision through the entity service, so that the current state,
 * the history and the notifications move together in one transaction.
 */
import type { ActiveContext } from '../core/context/active-context.js';
import type { StoredAttribute, StoredEntity } from '../core/entity-model.js';
import { parseAttributeInstances, parseEntity } from '../core/entity-input.js';
import { HubError, badRequest, notFound } from '../core/errors.js';
import type {
  AggregateRow,
  HistoryEntity,
  HistoryEntityQuery,
  HistoryInstance,
  InstanceSelection,
  RollupGrain,
} from '../core/history-store.js';
import type { EntityQuery, Store, StoreTx } from '../core/store.js';
import { periodBounds } from '../core/temporal/duration.js';
import type { TemporalSpec } from '../core/temporal/temporal-query.js';
import { COMPOSABLE_METHODS, windowOf } from '../core/temporal/temporal-query.js';
import { renderTemporalEntity } from '../core/temporal/temporal-output.js';
import { isPlainObject } from '../core/validation.js';
import type { EntityChange, EntityService } from './entity-service.js';
import { clone } from './entity-service.js';
import { findInstance, putInstance } from './entity-merge.js';
import { HISTORY_WRITTEN, historyEntityOf, newInstanceId, rowOf } from './history-recorder.js';

/** Instances per attribute in one response before temporal pagination cuts (NGSI-LD §6.3.10). */
export const DEFAULT_MAX_INSTANCES = 1000;
/** Aggregation periods per series in one response. */
const MAX_PERIODS = 100_000;
const GRAIN_MS: Record<RollupGrain, number> = { hour: 3_600_000, minute: 60_000 };

export interface TemporalQuery {
  /** Entity selection: ids, idPattern, type, scopeQ, q, geo (q and geo match the current state). */
  entities: EntityQuery;
  spec: TemporalSpec;
  attrs?: string[];
  /** Attributes left out (omit). */
  omit?: string[];
  datasetIds?: string[];
  hideId?: boolean;
  hideType?: boolean;
}

export interface TemporalResult {
  bodies: Record<string, unknown>[];
  count?: number;
  /** Set when some attribute was cut at the instance limit: the time range returned. */
  range?: { start: number; end: number; size: number | '*' };
}

export function createTemporalService(opts: {
  store: Store;
  entities: EntityService;
  maxInstances?: number;
}) {
  const { store, entities } = opts;
  const maxInstances = opts.maxInstances ?? DEFAULT_MAX_INSTANCES;

  async function render(
    tenant: string,
    list: HistoryEntity[],
    tq: TemporalQuery,
    ctx: ActiveContext,
  ): Promise<Omit<TemporalResult, 'count'>> {
    const ids = list.map((e) => e.id);
    const w = windowOf(tq.spec.time);
    const sel: InstanceSelection = {
      timeproperty: tq.spec.timeproperty,
      ...(tq.attrs ? { attrs: tq.attrs } : {}),
      ...(tq.omit ? { omitAttrs: tq.omit } : {}),
      ...(tq.datasetIds ? { datasetIds: tq.datasetIds } : {}),
      ...(w.from !== undefined ? { from: w.from } : {}),
      ...(w.to !== undefined ? { to: w.to } : {}),
      ...(w.fromExclusive ? { fromExclusive: true } : {}),
    };
    const ro = {
      format: tq.spec.format,
      timeproperty: tq.spec.timeproperty,
      sysAttrs: tq.spec.sysAttrs,
      ...(tq.hideId ? { hideId: true } : {}),
      ...(tq.hideType ? { hideType: true } : {}),
    };
    if (tq.spec.format === 'aggregatedValues') {
      const methods = tq.spec.aggrMethods ?? [];
      const latest = await store.history.instances(tenant, ids, sel, { lastN: 1, limit: 1 });
      const ranges = await store.history.timeRange(tenant, ids, sel);
      const bounds = new Map<string, number[]>();
      const rows: AggregateRow[] = [];
      // Entities sharing the same periods (a given timeAt) are aggregated in one statement.
      const groups = new Map<string, string[]>();
      for (const id of ids) {
        const r = ranges.get(id);
        if (!r) continue;
        const start = w.from ?? r.first;
        const end = w.to ?? r.last + 1;
        let b: number[];
        try {
          b = tq.spec.aggrPeriod
            ? periodBounds(start, end - 1, tq.spec.aggrPeriod, MAX_PERIODS)
            : [start, end];
        } catch (err) {
          if (err instanceof RangeError)
            throw new HubError('TooComplexQuery', `The aggregation asks for ${err.message}`);
          throw err;
        }
        bounds.set(id, b);
        const key = b.join(',');
        groups.set(key, [...(groups.get(key) ?? []), id]);
      }
      const composable = methods.every((m) => COMPOSABLE_METHODS.includes(m));
      for (const [key, group] of groups) {
        const b = key.split(',').map(Number);
        const grain =
          composable && tq.spec.timeproperty === 'observedAt' && !w.fromExclusive
            ? grainFor(b, w.to)
            : undefined;
        rows.push(...(await store.history.aggregate(tenant, group, sel, b, methods, grain)));
      }
      return {
        bodies: list.map((e) => renderTemporalEntity(e, latest, rows, ctx, { ...ro, methods, bounds })),
      };
    }
    const page = { limit: maxInstances, ...(tq.spec.lastN !== undefined ? { lastN: tq.spec.lastN } : {}) };
    const cap = tq.spec.lastN !== undefined ? Math.min(tq.spec.lastN, maxInstances) : maxInstances;
    const all = await store.history.instances(tenant, ids, sel, page);
    // One more than the cap was read per attribute: where it came back, the attribute is cut.
    const kept: HistoryInstance[] = [];
    const seen = new Map<string, number>();
    let cut = false;
    const newestFirst = tq.spec.lastN !== undefined;
    const ordered = newestFirst ? [...all].reverse() : all;
    for (const h of ordered) {
      const k = `${h.entityId}\u0000${h.attr}`;
      const n = (seen.get(k) ?? 0) + 1;
      seen.set(k, n);
      if (n > cap) {
        // lastN is what the client asked for; only the server's own limit is pagination.
        if (n > maxInstances || tq.spec.lastN === undefined || tq.spec.lastN > maxInstances) cut = true;
        continue;
      }
      kept.push(h);
    }
    if (newestFirst) kept.reverse();
    const bodies = list.map((e) => renderTemporalEntity(e, kept, [], ctx, ro));
    const result: Omit<TemporalResult, 'count'> = { bodies };
    if (cut && kept.length > 0) {
      const times = kept.map((h) => timeOfInstance(h, tq.spec.timeproperty));
      const lo = Math.min(...times);
      const hi = Math.max(...times);
      // NGSI-LD §6.3.10: with lastN the range runs from the newest back.
      result.range = newestFirst
        ? { start: w.to ?? hi, end: lo, size: tq.spec.lastN ?? '*' }
        : { start: w.from ?? lo, end: hi, size: '*' };
    }
    return result;
  }

  async function selectIds(tenant: string, q: EntityQuery): Promise<string[] | undefined> {
    // q and geo-queries are answered on the current state of the entities.
    if (!q.q && !q.geo) return undefined;
    const r = await store.queryEntities(tenant, {
      ...q,
      anyOf: q.anyOf ?? [],
      limit: 10_000,
      offset: 0,
      count: false,
    });
    return r.entities.map((e) => e.id);
  }

  return {
    /** NGSI-LD §5.7.4 Query Temporal Evolution of Entities. */
    async query(tenant: string, tq: TemporalQuery, ctx: ActiveContext): Promise<TemporalResult> {
      const matched = await selectIds(tenant, tq.entities);
      const ids = matched
        ? tq.entities.ids
          ? tq.entities.ids.filter((i) => matched.includes(i))
          : matched
        : tq.entities.ids;
      if (ids && ids.length === 0) return { bodies: [], ...(tq.entities.count ? { count: 0 } : {}) };
      const w = windowOf(tq.spec.time);
      const hq: HistoryEntityQuery = {
        ...(ids ? { ids } : {}),
        ...(tq.entities.idPattern !== undefined ? { idPattern: tq.entities.idPattern } : {}),
        ...(tq.entities.type ? { type: tq.entities.type } : {}),
        ...(tq.entities.scopeQ ? { scopeQ: tq.entities.scopeQ } : {}),
        ...(tq.entities.anyOf ? { anyOf: tq.entities.anyOf } : {}),
        ...(tq.attrs ? { withAnyAttr: tq.attrs } : {}),
        ...(tq.spec.time
          ? {
              window: {
                timeproperty: tq.spec.timeproperty,
                ...(w.from !== undefined ? { from: w.from } : {}),
                ...(w.to !== undefined ? { to: w.to } : {}),
                ...(w.fromExclusive ? { fromExclusive: true } : {}),
              },
            }
          : {}),
        limit: tq.entities.limit,
        offset: tq.entities.offset,
        count: tq.entities.count,
      };
      const found = await store.history.queryEntities(tenant, hq);
      const out = await render(tenant, found.entities, tq, ctx);
      return { ...out, ...(found.count !== undefined ? { count: found.count } : {}) };
    },

    /** NGSI-LD §5.7.3 Retrieve Temporal Evolution of an Entity. */
    async retrieve(
      tenant: string,
      id: string,
      tq: TemporalQuery,
      ctx: ActiveContext,
    ): Promise<TemporalResult> {
      const e = await store.history.getEntity(tenant, id);
      if (!e) throw notFound(`No temporal evolution of entity ${id}`, id);
      if (tq.attrs) {
        const any = await store.history.instances(
          tenant,
          [id],
          { timeproperty: 'observedAt', attrs: tq.attrs },
          { limit: 1 },
        );
        if (any.length === 0) throw notFound(`Entity ${id} has no history of the requested attributes`, id);
      }
      return render(tenant, [e], tq, ctx);
    },

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
        const base: StoredEntity = before ?? { id, types: held.types, attrs: {}, createdAt: held.createdAt };
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

export type TemporalService = ReturnType<typeof createTemporalService>;

/** The coarsest rollup grain on which every period bound (and the window's end) falls. */
function grainFor(bounds: number[], to: number | undefined): RollupGrain | undefined {
  for (const g of ['hour', 'minute'] as const) {
    const ms = GRAIN_MS[g];
    if (bounds.every((b) => b % ms === 0) && (to === undefined || to % ms === 0)) return g;
  }
  return undefined;
}

function timeOfInstance(h: HistoryInstance, p: TemporalSpec['timeproperty']): number {
  const t = p === 'observedAt' ? (h.observedAt ?? h.modifiedAt) : (h[p] ?? h.modifiedAt);
  return Date.parse(t);
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

export { newInstanceId };
