/**
 * NGSI-LD subscription routes (NGSI-LD §6.10, §6.11): /subscriptions and /subscriptions/{id}; and the
 * platform's view of undelivered notifications: GET /api/v1/notifications, POST
 * /api/v1/notifications/replay.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ActiveContext } from '../core/context/active-context.js';
import { badRequest } from '../core/errors.js';
import { renderSubscription } from '../core/subscription/subscription-output.js';
import type { SubscriptionOwner } from '../core/subscription/subscription-model.js';
import { isPlainObject, isUri } from '../core/validation.js';
import type { SubscriptionService } from '../broker/subscription-service.js';
import type { ContextResolverPort } from '../http/ngsi-request.js';
import { bodyContextValue, linkContextUrl, negotiate, tenantOf, withContext } from '../http/ngsi-request.js';
import { DEFAULT_LIMIT, MAX_LIMIT, optionSet, str, type Params } from './query-options.js';

import { HubError } from '../core/errors.js';
import { guarded, READS, SUBSCRIBES } from '../http/route-access.js';

export interface SubscriptionRouteDeps {
  subscriptions: SubscriptionService;
  contexts: ContextResolverPort;
  /** Who is asking (authentication on); undefined with --auth none. */
  ownerOf?: (req: FastifyRequest) => SubscriptionOwner | undefined;
}

const BASE = '/ngsi-ld/v1/subscriptions';

