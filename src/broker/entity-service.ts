/**
 * Entity application service: every NGSI-LD entity and attribute operation (NGSI-LD §5.6), one
 * transaction each, read-modify-write under a row lock. API, IoT ingestion and later rules all
 * write through here, so that history and notifications follow every change.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ActiveContext } from '../core/context/active-context.js';
import type { StoredAttribute, StoredEntity } from '../core/entity-model.js';
import {
  CONCISE_OBJECTS,
  parseAttributeInstances,
  parseEntity,
  parseFragment,
} from '../core/entity-input.js';
import { HubError, badRequest, notFound } from '../core/errors.js';
import type { EntityQuery, QueryResult, Store, StoreTx } from '../core/store.js';
import { VALUE_MEMBER, findInstance, isNullMarker, mergeInstance, putInstance } from './entity-merge.js';
import { feedEntriesOf } from './feed-entries.js';

export type ChangeKind = 'created' | 'updated' | 'deleted';

/** One committed change; `before`/`after` are the whole entity. */
export interface EntityChange {
  tenant: string;
  id: string;
  kind: ChangeKind;
  before?: StoredEntity;
  after?: StoredEntity;
}

/** Work that must commit atomically with a write (history rows, outbox rows). */
export type TransactionHook = (tx: StoreTx, changes: EntityChange[]) => Promise<void>;

/** Decides whether the writer (the current request's account) may make a change; throws a HubError when not. */
export type ChangeAuthorizer = (change: EntityChange) => Promise<void>;

/** The expanded IRI NGSI-LD gives the scope member. */
const SCOPE_IRI = 'https://uri.etsi.org/ngsi-ld/scope';

/** UpdateResult (NGSI-LD §5.2.18); attribute names are expanded IRIs, as the ETSI suite expects. */
export interface AttributeOutcome {
  updated: string[];
  notUpdated: { attributeName: string; reason: string }[];
}

export interface EntityServiceOptions {
  store: Store;
  /** Told about a change listener that threw (the write stays committed). */
  onListenerError?: (err: unknown) => void;
  clock?: () => Date;
  /**
   * Changes to existing entities that arrive while an earlier one is being written share the next
   * transaction (group commit; default on). Off: each in a transaction of its own.
   */
  groupWrites?: boolean;
}

/**
 * One change to an existing entity, computed from its state under the row lock: the entity after
 * it (none: nothing to write) and what the caller gets back. `apply` throws the change's own error
 * (a HubError) and must not touch `before`.
 */
interface Mutation<T> {
  tenant: string;
  id: string;
  apply(before: StoredEntity): { after?: StoredEntity; result: T };
}

/** A mutation waiting for its group, with the async context of its caller. */
interface Queued {
  m: Mutation<unknown>;
  runIn: <R>(fn: () => R) => R;
  resolve: (v: unknown) => void;
  reject: (err: unknown) => void;
}

/** Group commit so far: transactions shared by several writes, those writes, groups written again one by one. */
export interface WriteGroupStats {
  groups: number;
  grouped: number;
  fallbacks: number;
}

type Outcome<T> = { ok: true; result: T } | { ok: false; error: unknown };

/**
 * An error that belongs to one write of a group (not found, refused, bad data), as opposed to a
 * database failure, which the store reports as a HubError with a cause and which ends the group.
 */
const isOwnError = (err: unknown) => err instanceof HubError && err.cause === undefined;

export type EntityService = ReturnType<typeof createEntityService>;

