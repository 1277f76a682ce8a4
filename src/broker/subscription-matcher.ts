/**
 * Turns committed-to-be entity changes into outbox rows, inside the write's transaction: the
 * subscriptions of the tenant (cached, and checked against the database's generation counter in
 * every write, so that a subscription made on another instance is never missed), their selectors
 * and triggers in code, q and scopeQ by the database against the changed entity, geoQ in code.
 */
import { randomUUID } from 'node:crypto';
import type { ActiveContext } from '../core/context/active-context.js';
import { CORE_CONTEXT_URL } from '../core/context/core-context.js';
import type { StoredEntity } from '../core/entity-model.js';
import { matchesGeoQuery, type GeoJsonGeometry, type GeoQuery } from '../core/geo/geometry.js';
import { parseGeoQuery } from '../core/geo/geo-query.js';
import { parseQ, type QExpr } from '../core/query/q-parser.js';
import { parseScopeQ, type ScopeExpr } from '../core/query/scope-query.js';
import { parseTypeExpr, type TypeExpr } from '../core/query/type-expr.js';
import type { EntityQuery, EntitySelector, StoreTx } from '../core/store.js';
import { matchesTypeExpr, triggerFor, type TriggerResult } from '../core/subscription/change-trigger.js';
import { notificationEntity, notificationRenderOptions } from '../core/subscription/notification-content.js';
import { statusOf, type Subscription } from '../core/subscription/subscription-model.js';
import type {
  FilterCheck,
  OutboxEntry,
  EntityView,
  OwnerViews,
  SubscriptionStore,
} from '../core/subscription/subscription-store.js';
import { renderEntity, type RenderOptions } from '../core/entity-output.js';
import type { EntityChange } from './entity-service.js';

/** A subscription made ready to match: parsed filters and resolved contexts. */
export interface CompiledSubscription {
  sub: Subscription;
  selectors: { ids?: Set<string>; idPattern?: RegExp; type?: TypeExpr }[] | undefined;
  q?: QExpr;
  scopeQ?: ScopeExpr;
  geo?: { query: GeoQuery; geoPropertyIri: string };
  /** Expands q's terms: the subscription's own @context. */
  ctx: ActiveContext;
  /** Compacts notifications: jsonldContext, else the subscription's @context. */
  notifyCtx: ActiveContext;
  notifyContext: unknown;
  ro: RenderOptions;
}

export interface MatcherDeps {
  subscriptions: SubscriptionStore;
  /** With authentication on: what each owner may see; its notifications carry only that. */
  views?: OwnerViews;
  resolve: (contextValue: unknown) => Promise<ActiveContext>;
  onError?: (err: unknown, sub: Subscription) => void;
}

/** Compiles a stored subscription; its @contexts were checked when it was created. */
export async function compileSubscription(
  sub: Subscription,
  resolve: (v: unknown) => Promise<ActiveContext>,
): Promise<CompiledSubscription> {
  const ctx = await resolve(sub.context);
  const notifyContext = sub.jsonldContext ?? sub.context ?? CORE_CONTEXT_URL;
  const notifyCtx = sub.jsonldContext === undefined ? ctx : await resolve(sub.jsonldContext);
  const c: CompiledSubscription = {
    sub,
    selectors: sub.entities?.map((e) => {
      const s: { ids?: Set<string>; idPattern?: RegExp; type?: TypeExpr } = {};
      if (e.id !== undefined) s.ids = new Set([e.id]);
      if (e.idPattern !== undefined) s.idPattern = new RegExp(e.idPattern);
      if (e.type !== undefined) s.type = parseTypeExpr(e.type);
      return s;
    }),
    ctx,
    notifyCtx,
    notifyContext,
    ro: notificationRenderOptions(sub),
  };
  if (sub.q !== undefined) c.q = parseQ(sub.q);
  if (sub.scopeQ !== undefined) c.scopeQ = parseScopeQ(sub.scopeQ);
  if (sub.geoQ) {
    const g = parseGeoQuery({ ...sub.geoQ });
    if (g) c.geo = { query: g, geoPropertyIri: sub.geoQ.geoproperty ?? ctx.expand('location') };
  }
  return c;
}

