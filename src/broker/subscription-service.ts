/**
 * NGSI-LD subscription operations (NGSI-LD §5.8.1-5.8.5): create, retrieve, query, update, delete.
 * Matching and the outbox are in subscription-matcher.ts, delivery in notification-dispatcher.ts.
 */
import { randomUUID } from 'node:crypto';
import type { ActiveContext } from '../core/context/active-context.js';
import { HubError, badRequest, notFound } from '../core/errors.js';
import { isUri } from '../core/validation.js';
import { checkSubscription, parseSubscriptionMembers } from '../core/subscription/subscription-input.js';
import type { Subscription, SubscriptionOwner } from '../core/subscription/subscription-model.js';
import type {
  FilterCheck,
  StoredSubscription,
  SubscriptionStore,
} from '../core/subscription/subscription-store.js';
import type { EntityQuery } from '../core/store.js';
import { compileSubscription, subscriptionQuery } from './subscription-matcher.js';

export interface SubscriptionServiceDeps {
  subscriptions: SubscriptionStore;
  resolve: (contextValue: unknown) => Promise<ActiveContext>;
  /** Told when this instance changed a tenant's subscriptions. */
  onChanged?: (tenant: string) => void;
  /** Checks the subscription's query against the requester's access (throws Forbidden). */
  checkFilters?: (tenant: string, query: EntityQuery) => Promise<void>;
  clock?: () => Date;
}

export function createSubscriptionService(deps: SubscriptionServiceDeps) {
  const now = () => (deps.clock ?? (() => new Date()))().toISOString();
  const store = deps.subscriptions;

  /**
   * A subscription as the caller may see it: with authentication on, only its owner or a system
   * administrator; to anyone else it does not exist (no hint that someone else watches this).
   */
  async function mustGet(
    tenant: string,
    id: string,
    caller?: SubscriptionOwner,
  ): Promise<StoredSubscription> {
    if (!isUri(id)) throw badRequest(`Subscription id ${JSON.stringify(id)} is not a URI`);
    const s = await store.get(tenant, id);
    if (!s || !mayManage(caller, s.sub)) throw notFound(`Subscription ${id} does not exist`, id);
    return s;
  }

  /** Checks that the subscription can be compiled: its @contexts load, its filters parse. */
  async function checkCompiles(tenant: string, sub: Subscription): Promise<void> {
    try {
      const c = await compileSubscription(sub, deps.resolve);
      await deps.checkFilters?.(tenant, subscriptionQuery(c, 0));
      if (c.q || c.scopeQ) {
        const check: FilterCheck = { attrs: {}, scopes: [] };
        if (c.q)
          check.q = { expr: c.q, expandAttr: (t) => c.ctx.expand(t), expandValue: (t) => c.ctx.expand(t) };
        if (c.scopeQ) check.scopeQ = c.scopeQ;
        await store.tryFilters('', [check]);
      }
    } catch (err) {
      if (err instanceof HubError && err.code !== 'InvalidRequest') throw err;
      throw badRequest(`The subscription cannot be used: ${(err as Error).message}`, err);
    }
  }

  return {
    /** NGSI-LD §5.8.1 Create Subscription; returns the id. */
    async create(
      tenant: string,
      body: unknown,
      ctx: ActiveContext,
      owner?: SubscriptionOwner,
    ): Promise<string> {
      const t = now();
      const members = parseSubscriptionMembers(body, ctx, 'create');
      const sub = {
        ...members,
        id: members.id ?? `urn:ngsi-ld:Subscription:${randomUUID()}`,
        context: ctx.source ?? null,
        ...(owner ? { owner } : {}),
        createdAt: t,
        modifiedAt: t,
      } as Subscription;
      checkSubscription(sub, t, true);
      await checkCompiles(tenant, sub);
      await store.create(tenant, sub);
      deps.onChanged?.(tenant);
      return sub.id;
    },

    /** NGSI-LD §5.8.3 Retrieve Subscription. */
    retrieve: mustGet,

    /** NGSI-LD §5.8.4 Query Subscriptions: the caller's own (all for a system administrator). */
    list(tenant: string, limit: number, offset: number, caller?: SubscriptionOwner) {
      const all = !caller || caller.roles.includes('system-administrator');
      return store.list(tenant, limit, offset, all ? undefined : caller.id);
    },

    /** NGSI-LD §5.8.2 Update Subscription: members of the fragment replace, null removes. */
    async update(
      tenant: string,
      id: string,
      body: unknown,
      ctx: ActiveContext,
      caller?: SubscriptionOwner,
    ): Promise<void> {
      const held = await mustGet(tenant, id, caller);
      const patch = parseSubscriptionMembers(body, ctx, 'update');
      if (patch.owner !== undefined) delete patch.owner;
      if (patch.id !== undefined && patch.id !== id)
        throw badRequest('The id of a subscription cannot change');
      const next: Record<string, unknown> = { ...held.sub };
      for (const [k, v] of Object.entries(patch)) {
        if (v === null) {
          if (k === 'notification' || k === 'id') throw badRequest(`${k} is mandatory and cannot be removed`);
          delete next[k];
        } else next[k] = v;
      }
      if (Object.keys(patch).length === 0) throw badRequest('The fragment changes nothing');
      const t = now();
      next.modifiedAt = t;
      // The members a fragment brings in are expanded with the fragment's context; q keeps its terms and
      // is expanded with the subscription's own context, so a fragment with q brings its context along.
      if (patch.q !== undefined || patch.entities !== undefined)
        next.context = ctx.source ?? held.sub.context;
      const sub = next as unknown as Subscription;
      checkSubscription(sub, t, patch.expiresAt !== undefined && patch.expiresAt !== null);
      await checkCompiles(tenant, sub);
      if (!(await store.replace(tenant, sub))) throw notFound(`Subscription ${id} does not exist`, id);
      deps.onChanged?.(tenant);
    },

    /** NGSI-LD §5.8.5 Delete Subscription. */
    async delete(tenant: string, id: string, caller?: SubscriptionOwner): Promise<void> {
      if (caller) await mustGet(tenant, id, caller);
      if (!isUri(id)) throw badRequest(`Subscription id ${JSON.stringify(id)} is not a URI`);
      if (!(await store.delete(tenant, id))) throw notFound(`Subscription ${id} does not exist`, id);
      deps.onChanged?.(tenant);
    },

    listUndelivered: store.listUndelivered.bind(store),
    replay: store.replay.bind(store),
  };
}

function mayManage(caller: SubscriptionOwner | undefined, sub: Subscription): boolean {
  if (!caller) return true; // authentication off
  return caller.roles.includes('system-administrator') || sub.owner?.id === caller.id;
}

export type SubscriptionService = ReturnType<typeof createSubscriptionService>;
