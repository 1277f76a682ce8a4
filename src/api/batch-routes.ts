/**
 * NGSI-LD batch operations (NGSI-LD §5.6.7-5.6.10, §5.6.20): create, upsert, update, delete,
 * merge, each in one transaction with a result per item (BatchOperationResult), and
 * POST /entityOperations/query.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ActiveContext } from '../core/context/active-context.js';
import { parseEntity, parseFragment } from '../core/entity-input.js';
import { HubError, badRequest } from '../core/errors.js';
import { isPlainObject, isUri } from '../core/validation.js';
import type { EntitySelector } from '../core/store.js';
import { createBatchOperations, type Prepared } from '../broker/batch-operations.js';
import { assertArrayBody, sendList } from './entity-routes.js';
import type { EntityRouteDeps } from './entity-routes.js';
import { bodyContextValue, linkContextUrl, mediaTypeOf, negotiate, tenantOf } from '../http/ngsi-request.js';
import type { Params } from './query-options.js';
import { entityQueryOf, optionSet, renderOptionsOf } from './query-options.js';
import { PARAMS } from './route-params.js';
import { renderWithJoin } from './linked-entities.js';
import { guarded, READS, WRITES_ENTITIES } from '../http/route-access.js';

const BASE = '/ngsi-ld/v1/entityOperations';

export function registerBatchRoutes(app: FastifyInstance, deps: EntityRouteDeps): void {
  const { entities, contexts, tenants } = deps;
  const batch = createBatchOperations(entities);

  /** Resolves each item's @context (in the item for JSON-LD, else the Link header). */
  async function itemContexts(req: FastifyRequest, items: unknown[]): Promise<(ActiveContext | HubError)[]> {
    const isLd = mediaTypeOf(req) === 'application/ld+json';
    const link = linkContextUrl(req);
    if (isLd && link !== undefined)
      throw badRequest('A JSON-LD request must not carry a context Link header');
    return Promise.all(
      items.map(async (item) => {
        try {
          if (isLd) {
            if (!isPlainObject(item) || item['@context'] === undefined)
              throw badRequest('An application/ld+json item must have an @context member');
            return await contexts.resolve(item['@context']);
          }
          if (isPlainObject(item) && '@context' in item)
            throw badRequest('An @context in the body needs Content-Type application/ld+json');
          return await contexts.resolve(link);
        } catch (err) {
          if (err instanceof HubError) return err;
          throw err;
        }
      }),
    );
  }

  function idOf(item: unknown): string {
    return isPlainObject(item) && typeof item.id === 'string' ? item.id : '';
  }

  async function prepare<T>(
    req: FastifyRequest,
    parse: (item: unknown, ctx: ActiveContext, now: string) => T,
  ): Promise<Prepared<T>[]> {
    const items = assertArrayBody(req.body, 'A batch operation');
    const ctxs = await itemContexts(req, items);
    const now = entities.now();
    return items.map((item, i): Prepared<T> => {
      const ctx = ctxs[i] as ActiveContext | HubError;
      const id = idOf(item);
      if (ctx instanceof HubError) return { ok: false, id, error: ctx };
      try {
        return { ok: true, id, value: parse(item, ctx, now) };
      } catch (err) {
        if (err instanceof HubError) return { ok: false, id, error: err };
        throw err;
      }
    });
  }

  app.post(`${BASE}/create`, guarded(WRITES_ENTITIES, PARAMS.batch), async (req, reply) => {
    const tenant = tenantOf(req);
    const prepared = await prepare(req, (item, ctx, now) => parseEntity(item, ctx, { now }));
    const result = await batch.create(tenant, prepared);
    if (result.errors.length === 0) return reply.code(201).send(result.success);
    return reply.code(207).send(result);
  });

  app.post(`${BASE}/upsert`, guarded(WRITES_ENTITIES, PARAMS.batch), async (req, reply) => {
    const tenant = tenantOf(req);
    const opts = optionSet(req.query as Params, ['replace', 'update']);
    if (opts.has('replace') && opts.has('update'))
      throw badRequest('options replace and update exclude each other');
    const mode = opts.has('update') ? 'update' : 'replace';
    const prepared = await prepare(req, (item, ctx, now) => parseEntity(item, ctx, { now }));
    const { result, created } = await batch.upsert(tenant, prepared, mode);
    if (result.errors.length > 0) return reply.code(207).send(result);
    if (created.length > 0) return reply.code(201).send(created);
    return reply.code(204).send();
  });

  app.post(`${BASE}/update`, guarded(WRITES_ENTITIES, PARAMS.batch), async (req, reply) => {
    const tenant = tenantOf(req);
    const noOverwrite = optionSet(req.query as Params, ['noOverwrite']).has('noOverwrite');
    const prepared = await prepare(req, (item, ctx, now) => parseEntity(item, ctx, { now }));
    await tenants.mustExistForRead(tenant);
    const result = await batch.update(tenant, prepared, noOverwrite);
    return result.errors.length === 0 ? reply.code(204).send() : reply.code(207).send(result);
  });

  app.post(`${BASE}/merge`, guarded(WRITES_ENTITIES, PARAMS.batch), async (req, reply) => {
    const tenant = tenantOf(req);
    const prepared = await prepare(req, (item, ctx, now) => {
      if (!isPlainObject(item) || !isUri(item.id)) throw badRequest('Each item needs a URI id');
      if (item.type === undefined) throw badRequest('Each item needs a type');
      for (const [k, v] of Object.entries(item)) {
        if (v === null)
          throw badRequest(
            `Attribute ${k} is JSON null, which is not valid JSON-LD: use "urn:ngsi-ld:null" to delete`,
          );
      }
      return { frag: parseFragment(item, ctx, { now, allowNull: true }), now, ctx };
    });
    await tenants.mustExistForRead(tenant);
    const result = await batch.merge(tenant, prepared);
    return result.errors.length === 0 ? reply.code(204).send() : reply.code(207).send(result);
  });

  app.post(`${BASE}/delete`, guarded(WRITES_ENTITIES, PARAMS.batch), async (req, reply) => {
    const tenant = tenantOf(req);
    const items = assertArrayBody(req.body, 'A batch delete');
    await tenants.mustExistForRead(tenant);
    const result = await batch.delete(tenant, items);
    return result.errors.length === 0 ? reply.code(204).send() : reply.code(207).send(result);
  });

  app.post(`${BASE}/query`, guarded(READS, PARAMS.queryPost), async (req, reply) => {
    const tenant = tenantOf(req);
    const media = negotiate(req, true);
    const body = req.body;
    if (!isPlainObject(body)) throw badRequest('The query must be a JSON object');
    if (body.type !== 'Query') throw badRequest('The query object must have "type": "Query"');
    const ctx = await contexts.resolve(bodyContextValue(req, body));
    const p: Params = { ...(req.query as Params) };
    const entitiesSel = body.entities;
    let selectors: EntitySelector[] | undefined;
    if (entitiesSel !== undefined) {
      if (!Array.isArray(entitiesSel) || entitiesSel.length === 0)
        throw badRequest('entities must be a non-empty array');
      selectors = entitiesSel.map((sel) => {
        if (!isPlainObject(sel)) throw badRequest('Each entity selector must be an object');
        // Each selector is checked like GET parameters, then kept apart: the query matches any of them.
        const sp: Params = {};
        for (const k of ['type', 'id', 'idPattern'] as const) {
          if (sel[k] !== undefined) {
            if (typeof sel[k] !== 'string') throw badRequest(`Entity selector ${k} must be a string`);
            sp[k] = sel[k];
          }
        }
        if (sp.type === undefined && sp.id === undefined && sp.idPattern === undefined)
          throw badRequest('An entity selector needs type, id or idPattern');
        const q = entityQueryOf(sp, ctx, { requireFilter: false, pagination: false });
        const s: EntitySelector = {};
        if (q.ids) s.ids = q.ids;
        if (q.idPattern !== undefined) s.idPattern = q.idPattern;
        if (q.type) s.type = q.type;
        return s;
      });
      p.local = 'true'; // the selectors are the filter
    }
    if (body.attrs !== undefined) {
      if (!Array.isArray(body.attrs)) throw badRequest('attrs must be an array');
      p.attrs = body.attrs.join(',');
    }
    if (body.q !== undefined) p.q = body.q;
    if (body.scopeQ !== undefined) p.scopeQ = body.scopeQ;
    if (body.lang !== undefined) p.lang = body.lang;
    if (body.geometryProperty !== undefined) p.geometryProperty = body.geometryProperty;
    if (body.join !== undefined) p.join = body.join;
    if (body.joinLevel !== undefined)
      p.joinLevel = typeof body.joinLevel === 'number' ? String(body.joinLevel) : body.joinLevel;
    if (typeof body.orderBy === 'string') p.orderBy = body.orderBy;
    for (const k of ['containedBy', 'csf']) {
      if (body[k] !== undefined)
        throw new HubError('OperationNotSupported', `${k} is not supported by this version of CityPivot`);
    }
    if (body.geoQ !== undefined) {
      const g = body.geoQ;
      if (!isPlainObject(g)) throw badRequest('geoQ must be an object');
      for (const k of ['georel', 'geometry', 'geoproperty'] as const) if (g[k] !== undefined) p[k] = g[k];
      if (g.coordinates !== undefined)
        p.coordinates = typeof g.coordinates === 'string' ? g.coordinates : JSON.stringify(g.coordinates);
    }
    const query = entityQueryOf(p, ctx, { requireFilter: true, pagination: true });
    if (selectors) query.anyOf = selectors;
    delete p.local;
    const ro = renderOptionsOf(p, ctx);
    await tenants.mustExistForRead(tenant);
    const result = await entities.query(tenant, query);
    const joined = await renderWithJoin(p, (ids) => entities.getMany(tenant, ids), result.entities, ctx, ro);
    return sendList(req, reply, media, ctx, result.entities, ro, p, query, result.count, joined?.bodies);
  });
}