/** The entity query a subscription stands for (periodic notifications run it). */
export function subscriptionQuery(c: CompiledSubscription, limit: number): EntityQuery {
  const q: EntityQuery = { limit, offset: 0, count: false };
  if (c.selectors) {
    q.anyOf = c.selectors.map((s) => {
      const sel: EntitySelector = {};
      if (s.ids) sel.ids = [...s.ids];
      if (s.idPattern) sel.idPattern = s.idPattern.source;
      if (s.type) sel.type = s.type;
      return sel;
    });
  }
  if (c.q) q.q = { expr: c.q, expandAttr: (t) => c.ctx.expand(t), expandValue: (t) => c.ctx.expand(t) };
  if (c.scopeQ) q.scopeQ = c.scopeQ;
  if (c.geo) q.geo = c.geo;
  if (c.sub.watchedAttributes) q.withAnyAttr = c.sub.watchedAttributes;
  return q;
}

function selected(c: CompiledSubscription, e: StoredEntity): boolean {
  if (!c.selectors) return true;
  return c.selectors.some(
    (s) =>
      (!s.ids || s.ids.has(e.id)) &&
      (!s.idPattern || s.idPattern.test(e.id)) &&
      (!s.type || matchesTypeExpr(s.type, e.types)),
  );
}

function geoMatches(c: CompiledSubscription, e: StoredEntity): boolean {
  const geo = c.geo;
  if (!geo) return true;
  return (e.attrs[geo.geoPropertyIri] ?? []).some(
    (i) => i.type === 'GeoProperty' && matchesGeoQuery(geo.query, i.value as GeoJsonGeometry),
  );
}

