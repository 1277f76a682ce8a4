/**
 * NGSI-LD entity and attribute routes (NGSI-LD §6.4-6.7): /entities, /entities/{id},
 * /entities/{id}/attrs, /entities/{id}/attrs/{attrId}.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ActiveContext } from '../core/context/active-context.js';
import type { StoredEntity } from '../core/entity-model.js';
import { renderEntity, renderFeature } from '../core/entity-output.js';
import type { RenderOptions } from '../core/entity-output.js';
import { HubError, badRequest } from '../core/errors.js';
import type { EntityQuery } from '../core/store.js';
import { isDateTime, isUri, isValidName } from '../core/validation.js';
import type { EntityService } from '../broker/entity-service.js';
import type { ContextResolverPort, ResponseMedia } from '../http/ngsi-request.js';
import {
  bodyContextValue,
  contextHeaders,
  linkContextUrl,
  negotiate,
  tenantOf,
  withContext,
} from '../http/ngsi-request.js';
import type { Params } from './query-options.js';
import { entityQueryOf, list, optionSet, renderOptionsOf, str } from './query-options.js';
import type { TenantGuard } from './tenant-guard.js';
import { PARAMS } from './route-params.js';
import { renderWithJoin } from './linked-entities.js';
import { guarded, READS, WRITES_ENTITIES } from '../http/route-access.js';

export interface EntityRouteDeps {
  entities: EntityService;
  contexts: ContextResolverPort;
  tenants: TenantGuard;
}

const BASE = '/ngsi-ld/v1';

export function registerEntityRoutes(app: FastifyInstance, deps: EntityRouteDeps): void {
  const { entities, contexts, tenants } = deps;
  const answers = renderedAnswers();

  const getCtx = async (req: FastifyRequest): Promise<ActiveContext> => contexts.resolve(linkContextUrl(req));
  const bodyCtx = async (req: FastifyRequest): Promise<ActiveContext> =>
    contexts.resolve(bodyContextValue(req, req.body));

  app.post(`${BASE}/entities`, guarded(WRITES_ENTITIES, PARAMS.createEntity), async (req, reply) => {
    const tenant = tenantOf(req);
    const ctx = await bodyCtx(req);
    const e = await entities.create(tenant, req.body, ctx);
    return reply
      .code(201)
      .header('Location', `${BASE}/entities/${locationId(e.id)}`)
      .send();
  });

  app.get(`${BASE}/entities`, guarded(READS, PARAMS.queryEntities), async (req, reply) => {
    const tenant = tenantOf(req);
    const media = negotiate(req, true);
    const ctx = await getCtx(req);
    const p = req.query as Params;
    const query = entityQueryOf(p, ctx, { requireFilter: true, pagination: true });
    const ro = renderOptionsOf(p, ctx);
    await tenants.mustExistForRead(tenant);
    const result = await entities.query(tenant, query);
    const joined = await renderWithJoin(p, (ids) => entities.getMany(tenant, ids), result.entities, ctx, ro);
    return sendList(req, reply, media, ctx, result.entities, ro, p, query, result.count, joined?.bodies);
  });

  app.delete(`${BASE}/entities`, guarded(WRITES_ENTITIES, PARAMS.purgeEntities), async (req, reply) => {
    const tenant = tenantOf(req);
    const ctx = await getCtx(req);
    const p = req.query as Params;
    if (
      str(p, 'local') !== 'true' &&
      str(p, 'type') === undefined &&
      str(p, 'q') === undefined &&
      str(p, 'id') === undefined &&
      str(p, 'idPattern') === undefined
    ) {
      throw badRequest('Purging entities needs type, q, id or idPattern (or local=true for all)');
    }
    const query = entityQueryOf(p, ctx, { requireFilter: false, pagination: false });
    const keep = list(p, 'keep');
    const drop = list(p, 'drop');
    if (keep && drop) throw badRequest('keep and drop cannot be used together');
    await tenants.mustExistForRead(tenant);
    if (keep || drop) {
      await entities.purgeAttributes(
        tenant,
        { ...query, limit: 500, offset: 0 },
        {
          ...(keep ? { keep: keep.map((n) => ctx.expand(n)) } : {}),
          ...(drop ? { drop: drop.map((n) => ctx.expand(n)) } : {}),
        },
      );
    } else {
      await entities.purge(tenant, { ...query, limit: 1000, offset: 0 });
    }
    return reply.code(204).send();
  });

  app.get(`${BASE}/entities/:entityId`, guarded(READS, PARAMS.retrieveEntity), async (req, reply) => {
    const tenant = tenantOf(req);
    const id = entityIdParam(req);
    const media = negotiate(req, true);
    const ctx = await getCtx(req);
    const p = req.query as Params;
    const ro = renderOptionsOf(p, ctx);
    await tenants.mustExistForRead(tenant);
    const e = await entities.retrieve(tenant, id);
    // NGSI-LD §5.7.1: asking for attributes the entity does not have finds nothing.
    if (ro.only && ro.only.size > 0 && ![...ro.only].some((iri) => iri in e.attrs)) {
      throw new HubError('ResourceNotFound', `Entity ${id} has none of the requested attributes`, {
        instance: id,
      });
    }
    if (media === 'application/geo+json') {
      const geoIri = ctx.expand(str(p, 'geometryProperty') ?? 'location');
      return withContext(reply, media, ctx, renderFeature(e, ctx, ro, geoIri));
    }
    const joined = await renderWithJoin(p, (ids) => entities.getMany(tenant, ids), [e], ctx, ro);
    if (joined) {
      const { join, bodies } = joined;
      // Flat with nothing linked is just the entity.
      return withContext(reply, media, ctx, join.mode === 'flat' && bodies.length > 1 ? bodies : bodies[0]);
    }
    const key = `${media} ${req.url.slice(req.url.indexOf('?') + 1 || req.url.length)}`;
    const known = answers.get(e, ctx, key);
    if (known !== undefined) {
      contextHeaders(reply, media, ctx);
      return reply.send(known);
    }
    const body = renderEntity(e, ctx, ro);
    // NGSI-LD §4.21: a projection that leaves nothing finds nothing.
    if (Object.keys(body).length === 0)
      throw new HubError('ResourceNotFound', `Nothing of entity ${id} is left after pick/omit`, {
        instance: id,
      });
    const text = JSON.stringify(withContext(reply, media, ctx, body));
    answers.set(e, ctx, key, text);
    return reply.send(text);
  });

  app.put(`${BASE}/entities/:entityId`, guarded(WRITES_ENTITIES, PARAMS.writeEntity), async (req, reply) => {
    const tenant = tenantOf(req);
    const id = entityIdParam(req);
    const ctx = await bodyCtx(req);
    await tenants.mustExistForRead(tenant);
    await entities.replace(tenant, id, req.body, ctx);
    return reply.code(204).send();
  });

  app.patch(
    `${BASE}/entities/:entityId`,
    guarded(WRITES_ENTITIES, PARAMS.writeEntity),
    async (req, reply) => {
      const tenant = tenantOf(req);
      const id = entityIdParam(req);
      const ctx = await bodyCtx(req);
      const p = req.query as Params;
      const observedAtRaw = str(p, 'observedAt');
      if (observedAtRaw !== undefined && !isDateTime(observedAtRaw))
        throw badRequest('observedAt must be an ISO 8601 date-time');
      const observedAt = observedAtRaw === undefined ? undefined : new Date(observedAtRaw).toISOString();
      await tenants.mustExistForRead(tenant);
      await entities.merge(tenant, id, req.body, ctx, observedAt === undefined ? {} : { observedAt });
      return reply.code(204).send();
    },
  );

  app.delete(
    `${BASE}/entities/:entityId`,
    guarded(WRITES_ENTITIES, PARAMS.writeEntity),
    async (req, reply) => {
      const tenant = tenantOf(req);
      const id = entityIdParam(req);
      await tenants.mustExistForRead(tenant);
      await entities.delete(tenant, id);
      return reply.code(204).send();
    },
  );

  // An empty id in the path (PUT/PATCH /entities/) is a bad request, not an unknown route.
  for (const method of ['PUT', 'PATCH'] as const) {
    app.route({
      method,
      url: `${BASE}/entities`,
      ...guarded(WRITES_ENTITIES),
      handler: () => Promise.reject(badRequest('The entity id is missing from the path')),
    });
  }

  app.delete(`${BASE}/entities/:entityId/attrs`, guarded(WRITES_ENTITIES), () =>
    Promise.reject(
      new HubError('MethodNotAllowed', 'DELETE needs an attribute name: /entities/{id}/attrs/{attrId}'),
    ),
  );

  app.post(
    `${BASE}/entities/:entityId/attrs`,
    guarded(WRITES_ENTITIES, PARAMS.writeAttrs),
    async (req, reply) => {
      const tenant = tenantOf(req);
      const id = entityIdParam(req);
      const ctx = await bodyCtx(req);
      const noOverwrite = optionSet(req.query as Params, ['noOverwrite']).has('noOverwrite');
      await tenants.mustExistForRead(tenant);
      const outcome = await entities.appendAttributes(tenant, id, req.body, ctx, noOverwrite);
      if (outcome.notUpdated.length === 0) return reply.code(204).send();
      return reply.code(207).send(outcome);
    },
  );

  app.patch(
    `${BASE}/entities/:entityId/attrs`,
    guarded(WRITES_ENTITIES, PARAMS.writeAttrs),
    async (req, reply) => {
      const tenant = tenantOf(req);
      const id = entityIdParam(req);
      const ctx = await bodyCtx(req);
      await tenants.mustExistForRead(tenant);
      const outcome = await entities.updateAttributes(tenant, id, req.body, ctx);
      if (outcome.notUpdated.length === 0) return reply.code(204).send();
      return reply.code(207).send(outcome);
    },
  );

  app.patch(
    `${BASE}/entities/:entityId/attrs/:attrId`,
    guarded(WRITES_ENTITIES, PARAMS.writeAttrs),
    async (req, reply) => {
      const tenant = tenantOf(req);
      const id = entityIdParam(req);
      const attr = attrParam(req);
      const ctx = await bodyCtx(req);
      await tenants.mustExistForRead(tenant);
      await entities.patchAttribute(tenant, id, attr, stripContext(req.body), ctx);
      return reply.code(204).send();
    },
  );

  app.put(
    `${BASE}/entities/:entityId/attrs/:attrId`,
    guarded(WRITES_ENTITIES, PARAMS.writeAttrs),
    async (req, reply) => {
      const tenant = tenantOf(req);
      const id = entityIdParam(req);
      const attr = attrParam(req);
      const ctx = await bodyCtx(req);
      await tenants.mustExistForRead(tenant);
      await entities.replaceAttribute(tenant, id, attr, stripContext(req.body), ctx);
      return reply.code(204).send();
    },
  );

  app.delete(
    `${BASE}/entities/:entityId/attrs/:attrId`,
    guarded(WRITES_ENTITIES, PARAMS.deleteAttr),
    async (req, reply) => {
      const tenant = tenantOf(req);
      const id = entityIdParam(req);
      const attr = attrParam(req);
      const ctx = await getCtx(req);
      const p = req.query as Params;
      const datasetId = str(p, 'datasetId');
      if (datasetId !== undefined && !isUri(datasetId)) throw badRequest('datasetId must be a URI');
      const deleteAll = str(p, 'deleteAll');
      if (deleteAll !== undefined && deleteAll !== 'true' && deleteAll !== 'false')
        throw badRequest('deleteAll must be true or false');
      await tenants.mustExistForRead(tenant);
      await entities.deleteAttribute(tenant, id, attr, ctx, {
        ...(datasetId === undefined ? {} : { datasetId }),
        deleteAll: deleteAll === 'true',
      });
      return reply.code(204).send();
    },
  );
}

/** Keeps the URI readable in Location (NGSI-LD clients compare it with the id): only / ? # % and spaces are escaped. */
function locationId(id: string): string {
  return id.replace(/[/?#%\s]/g, (c) => encodeURIComponent(c));
}

function stripContext(body: unknown): unknown {
  if (typeof body === 'object' && body !== null && !Array.isArray(body) && '@context' in body) {
    const { '@context': _c, ...rest } = body as Record<string, unknown>;
    return rest;
  }
  return body;
}

export function entityIdParam(req: FastifyRequest): string {
  const id = (req.params as { entityId?: string }).entityId ?? '';
  if (!isUri(id)) throw badRequest(`Invalid entity id ${JSON.stringify(id)}: not a URI`);
  return id;
}

function attrParam(req: FastifyRequest): string {
  const a = (req.params as { attrId?: string }).attrId ?? '';
  if (!isValidName(a)) throw badRequest(`Invalid attribute name ${JSON.stringify(a)}`);
  return a;
}

/** Sends a list of entities with NGSILD-Results-Count and next/prev Link headers (NGSI-LD §5.5.9). */
export function sendList(
  req: FastifyRequest,
  reply: FastifyReply,
  media: ResponseMedia,
  ctx: ActiveContext,
  list: StoredEntity[],
  ro: RenderOptions,
  p: Params,
  query: EntityQuery,
  count: number | undefined,
  prerendered?: Record<string, unknown>[],
): unknown {
  if (count !== undefined) void reply.header('NGSILD-Results-Count', String(count));
  const links: string[] = [];
  const path = req.url.split('?')[0] ?? '';
  const pageUrl = (offset: number) => {
    const params = new URLSearchParams();
    for (const k of Object.keys(p)) {
      const v = str(p, k);
      if (k !== 'offset' && v !== undefined) params.set(k, v);
    }
    params.set('offset', String(offset));
    params.set('limit', String(query.limit));
    return `${path}?${params.toString()}`;
  };
  if (req.method === 'GET') {
    if (query.offset > 0)
      links.push(`<${pageUrl(Math.max(0, query.offset - query.limit))}>; rel="prev"; type="${media}"`);
    const more =
      count !== undefined
        ? query.offset + list.length < count
        : list.length === query.limit && query.limit > 0;
    if (more) links.push(`<${pageUrl(query.offset + query.limit)}>; rel="next"; type="${media}"`);
  }
  if (media === 'application/geo+json') {
    const geoIri = ctx.expand(str(p, 'geometryProperty') ?? 'location');
    const body = { type: 'FeatureCollection', features: list.map((e) => renderFeature(e, ctx, ro, geoIri)) };
    const out = withContext(reply, media, ctx, body);
    if (links.length > 0)
      void reply.header('Link', [reply.getHeader('Link'), ...links].filter(Boolean).join(', '));
    return out;
  }
  // Entities a projection (pick/omit) leaves empty are left out (NGSI-LD §4.21).
  const bodies = (prerendered ?? list.map((e) => renderEntity(e, ctx, ro))).filter(
    (b) => Object.keys(b).length > 0,
  );
  const out = withContext(reply, media, ctx, bodies);
  if (links.length > 0)
    void reply.header('Link', [reply.getHeader('Link'), ...links].filter(Boolean).join(', '));
  return out;
}

export function assertArrayBody(body: unknown, what: string): unknown[] {
  if (!Array.isArray(body)) throw badRequest(`${what} needs a JSON array`);
  if (body.length === 0) throw badRequest(`${what} needs at least one item`);
  return body;
}

/**
 * Rendered answers of Retrieve Entity for entities that cannot change: the entity cache's rows
 * are frozen, and a new version is a new object, so an answer is kept with the row it was made
 * of (and dies with it) for the same @context, media type and query string. Rows the access
 * layer filtered or masked are fresh objects each time and are never kept.
 */
function renderedAnswers() {
  /** A few query strings per row and context: a client varying them endlessly gains nothing. */
  const PER_ROW = 4;
  const byRow = new WeakMap<StoredEntity, WeakMap<ActiveContext, Map<string, string>>>();
  return {
    get(e: StoredEntity, ctx: ActiveContext, key: string): string | undefined {
      return byRow.get(e)?.get(ctx)?.get(key);
    },
    set(e: StoredEntity, ctx: ActiveContext, key: string, text: string): void {
      if (!Object.isFrozen(e)) return;
      let byCtx = byRow.get(e);
      if (!byCtx) byRow.set(e, (byCtx = new WeakMap()));
      let texts = byCtx.get(ctx);
      if (!texts) byCtx.set(ctx, (texts = new Map()));
      if (texts.size >= PER_ROW) texts.clear();
      texts.set(key, text);
    },
  };
}