export function createEntityService(opts: EntityServiceOptions) {
  const { store } = opts;
  const clock = opts.clock ?? (() => new Date());
  const listeners: ((changes: EntityChange[]) => void)[] = [];
  const hooks: TransactionHook[] = [];
  const ownHooks: TransactionHook[] = [];
  const authorizers: ChangeAuthorizer[] = [];
  const now = () => clock().toISOString();

  async function authorize(changes: EntityChange[]): Promise<void> {
    for (const c of changes) for (const a of authorizers) await a(c);
  }

  /**
   * The last steps of every write, in its transaction, once its changes are authorized and each
   * writer's own hooks (audit) ran: the transaction hooks in registration order (history
   * instances, the notification outbox, the announcement to other instances), then the change
   * feed. All of it commits with the change or not at all.
   */
  async function commitSteps(tx: StoreTx, changes: EntityChange[]): Promise<void> {
    if (changes.length === 0) return;
    for (const h of hooks) await h(tx, changes);
    await tx.changeFeed.append(feedEntriesOf(changes));
  }

  async function write<T>(fn: (tx: StoreTx, changes: EntityChange[]) => Promise<T>): Promise<T> {
    const changes: EntityChange[] = [];
    const result = await store.transaction(async (tx) => {
      const r = await fn(tx, changes);
      // Every change of the transaction, whoever built it (a route's batch, temporal provision),
      // is checked against the writer's rights before anything commits.
      await authorize(changes);
      if (changes.length > 0) for (const h of ownHooks) await h(tx, changes);
      await commitSteps(tx, changes);
      return r;
    });
    tell(changes);
    return result;
  }

  /** Committed is committed: a failing listener must not turn the write into an error. */
  function tell(changes: EntityChange[]): void {
    if (changes.length === 0) return;
    for (const l of listeners) {
      try {
        l(changes);
      } catch (err) {
        opts.onListenerError?.(err);
      }
    }
  }

  /** A mutation in a transaction of its own. */
  function mutateAlone<T>(m: Mutation<T>): Promise<T> {
    return write(async (tx, changes) => {
      const before = await mustGet(tx, m.tenant, m.id);
      const { after, result } = m.apply(before);
      if (after) await save(tx, m.tenant, before, after, changes);
      return result;
    });
  }

  /**
   * Mutations in one transaction, in the order given (an entity named twice gets both, in order).
   * The entities are locked up front in one statement per tenant, in id order (so two groups
   * cannot deadlock); each mutation then runs in its caller's async context (`runIn`), and so do
   * the per-writer hooks with its own changes (access checks, audit records): its own error fails
   * it alone and leaves the entity as the earlier ones made it. The rows are written in a few
   * multi-row statements and the transaction hooks run once with every change. Rejects when the
   * transaction fails as a whole (a database error, a transaction hook that throws).
   */
  async function runTogether(
    items: { m: Mutation<unknown>; runIn: <R>(fn: () => R) => R }[],
  ): Promise<Outcome<unknown>[]> {
    const changes: EntityChange[] = [];
    const outcomes = await store.transaction(async (tx) => {
      changes.length = 0;
      const held = new Map<string, Map<string, StoredEntity>>();
      const ids = new Map<string, Set<string>>();
      for (const { m } of items) ids.set(m.tenant, (ids.get(m.tenant) ?? new Set()).add(m.id));
      for (const [tenant, set] of [...ids].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        held.set(tenant, await tx.getEntities(tenant, [...set], { forUpdate: true }));
      // The rows as read under lock, for the store to leave unmoved geometry alone.
      const read = new Map([...held].map(([tenant, rows]) => [tenant, new Map(rows)]));
      const written = new Map<string, Map<string, StoredEntity>>();
      const results: Outcome<unknown>[] = [];
      for (const { m, runIn } of items) {
        try {
          const result = await runIn(async () => {
            const mine = held.get(m.tenant) as Map<string, StoredEntity>;
            // Not held: read again in the caller's context, which says 404 or, to a department
            // without rights on the tenant, 403.
            let before = mine.get(m.id);
            if (!before) {
              before = await mustGet(tx, m.tenant, m.id);
              read.get(m.tenant)?.set(m.id, before);
            }
            const { after, result } = m.apply(before);
            if (!after) return result;
            after.modifiedAt = now();
            const own: EntityChange[] = [{ tenant: m.tenant, id: m.id, kind: 'updated', before, after }];
            await authorize(own);
            for (const h of ownHooks) await h(tx, own);
            mine.set(m.id, after);
            written.set(m.tenant, (written.get(m.tenant) ?? new Map()).set(m.id, after));
            changes.push(...own);
            return result;
          });
          results.push({ ok: true, result });
        } catch (err) {
          if (!isOwnError(err)) throw err;
          results.push({ ok: false, error: err });
        }
      }
      for (const [tenant, rows] of written)
        await tx.writeEntities(tenant, [], [...rows.values()], read.get(tenant));
      await commitSteps(tx, changes);
      return results;
    });
    tell(changes);
    return outcomes;
  }

  /**
   * Group commit of mutations: one group in flight; what arrives meanwhile waits and goes in the
   * next transaction, at most `MAX_GROUP` at a time, in arrival order. A lone mutation starts at
   * once. A group whose transaction fails is written again one mutation at a time, each in its
   * caller's context, so one write's database error never fails the others.
   */
  const MAX_GROUP = 200;
  const GROUP_WAIT_MS = 1;
  const LOADED_MS = 5;
  const groupWrites = opts.groupWrites ?? true;
  let waiting: Queued[] = [];
  let inFlight = false;
  const groupStats: WriteGroupStats = { groups: 0, grouped: 0, fallbacks: 0 };
  /** Groups run in the context the service was made in (hub start-up), never in a request's. */
  const neutral = AsyncLocalStorage.snapshot();

  function mutate<T>(m: Mutation<T>): Promise<T> {
    if (!groupWrites) return mutateAlone(m);
    return new Promise<T>((resolve, reject) => {
      waiting.push({
        m: m,
        runIn: AsyncLocalStorage.snapshot(),
        resolve: resolve as (v: unknown) => void,
        reject,
      });
      if (!inFlight) void neutral(nextGroup);
      else if (filled && waiting.length >= lastSize) filled();
    });
  }

  /** Size of the last group written, and the wake-up of a wait for the next one to fill. */
  let lastSize = 0;
  /** When the last group ended: a write soon after it comes from a hub under load. */
  let lastEnded = 0;
  let filled: (() => void) | undefined;

  /**
   * Under load the writers of one group send their next writes together once it commits: without
   * a pause, the next group would hold only the few that arrived meanwhile, and groups would
   * alternate between a handful and nearly all (or, when all writers were in one group, between
   * one write and all the others). So a group that starts within LOADED_MS of the end of one of
   * several writes waits up to GROUP_WAIT_MS for as many writes as that one had; on a hub that
   * was idle, a lone write starts at once.
   */
  async function fill(): Promise<void> {
    if (lastSize <= 1 || waiting.length >= lastSize || performance.now() - lastEnded > LOADED_MS) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, GROUP_WAIT_MS);
      function done() {
        clearTimeout(t);
        filled = undefined;
        resolve();
      }
      filled = done;
    });
  }

  async function nextGroup(): Promise<void> {
    inFlight = true;
    while (waiting.length > 0) {
      await fill();
      const group = waiting.slice(0, MAX_GROUP);
      waiting = waiting.slice(group.length);
      lastSize = group.length;
      let outcomes: Outcome<unknown>[] | undefined;
      try {
        outcomes = group.length === 1 ? undefined : await runTogether(group);
      } catch {
        outcomes = undefined;
      }
      lastEnded = performance.now();
      if (outcomes) {
        groupStats.groups++;
        groupStats.grouped += group.length;
        outcomes.forEach((o, i) => {
          const q = group[i] as Queued;
          if (o.ok) q.resolve(o.result);
          else q.reject(o.error);
        });
        continue;
      }
      if (group.length > 1) groupStats.fallbacks++;
      for (const q of group) {
        try {
          q.resolve(await q.runIn(() => mutateAlone(q.m)));
        } catch (err) {
          q.reject(err);
        }
      }
    }
    inFlight = false;
  }

  async function mustGet(tx: StoreTx, tenant: string, id: string): Promise<StoredEntity> {
    const e = await tx.getEntity(tenant, id, { forUpdate: true });
    if (!e) throw notFound(`Entity ${id} does not exist`, id);
    return e;
  }

  async function save(
    tx: StoreTx,
    tenant: string,
    before: StoredEntity,
    after: StoredEntity,
    changes: EntityChange[],
  ) {
    after.modifiedAt = now();
    await tx.updateEntity(tenant, after);
    changes.push({ tenant, id: after.id, kind: 'updated', before, after });
  }

  return {
    /** Registers a listener called after each committed write with its changes. */
    onChange(listener: (changes: EntityChange[]) => void): void {
      listeners.push(listener);
    },

    /**
     * Registers a hook run inside each write's transaction, after the entity rows are written and
     * before COMMIT, in registration order. A hook that throws rolls the whole write back.
     */
    onTransaction(hook: TransactionHook): void {
      hooks.push(hook);
    },

    /**
     * Registers a hook run inside the transaction with one writer's own changes, in that writer's
     * async context (its request), before the transaction hooks: when writes share a transaction
     * (group commit), each writer's changes are checked and recorded as its own, and a hook that
     * throws a HubError refuses that write alone. Otherwise it rolls the whole write back.
     */
    onOwnChanges(hook: TransactionHook): void {
      ownHooks.push(hook);
    },

    /**
     * Registers a check of each change against the writer's rights, run inside the transaction in
     * the writer's async context before the per-writer hooks: a change it refuses (HubError) fails
     * its write (alone, when writes share a transaction).
     */
    onAuthorize(check: ChangeAuthorizer): void {
      authorizers.push(check);
    },

    /**
     * Checks one change now, as the write will at its end: batches call it per item, so that an
     * item the writer may not write is that item's error and nothing of it is applied.
     */
    authorize(change: EntityChange): Promise<void> {
      return authorize([change]);
    },

    /** What group commit has done so far (for metrics and tests). */
    writeGroups(): WriteGroupStats {
      return { ...groupStats };
    },

    /** NGSI-LD §5.6.1 Create Entity. */
    async create(tenant: string, body: unknown, ctx: ActiveContext): Promise<StoredEntity> {
      const t = now();
      const entity = parseEntity(body, ctx, { now: t });
      entity.createdAt = t;
      entity.modifiedAt = t;
      return write(async (tx, changes) => {
        await tx.ensureTenant(tenant);
        await tx.insertEntity(tenant, entity);
        changes.push({ tenant, id: entity.id, kind: 'created', after: entity });
        return entity;
      });
    },

    async retrieve(tenant: string, id: string): Promise<StoredEntity> {
      const e = await store.getEntity(tenant, id);
      if (!e) throw notFound(`Entity ${id} does not exist`, id);
      return e;
    },

    /** Entities by id, without locks (linked entity retrieval). */
    getMany(tenant: string, ids: string[]): Promise<Map<string, StoredEntity>> {
      return store.getEntities(tenant, ids);
    },

    query(tenant: string, query: EntityQuery): Promise<QueryResult> {
      return store.queryEntities(tenant, query);
    },

    /** NGSI-LD §5.6.6 Delete Entity. */
    async delete(tenant: string, id: string): Promise<void> {
      await write(async (tx, changes) => {
        const before = await mustGet(tx, tenant, id);
        await tx.deleteEntity(tenant, id);
        changes.push({ tenant, id, kind: 'deleted', before });
      });
    },

    /** NGSI-LD §5.6.18 Replace Entity (PUT): all attributes replaced, createdAt kept. */
    async replace(tenant: string, id: string, body: unknown, ctx: ActiveContext): Promise<void> {
      const t = now();
      const withId = { ...(body as object), id: (body as { id?: unknown })?.id ?? id };
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        throw badRequest('The request body must be a JSON object');
      const next = parseEntity(withId, ctx, { now: t });
      if (next.id !== id)
        throw badRequest(`The id in the body (${next.id}) is not the id in the path (${id})`);
      await mutate({
        tenant,
        id,
        apply: (before) => ({ after: { ...next, createdAt: before.createdAt ?? t }, result: undefined }),
      });
    },

    /** NGSI-LD §5.6.17 Merge Entity (PATCH /entities/{id}). */
    async merge(
      tenant: string,
      id: string,
      body: unknown,
      ctx: ActiveContext,
      opts: { observedAt?: string } = {},
    ): Promise<void> {
      const t = now();
      const frag = parseFragment(body, ctx, { now: t, allowNull: true });
      if (frag.id !== undefined && frag.id !== id)
        throw badRequest(`The id in the body (${frag.id}) is not the id in the path (${id})`);
      await mutate({
        tenant,
        id,
        apply: (before) => ({ after: mergeInto(before, frag, t, ctx, opts.observedAt), result: undefined }),
      });
    },

    /** NGSI-LD §5.6.3 Append Entity Attributes, with noOverwrite. */
    async appendAttributes(
      tenant: string,
      id: string,
      body: unknown,
      ctx: ActiveContext,
      noOverwrite: boolean,
    ): Promise<AttributeOutcome> {
      const t = now();
      const frag = parseFragment(body, ctx, { now: t });
      if (frag.id !== undefined && frag.id !== id)
        throw badRequest(`The id in the body (${frag.id}) is not the id in the path (${id})`);
      return mutate({
        tenant,
        id,
        apply(before) {
          const after = clone(before);
          const outcome: AttributeOutcome = { updated: [], notUpdated: [] };
          if (frag.types) for (const ty of frag.types) if (!after.types.includes(ty)) after.types.push(ty);
          if (frag.scopes)
            after.scopes = noOverwrite
              ? [...new Set([...(after.scopes ?? []), ...frag.scopes])]
              : frag.scopes;
          for (const [iri, instances] of Object.entries(frag.attrs)) {
            let list = after.attrs[iri] ?? [];
            for (const inst of instances ?? []) {
              if (noOverwrite && findInstance(list, inst.datasetId)) {
                outcome.notUpdated.push({
                  attributeName: iri,
                  reason: 'The attribute exists and noOverwrite was asked',
                });
                continue;
              }
              list = putInstance(list, inst);
              if (!outcome.updated.includes(iri)) outcome.updated.push(iri);
            }
            after.attrs[iri] = list;
          }
          const changed = outcome.updated.length > 0 || frag.types || frag.scopes;
          return changed ? { after, result: outcome } : { result: outcome };
        },
      });
    },

    /**
     * NGSI-LD §5.6.2 Update Entity Attributes (PATCH /entities/{id}/attrs): instances replace the
     * ones with the same datasetId, new attributes are added, NGSI-LD Null deletes an instance,
     * types are added; a scope replaces the entity's scope, but is not added to an entity without
     * one (reported as not updated).
     */
    async updateAttributes(
      tenant: string,
      id: string,
      body: unknown,
      ctx: ActiveContext,
    ): Promise<AttributeOutcome> {
      const t = now();
      const frag = parseFragment(body, ctx, { now: t, allowNull: true });
      if (frag.id !== undefined && frag.id !== id) {
        throw badRequest(`The id in the body (${frag.id}) is not the id in the path (${id})`);
      }
      return mutate({
        tenant,
        id,
        apply: (before) => attributeMutation(before, frag),
      });
    },

    /**
     * NGSI-LD §5.6.4 Partial Attribute Update (PATCH /entities/{id}/attrs/{attrId}): the fragment
     * holds some members and sub-attributes of one instance (chosen by its datasetId); what it
     * does not hold stays. NGSI-LD Null deletes the instance. The kind cannot change.
     */
    async patchAttribute(
      tenant: string,
      id: string,
      attrName: string,
      body: unknown,
      ctx: ActiveContext,
    ): Promise<void> {
      const t = now();
      if (attrName === 'scope') throw badRequest('scope is not an attribute: update it through the entity');
      const iri = ctx.expand(attrName);
      if (
        typeof body !== 'object' ||
        body === null ||
        Array.isArray(body) ||
        Object.keys(body).length === 0
      ) {
        throw badRequest('A partial attribute update needs a non-empty JSON object');
      }
      const fragment = body as Record<string, unknown>;
      const datasetId = typeof fragment.datasetId === 'string' ? fragment.datasetId : undefined;
      await mutate({
        tenant,
        id,
        apply(before) {
          const after = clone(before);
          const held = findInstance(after.attrs[iri], datasetId);
          if (!held)
            throw notFound(
              `Entity ${id} has no attribute ${attrName}${datasetId ? ` with datasetId ${datasetId}` : ''}`,
            );
          if (fragment.type !== undefined && fragment.type !== held.type) {
            throw badRequest(
              `Attribute ${attrName} is a ${held.type}; a partial update cannot make it a ${JSON.stringify(fragment.type)}`,
            );
          }
          // The fragment is read as a whole attribute of the held kind: members it lacks come from the held instance.
          const member = VALUE_MEMBER[held.type];
          const whole = { type: held.type, [member]: held[member], ...fragment };
          const [patch] = parseAttributeInstances(attrName, whole, ctx, { now: t, allowNull: true });
          if (!patch) return { result: undefined };
          if (isNullMarker(patch)) {
            setInstances(
              after,
              iri,
              (after.attrs[iri] ?? []).filter((x) => x.datasetId !== datasetId),
            );
          } else {
            after.attrs[iri] = putInstance(after.attrs[iri] ?? [], mergeInstance(held, patch, t, true));
          }
          return { after, result: undefined };
        },
      });
    },

    /** NGSI-LD §5.6.19 Replace Attribute: PUT /entities/{id}/attrs/{attrId}. */
    async replaceAttribute(
      tenant: string,
      id: string,
      attrName: string,
      body: unknown,
      ctx: ActiveContext,
    ): Promise<void> {
      const t = now();
      if (attrName === 'scope') throw badRequest('scope is not an attribute: replace it through the entity');
      const iri = ctx.expand(attrName);
      const instances = parseAttributeInstances(attrName, body, ctx, { now: t });
      await mutate({
        tenant,
        id,
        apply(before) {
          const after = clone(before);
          for (const inst of instances) {
            if (!findInstance(after.attrs[iri], inst.datasetId)) {
              throw notFound(
                `Entity ${id} has no attribute ${attrName}${inst.datasetId ? ` with datasetId ${inst.datasetId}` : ''}`,
              );
            }
            after.attrs[iri] = putInstance(after.attrs[iri] ?? [], inst);
          }
          return { after, result: undefined };
        },
      });
    },

    /** NGSI-LD §5.6.5 Delete Entity Attribute, by datasetId or all instances. */
    async deleteAttribute(
      tenant: string,
      id: string,
      attrName: string,
      ctx: ActiveContext,
      opts: { datasetId?: string; deleteAll?: boolean },
    ): Promise<void> {
      const iri = ctx.expand(attrName);
      await mutate({
        tenant,
        id,
        apply(before) {
          const after = clone(before);
          if (attrName === 'scope') {
            // NGSI-LD §4.18: scope is deleted like an attribute.
            if (!after.scopes || after.scopes.length === 0) throw notFound(`Entity ${id} has no scope`);
            delete after.scopes;
            return { after, result: undefined };
          }
          const list = after.attrs[iri];
          if (!list || list.length === 0) throw notFound(`Entity ${id} has no attribute ${attrName}`);
          let next: StoredAttribute[];
          if (opts.deleteAll) next = [];
          else {
            if (!findInstance(list, opts.datasetId)) {
              throw notFound(
                `Entity ${id} has no instance of ${attrName} ${opts.datasetId ? `with datasetId ${opts.datasetId}` : 'without datasetId'}`,
              );
            }
            next = list.filter((x) => x.datasetId !== opts.datasetId);
          }
          setInstances(after, iri, next);
          return { after, result: undefined };
        },
      });
    },

    /** NGSI-LD §5.6.21 Purge Entities: DELETE /entities with type and/or q. */
    async purge(tenant: string, query: EntityQuery): Promise<number> {
      return write(async (tx, changes) => {
        const deleted = await tx.deleteMatching(tenant, query);
        for (const before of deleted) changes.push({ tenant, id: before.id, kind: 'deleted', before });
        return deleted.length;
      });
    },

    /**
     * Purge with keep/drop (NGSI-LD §5.6.21, v1.9): instead of deleting the matching entities,
     * drop the named attributes, or keep only the named ones.
     */
    async purgeAttributes(
      tenant: string,
      query: EntityQuery,
      opts: { keep?: string[]; drop?: string[] },
    ): Promise<number> {
      return write(async (tx, changes) => {
        let n = 0;
        const t = now();
        // The matches first: dropping attributes can make an entity stop matching the query.
        const ids: string[] = [];
        for (let offset = 0; ; offset += 1000) {
          const page = await tx.queryEntities(tenant, { ...query, limit: 1000, offset, count: false });
          ids.push(...page.entities.map((e) => e.id));
          if (page.entities.length < 1000) break;
        }
        for (let i = 0; i < ids.length; i += 500) {
          const page = {
            entities: [
              ...(await tx.getEntities(tenant, ids.slice(i, i + 500), { forUpdate: true })).values(),
            ],
          };
          for (const before of page.entities) {
            const after = clone(before);
            for (const iri of Object.keys(after.attrs)) {
              const dropIt = opts.drop
                ? opts.drop.includes(iri)
                : opts.keep
                  ? !opts.keep.includes(iri)
                  : false;
              if (dropIt) delete after.attrs[iri];
            }
            if (Object.keys(after.attrs).length === Object.keys(before.attrs).length) continue;
            after.modifiedAt = t;
            await tx.updateEntity(tenant, after);
            changes.push({ tenant, id: after.id, kind: 'updated', before, after });
            n++;
          }
        }
        return n;
      });
    },

    /**
     * Runs a batch in one transaction; `fn` decides per item. A concurrent create of the same id
     * (AlreadyExists from the database) or a deadlock runs the batch again, up to three times.
     */
    async batch<T>(fn: (tx: StoreTx, changes: EntityChange[], now: string) => Promise<T>): Promise<T> {
      for (let attempt = 1; ; attempt++) {
        try {
          return await write((tx, changes) => fn(tx, changes, now()));
        } catch (err) {
          const retry = err instanceof HubError && (err.code === 'AlreadyExists' || err.code === 'Conflict');
          if (!retry || attempt >= 3) throw err;
        }
      }
    },

    now,
  };
}