export function createSubscriptionMatcher(deps: MatcherDeps) {
  const cache = new Map<string, { generation: number; subs: CompiledSubscription[] }>();
  const loading = new Map<string, Promise<{ generation: number; subs: CompiledSubscription[] }>>();

  async function load(tenant: string) {
    const { generation, subs } = await deps.subscriptions.loadTenant(tenant);
    const compiled: CompiledSubscription[] = [];
    for (const sub of subs) {
      try {
        compiled.push(await compileSubscription(sub, deps.resolve));
      } catch (err) {
        // A subscription whose @context cannot be loaded any more stays stored but cannot match.
        deps.onError?.(err, sub);
      }
    }
    const entry = { generation, subs: compiled };
    cache.set(tenant, entry);
    return entry;
  }

  async function subscriptionsAt(tenant: string, generation: number) {
    const held = cache.get(tenant);
    if (held && held.generation === generation) return held.subs;
    let p = loading.get(tenant);
    if (!p) {
      p = load(tenant).finally(() => loading.delete(tenant));
      loading.set(tenant, p);
    }
    return (await p).subs;
  }

  return {
    /** Drops a tenant's cached list (a subscription changed). */
    invalidate(tenant: string): void {
      cache.delete(tenant);
    },

    /** The transaction hook: writes the outbox rows for `changes`. */
    async enqueueFor(tx: StoreTx, changes: EntityChange[], now: string): Promise<void> {
      const byTenant = new Map<string, EntityChange[]>();
      for (const ch of changes) {
        const list = byTenant.get(ch.tenant) ?? [];
        list.push(ch);
        byTenant.set(ch.tenant, list);
      }
      for (const [tenant, list] of byTenant) {
        const generation = await tx.outbox.generation(tenant);
        if (generation === 0) continue; // the tenant never had a subscription
        const subs = await subscriptionsAt(tenant, generation);
        if (subs.length === 0) continue;
        await enqueueTenant(tx, tenant, list, subs, now);
      }
    },
  };

  async function enqueueTenant(
    tx: StoreTx,
    tenant: string,
    changes: EntityChange[],
    subs: CompiledSubscription[],
    now: string,
  ): Promise<void> {
    const hits: {
      c: CompiledSubscription;
      change: EntityChange;
      fired: TriggerResult;
      entity: StoredEntity;
      view: EntityView | undefined;
    }[] = [];
    for (const change of changes) {
      const entity = change.after ?? change.before;
      if (!entity) continue;
      for (const c of subs) {
        if (c.sub.timeInterval !== undefined || statusOf(c.sub, now) !== 'active') continue;
        if (!selected(c, entity)) continue;
        // The owner's view: what it may not read neither fires nor travels.
        let seen = change;
        let view: EntityView | undefined;
        if (c.sub.owner && deps.views) {
          view = await deps.views(c.sub.owner, tenant);
          if (!view?.allows(entity)) continue;
          seen = {
            ...change,
            ...(change.before ? { before: view.project(change.before) } : {}),
            ...(change.after ? { after: view.project(change.after) } : {}),
          };
        }
        const visible = seen.after ?? seen.before ?? entity;
        const fired = triggerFor(c.sub, seen);
        if (!fired || !geoMatches(c, visible)) continue;
        hits.push({ c, change: seen, fired, entity: visible, view });
      }
    }
    if (hits.length === 0) return;
    const checks: FilterCheck[] = [];
    const checkIndex: number[] = [];
    hits.forEach((h, i) => {
      if (!h.c.q && !h.c.scopeQ) return;
      const check: FilterCheck = { attrs: h.entity.attrs, scopes: h.entity.scopes };
      if (h.c.q) {
        const ctx = h.c.ctx;
        check.q = { expr: h.c.q, expandAttr: (t) => ctx.expand(t), expandValue: (t) => ctx.expand(t) };
      }
      if (h.c.scopeQ) check.scopeQ = h.c.scopeQ;
      checkIndex[i] = checks.push(check) - 1;
    });
    const passed = await tx.outbox.matchFilters(tenant, checks);
    const entries: OutboxEntry[] = [];
    for (const [i, h] of hits.entries()) {
      const k = checkIndex[i];
      if (k !== undefined && !passed[k]) continue;
      const sub = h.c.sub;
      if (sub.throttling !== undefined && !(await tx.outbox.throttle(tenant, sub.id, sub.throttling, now)))
        continue;
      const at = h.change.kind === 'deleted' ? now : (h.change.after?.modifiedAt ?? now);
      const join = sub.notification.join;
      const linked =
        (join === 'flat' || join === 'inline') && h.change.after
          ? await linkedEntities(tx, tenant, h.change.after, h.c.ro, h.view)
          : undefined;
      const targetRo: RenderOptions = { format: h.c.ro.format, sysAttrs: h.c.ro.sysAttrs };
      const ro: RenderOptions =
        join === 'inline' && linked
          ? {
              ...h.c.ro,
              inline: (id) => {
                const t = linked.get(id);
                return t ? renderEntity(t, h.c.notifyCtx, targetRo) : undefined;
              },
            }
          : h.c.ro;
      const data = [notificationEntity(sub, h.change, h.fired, h.c.notifyCtx, ro, at)];
      // join=flat (NGSI-LD §4.5.23): the targets travel as entities of their own beside it.
      if (join === 'flat' && linked)
        for (const t of linked.values()) data.push(renderEntity(t, h.c.notifyCtx, targetRo));
      entries.push({
        tenant,
        subscriptionId: sub.id,
        notificationId: `urn:ngsi-ld:Notification:${randomUUID()}`,
        orderKey: h.entity.id,
        endpoint: sub.notification.endpoint.uri,
        payload: { data, context: h.c.notifyContext, trigger: h.fired.trigger },
      });
    }
    await tx.outbox.enqueue(entries);
  }
}

/** The entities an entity's relationships (in the notified attributes) point to, one level deep. */
async function linkedEntities(
  tx: StoreTx,
  tenant: string,
  e: StoredEntity,
  ro: RenderOptions,
  view: EntityView | undefined,
): Promise<Map<string, StoredEntity>> {
  const ids = new Set<string>();
  for (const [iri, list] of Object.entries(e.attrs)) {
    if ((ro.only && !ro.only.has(iri)) || ro.omit?.has(iri)) continue;
    for (const inst of list) {
      if (inst.type === 'Relationship' && inst.object !== undefined)
        for (const o of Array.isArray(inst.object) ? inst.object : [inst.object]) ids.add(o);
      if (inst.type === 'ListRelationship') for (const o of inst.objectList ?? []) ids.add(o);
    }
  }
  ids.delete(e.id);
  if (ids.size === 0) return new Map();
  const found = await tx.getEntities(tenant, [...ids]);
  if (!view) return found;
  // Linked entities travel under the owner's view too.
  const seen = new Map<string, StoredEntity>();
  for (const [id, t] of found) if (view.allows(t)) seen.set(id, view.project(t));
  return seen;
}

export type SubscriptionMatcher = ReturnType<typeof createSubscriptionMatcher>;