export function registerSubscriptionRoutes(app: FastifyInstance, deps: SubscriptionRouteDeps): void {
  const { subscriptions, contexts } = deps;
  const ownerOf = (req: FastifyRequest) => deps.ownerOf?.(req);
  const getCtx = async (req: FastifyRequest): Promise<ActiveContext> => contexts.resolve(linkContextUrl(req));
  const now = () => new Date().toISOString();

  /**
   * The outbox of a subscription is its owner's business: others name their own subscription,
   * a system administrator may look at all.
   */
  async function mustOwn(
    req: FastifyRequest,
    tenant: string,
    subscriptionId: string | undefined,
  ): Promise<void> {
    const caller = ownerOf(req);
    if (!caller || caller.roles.includes('system-administrator')) return;
    if (subscriptionId === undefined)
      throw new HubError('Forbidden', 'Name one of your subscriptions (subscriptionId)');
    await subscriptions.retrieve(tenant, subscriptionId, caller);
  }

  app.post(BASE, guarded(SUBSCRIBES, []), async (req, reply) => {
    const tenant = tenantOf(req);
    const ctx = await contexts.resolve(bodyContextValue(req, req.body));
    const id = await subscriptions.create(tenant, req.body, ctx, ownerOf(req));
    return reply
      .code(201)
      .header('Location', `${BASE}/${encodeURIComponent(id)}`)
      .send();
  });

  app.get(BASE, guarded(READS, ['limit', 'offset', 'count', 'options']), async (req, reply) => {
    const tenant = tenantOf(req);
    const media = negotiate(req, false);
    const ctx = await getCtx(req);
    const p = req.query as Params;
    const limit = pageInt(p, 'limit', DEFAULT_LIMIT);
    const offset = pageInt(p, 'offset', 0);
    if (limit > MAX_LIMIT)
      throw new HubError('TooManyResults', `limit ${limit} is above the maximum ${MAX_LIMIT}`);
    const count = str(p, 'count');
    if (count !== undefined && count !== 'true' && count !== 'false')
      throw badRequest('count must be true or false');
    if (limit === 0 && count !== 'true') throw badRequest('limit=0 is only allowed with count=true');
    const sysAttrs = optionSet(p, ['sysAttrs']).has('sysAttrs');
    const page = await subscriptions.list(tenant, limit, offset, ownerOf(req));
    if (count === 'true') void reply.header('NGSILD-Results-Count', String(page.count));
    const links: string[] = [];
    const pageUrl = (o: number) => `${BASE}?limit=${limit}&offset=${o}`;
    if (offset > 0) links.push(`<${pageUrl(Math.max(0, offset - limit))}>;rel="prev";type="${media}"`);
    if (offset + page.items.length < page.count)
      links.push(`<${pageUrl(offset + limit)}>;rel="next";type="${media}"`);
    const t = now();
    const body = page.items.map((s) => renderSubscription(s.sub, s.state, ctx, { sysAttrs, now: t }));
    const out = withContext(reply, media, ctx, body);
    if (links.length > 0)
      void reply.header('Link', [reply.getHeader('Link'), ...links].filter(Boolean).join(', '));
    return out;
  });

  app.get(`${BASE}/:id`, guarded(READS, ['options']), async (req, reply) => {
    const tenant = tenantOf(req);
    const media = negotiate(req, false);
    const ctx = await getCtx(req);
    const { id } = req.params as { id: string };
    const sysAttrs = optionSet(req.query as Params, ['sysAttrs']).has('sysAttrs');
    const s = await subscriptions.retrieve(tenant, id, ownerOf(req));
    return withContext(reply, media, ctx, renderSubscription(s.sub, s.state, ctx, { sysAttrs, now: now() }));
  });

  app.patch(`${BASE}/:id`, guarded(SUBSCRIBES, []), async (req, reply) => {
    const tenant = tenantOf(req);
    const ctx = await contexts.resolve(bodyContextValue(req, req.body));
    const { id } = req.params as { id: string };
    await subscriptions.update(tenant, id, req.body, ctx, ownerOf(req));
    return reply.code(204).send();
  });

  for (const method of ['PATCH', 'DELETE'] as const) {
    app.route({
      method,
      url: `${BASE}/`,
      ...guarded(SUBSCRIBES),
      handler: () => {
        throw new HubError('MethodNotAllowed', `${method} needs a subscription id: ${BASE}/{id}`);
      },
    });
  }

  app.delete(`${BASE}/:id`, guarded(SUBSCRIBES, []), async (req, reply) => {
    const tenant = tenantOf(req);
    const { id } = req.params as { id: string };
    await subscriptions.delete(tenant, id, ownerOf(req));
    return reply.code(204).send();
  });

  // Platform API: notifications not delivered yet (pending, retrying) or given up (failed).
  app.get(
    '/api/v1/notifications',
    guarded(READS, ['subscriptionId', 'state', 'limit', 'offset']),
    async (req) => {
      const tenant = tenantOf(req);
      const p = req.query as Params;
      const state = str(p, 'state');
      if (state !== undefined && state !== 'pending' && state !== 'failed')
        throw badRequest('state must be pending or failed');
      const subscriptionId = str(p, 'subscriptionId');
      if (subscriptionId !== undefined && !isUri(subscriptionId))
        throw badRequest('subscriptionId must be a URI');
      const limit = pageInt(p, 'limit', 100);
      if (limit > MAX_LIMIT)
        throw new HubError('TooManyResults', `limit ${limit} is above the maximum ${MAX_LIMIT}`);
      // Endpoints and entity ids of others' notifications are theirs: name one of your subscriptions.
      await mustOwn(req, tenant, subscriptionId);
      return subscriptions.listUndelivered(tenant, {
        ...(subscriptionId === undefined ? {} : { subscriptionId }),
        ...(state === undefined ? {} : { state }),
        limit,
        offset: pageInt(p, 'offset', 0),
      });
    },
  );

  app.post(
    '/api/v1/notifications/replay',
    guarded({ who: 'data', action: 'read', audit: 'notification.replay' }, []),
    async (req) => {
      const tenant = tenantOf(req);
      const body = req.body ?? {};
      if (!isPlainObject(body)) throw badRequest('The body must be an object: {subscriptionId?, seqs?}');
      const opts: { subscriptionId?: string; seqs?: string[] } = {};
      if (body.subscriptionId !== undefined) {
        if (!isUri(body.subscriptionId)) throw badRequest('subscriptionId must be a URI');
        opts.subscriptionId = body.subscriptionId;
      }
      if (body.seqs !== undefined) {
        if (
          !Array.isArray(body.seqs) ||
          body.seqs.some((s) => typeof s !== 'string' || !/^\d{1,18}$/.test(s))
        )
          throw badRequest('seqs must be a list of notification sequence numbers (strings of digits)');
        opts.seqs = body.seqs as string[];
      }
      if (opts.subscriptionId === undefined && opts.seqs === undefined)
        throw badRequest('Name what to replay: subscriptionId, seqs, or both');
      await mustOwn(req, tenant, opts.subscriptionId);
      return { replayed: await subscriptions.replay(tenant, opts) };
    },
  );
}

function pageInt(p: Params, name: string, dflt: number): number {
  const v = str(p, name);
  if (v === undefined) return dflt;
  if (!/^\d{1,9}$/.test(v)) throw badRequest(`${name} must be a whole number of at least 0`);
  return Number(v);
}