type Fragment = ReturnType<typeof parseFragment>;

/**
 * Update Entity Attributes (NGSI-LD §5.6.2) on an entity in memory: instances replace the ones
 * with the same datasetId, NGSI-LD Null deletes, types add up, a scope replaces a held scope.
 * `changed` tells whether the entity is to be written.
 */
function applyAttributeUpdate(
  before: StoredEntity,
  frag: Fragment,
): { after: StoredEntity; outcome: AttributeOutcome; changed: boolean } {
  const after = clone(before);
  const outcome: AttributeOutcome = { updated: [], notUpdated: [] };
  if (frag.types) for (const ty of frag.types) if (!after.types.includes(ty)) after.types.push(ty);
  if (frag.scopes) {
    if (after.scopes && after.scopes.length > 0) {
      after.scopes = frag.scopes;
      outcome.updated.push(SCOPE_IRI);
    } else {
      outcome.notUpdated.push({
        attributeName: SCOPE_IRI,
        reason: 'The entity has no scope to update',
      });
    }
  }
  for (const [iri, instances] of Object.entries(frag.attrs)) {
    if (instances === null) {
      if (after.attrs[iri]) {
        delete after.attrs[iri];
        outcome.updated.push(iri);
      } else outcome.notUpdated.push({ attributeName: iri, reason: 'The attribute does not exist' });
      continue;
    }
    let list = after.attrs[iri] ?? [];
    for (const inst of instances) {
      if (isNullMarker(inst)) {
        if (!findInstance(list, inst.datasetId)) {
          outcome.notUpdated.push({ attributeName: iri, reason: 'No such instance to delete' });
          continue;
        }
        list = list.filter((x) => x.datasetId !== inst.datasetId);
      } else {
        list = putInstance(list, inst);
      }
      if (!outcome.updated.includes(iri)) outcome.updated.push(iri);
    }
    setInstances(after, iri, list);
  }
  return { after, outcome, changed: outcome.updated.length > 0 || frag.types !== undefined };
}

/** Update Entity Attributes as a mutation: the entity to write when changed, and the UpdateResult. */
function attributeMutation(
  before: StoredEntity,
  frag: Fragment,
): { after?: StoredEntity; result: AttributeOutcome } {
  const { after, outcome, changed } = applyAttributeUpdate(before, frag);
  return changed ? { after, result: outcome } : { result: outcome };
}

/** Sets an attribute's instances; an attribute left with none is gone. */
function setInstances(e: StoredEntity, iri: string, list: StoredAttribute[]): void {
  if (list.length === 0) delete e.attrs[iri];
  else e.attrs[iri] = list;
}

export function clone(e: StoredEntity): StoredEntity {
  return structuredClone(e);
}

/** Merge-patch semantics (NGSI-LD §5.6.17): null or urn:ngsi-ld:null deletes, objects merge. */
export function mergeInto(
  before: StoredEntity,
  frag: ReturnType<typeof parseFragment>,
  now: string,
  ctx: ActiveContext,
  observedAt?: string,
): StoredEntity {
  const after = clone(before);
  if (frag.types) for (const ty of frag.types) if (!after.types.includes(ty)) after.types.push(ty);
  if (frag.scopes === null) delete after.scopes;
  else if (frag.scopes) after.scopes = frag.scopes;
  for (const [iri, instances] of Object.entries(frag.attrs)) {
    if (instances === null) {
      delete after.attrs[iri];
      continue;
    }
    let list = after.attrs[iri] ?? [];
    for (const inst of instances) {
      if (isNullMarker(inst)) {
        list = list.filter((x) => x.datasetId !== inst.datasetId);
        continue;
      }
      const held = findInstance(list, inst.datasetId);
      const conciseObject = CONCISE_OBJECTS.get(inst);
      let next: StoredAttribute;
      if (held && conciseObject) {
        // {"temperature": {"accuracy": {...}}}: a fragment of the held attribute, its value kept.
        const member = VALUE_MEMBER[held.type];
        const whole = { type: held.type, [member]: held[member], ...conciseObject };
        const [patch] = parseAttributeInstances(ctx.compact(iri), whole, ctx, { now, allowNull: true });
        next = patch ? mergeInstance(held, patch, now, true) : held;
      } else {
        // A concise value reads as a Property: keep the held kind then (a Relationship stays one).
        const explicit = inst.type !== 'Property' || held?.type === 'Property';
        next = held ? mergeInstance(held, inst, now, explicit) : inst;
      }
      if (observedAt !== undefined && next.observedAt === undefined) next.observedAt = observedAt;
      list = putInstance(list, next);
    }
    setInstances(after, iri, list);
  }
  return after;
}
