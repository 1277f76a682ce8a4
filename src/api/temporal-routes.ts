/**
 * NGSI-LD temporal routes (NGSI-LD §6.18-6.22): /temporal/entities, /temporal/entities/{id},
 * /temporal/entities/{id}/attrs[/{attrId}[/{instanceId}]], /temporal/entityOperations/query.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ActiveContext } from '../core/context/active-context.js';
import { HubError, badRequest, invalidRequest, notFound } from '../core/errors.js';
import { isPlainObject, isUri, isValidName } from '../core/validation.js';
import type { TemporalSpec } from '../core/temporal/temporal-query.js';
import { TemporalSyntaxError, formatInstant, parseTemporalSpec } from '../core/temporal/temporal-query.js';
import { stringifyTemporal } from '../core/temporal/temporal-output.js';
import type { TemporalQuery, TemporalResult, TemporalService } from '../broker/temporal-service.js';
import type { ContextResolverPort, ResponseMedia } from '../http/ngsi-request.js';
import { bodyContextValue, linkContextUrl, negotiate, tenantOf, withContext } from '../http/ngsi-request.js';
import type { Params } from './query-options.js';
import { entityQueryOf, list, str } from './query-options.js';
import type { TenantGuard } from './tenant-guard.js';
import { guarded, READS, WRITES_HISTORY } from '../http/route-access.js';

export interface TemporalRouteDeps {
  temporal: TemporalService;
  contexts: ContextResolverPort;
  tenants: TenantGuard;
}

const BASE = '/ngsi-ld/v1/temporal';
const COMMON = ['local', 'options', 'format'] as const;
const TEMPORAL = [
  'timerel',
  'timeAt',
  'endTimeAt',
  'timeproperty',
  'lastN',
  'aggrMethods',
  'aggrPeriodDuration',
] as const;
const RENDER = ['attrs', 'pick', 'omit', 'lang', 'datasetId'] as const;
const FILTER = [
  'id',
  'idPattern',
  'type',
  'q',
  'scopeQ',
  'georel',
  'geometry',
  'coordinates',
  'geoproperty',
] as const;
const PARAMS = {
  query: [...COMMON, ...TEMPORAL, ...RENDER, ...FILTER, 'limit', 'offset', 'count', 'orderBy'],
  queryPost: [...COMMON, 'limit', 'offset', 'count', 'lastN', 'aggrMethods', 'aggrPeriodDuration'],
  retrieve: [...COMMON, ...TEMPORAL, ...RENDER, 'type'],
  write: [...COMMON],
  deleteAttr: [...COMMON, 'datasetId', 'deleteAll'],
} as const;

export function registerTemporalRoutes(app: FastifyInstance, deps: TemporalRouteDeps): void {
  const { temporal, contexts, tenants } = deps;
  const getCtx = (req: FastifyRequest): Promise<ActiveContext> => contexts.resolve(linkContextUrl(req));
  const bodyCtx = (req: FastifyRequest): Promise<ActiveContext> =>
    contexts.resolve(bodyContextValue(req, req.body));

  app.get(`${BASE}/entities`, guarded(READS, PARAMS.query), async (req, reply) => {
    const tenant = tenantOf(req);
    const media = negotiate(req, false);
    const ctx = await getCtx(req);
    const p = req.query as Params;
    const tq = temporalQueryOf(p, ctx, true);
    await tenants.mustExistForRead(tenant);
    return sendResult(reply, media, ctx, await temporal.query(tenant, tq, ctx), true);
  });

  app.post(`${BASE}/entityOperations/query`, guarded(READS, PARAMS.queryPost), async (req, reply) => {
    const tenant = tenantOf(req);
    const media = negotiate(req, false);
    const body = req.body;
    if (!isPlainObject(body)) throw badRequest('The query must be a JSON object');
    if (body.type !== 'Query') throw badRequest('The query object must have "type": "Query"');
    const ctx = await contexts.resolve(bodyContextValue(req, body));
    const p: Params = { ...(req.query as Params) };
    // The body's members read like the GET parameters (NGSI-LD §5.2.23 Query).
    const tq = isPlainObject(body.temporalQ) ? body.temporalQ : {};
    for (const k of ['timerel', 'timeAt', 'endTimeAt', 'timeproperty'] as const)
      if (typeof tq[k] === 'string') p[k] = tq[k];
    if (Array.isArray(body.attrs)) p.attrs = body.attrs.join(',');
    for (const k of ['q', 'scopeQ', 'lang'] as const) if (typeof body[k] === 'string') p[k] = body[k];
    if (isPlainObject(body.geoQ)) {
      const g = body.geoQ;
      for (const k of ['georel', 'geometry', 'geoproperty'] as const)
        if (typeof g[k] === 'string') p[k] = g[k];
      if (g.coordinates !== undefined)
        p.coordinates = typeof g.coordinates === 'string' ? g.coordinates : JSON.stringify(g.coordinates);
    }
    const selectors = Array.isArray(body.entities) ? body.entities : undefined;
    if (selectors) {
      if (selectors.length === 0) throw badRequest('entities must be a non-empty array');
      // One selector reads as GET parameters; several are ORed.
      if (selectors.length === 1 && isPlainObject(selectors[0])) {
        const s = selectors[0];
        for (const k of ['id', 'idPattern', 'type'] as const) if (typeof s[k] === 'string') p[k] = s[k];
      } else {
        p.local = 'true';
      }
    }
    const query = temporalQueryOf(p, ctx, true);
    if (selectors && selectors.length > 1) {
      query.entities.anyOf = selectors.map((s) => {
        if (!isPlainObject(s)) throw badRequest('Each entity selector must be an object');
        const sp: Params = {};
        for (const k of ['id', 'idPattern', 'type'] as const) if (typeof s[k] === 'string') sp[k] = s[k];
        const e = entityQueryOf(sp, ctx, { requireFilter: false, pagination: false });
        return {
          ...(e.ids ? { ids: e.ids } : {}),
          ...(e.idPattern !== undefined ? { idPattern: e.idPattern } : {}),
          ...(e.type ? { type: e.type } : {}),
        };
      });
    }
    await tenants.mustExistForRead(tenant);
    return sendResult(reply, media, ctx, await temporal.query(tenant, query, ctx), true);
  });

  app.get(`${BASE}/entities/:entityId`, guarded(READS, PARAMS.retrieve), async (req, reply) => {
    const tenant = tenantOf(req);
    const id = entityIdParam(req);
    const media = negotiate(req, false);
    const ctx = await getCtx(req);
    const tq = temporalQueryOf(req.query as Params, ctx, false);
    await tenants.mustExistForRead(tenant);
    const result = await temporal.retrieve(tenant, id, tq, ctx);
    const body = result.bodies[0] ?? {};
    // NGSI-LD §4.21: nothing left to show is ResourceNotFound.
    if (Object.keys(body).length === 0) throw notFound(`Nothing of entity ${id} is left after pick/omit`, id);
    return sendResult(reply, media, ctx, result, false);
  });

  app.post(`${BASE}/entities`, guarded(WRITES_HISTORY, PARAMS.write), async (req, reply) => {
    const tenant = tenantOf(req);
    const ctx = await bodyCtx(req);
    const created = await temporal.upsert(tenant, req.body, ctx);
    const id = (req.body as { id?: string }).id ?? '';
    if (!created) return reply.code(204).send();
    return reply.code(201).header('Location', `${BASE}/entities/${id}`).send();
  });

  app.delete(`${BASE}/entities/:entityId`, guarded(WRITES_HISTORY, PARAMS.write), async (req, reply) => {
    const tenant = tenantOf(req);
    const id = entityIdParam(req);
    await tenants.mustExistForRead(tenant);
    await temporal.deleteEntity(tenant, id);
    return reply.code(204).send();
  });

  // DELETE without an entity id names no temporal entity (NGSI-LD §6.19.3).
  app.delete(`${BASE}/entities`, guarded(WRITES_HISTORY), () =>
    Promise.reject(new HubError('MethodNotAllowed', 'DELETE needs an entity id: /temporal/entities/{id}')),
  );

  app.post(`${BASE}/entities/:entityId/attrs`, guarded(WRITES_HISTORY, PARAMS.write), async (req, reply) => {
    const tenant = tenantOf(req);
    const id = entityIdParam(req);
    const ctx = await bodyCtx(req);
    await tenants.mustExistForRead(tenant);
    await temporal.addAttributes(tenant, id, req.body, ctx);
    return reply.code(204).send();
  });

  app.delete(
    `${BASE}/entities/:entityId/attrs/:attrId`,
    guarded(WRITES_HISTORY, PARAMS.deleteAttr),
    async (req, reply) => {
      const tenant = tenantOf(req);
      const id = entityIdParam(req);
      const attr = attrParam(req);
      const ctx = await getCtx(req);
      const p = req.query as Params;
      const datasetId = str(p, 'datasetId');
      if (datasetId !== undefined && datasetId !== '' && !isUri(datasetId))
        throw badRequest('datasetId must be a URI');
      const deleteAll = str(p, 'deleteAll');
      if (deleteAll !== undefined && deleteAll !== 'true' && deleteAll !== 'false')
        throw badRequest('deleteAll must be true or false');
      await tenants.mustExistForRead(tenant);
      await temporal.deleteAttribute(tenant, id, attr, ctx, {
        ...(datasetId ? { datasetId } : {}),
        deleteAll: deleteAll === 'true',
      });
      return reply.code(204).send();
    },
  );

  // PATCH names one instance: without an instance id (or attribute name) there is no such resource.
  app.patch(`${BASE}/entities/:entityId/attrs/:attrId`, guarded(WRITES_HISTORY), () =>
    Promise.reject(new HubError('MethodNotAllowed', 'PATCH needs an instance: /attrs/{attrId}/{instanceId}')),
  );

  app.patch(
    `${BASE}/entities/:entityId/attrs/:attrId/:instanceId`,
    guarded(WRITES_HISTORY, PARAMS.write),
    async (req, reply) => {
      if ((req.params as { attrId?: string }).attrId === '')
        throw new HubError('MethodNotAllowed', 'PATCH needs an attribute name: /attrs/{attrId}/{instanceId}');
      const tenant = tenantOf(req);
      const id = entityIdParam(req);
      const attr = attrParam(req);
      const instanceId = instanceParam(req);
      const ctx = await bodyCtx(req);
      await tenants.mustExistForRead(tenant);
      await temporal.modifyInstance(tenant, id, attr, instanceId, req.body, ctx);
      return reply.code(204).send();
    },
  );

  app.delete(
    `${BASE}/entities/:entityId/attrs/:attrId/:instanceId`,
    guarded(WRITES_HISTORY, PARAMS.write),
    async (req, reply) => {
      const tenant = tenantOf(req);
      const id = entityIdParam(req);
      const attr = attrParam(req);
      const instanceId = instanceParam(req);
      const ctx = await getCtx(req);
      await tenants.mustExistForRead(tenant);
      await temporal.deleteInstance(tenant, id, attr, instanceId, ctx);
      return reply.code(204).send();
    },
  );
}

/** Sends temporal entities; a cut at the instance limit answers 206 with Content-Range (NGSI-LD §6.3.10). */
function sendResult(
  reply: FastifyReply,
  media: ResponseMedia,
  ctx: ActiveContext,
  result: TemporalResult,
  asList: boolean,
): FastifyReply {
  if (result.count !== undefined) void reply.header('NGSILD-Results-Count', String(result.count));
  if (result.range) {
    const r = result.range;
    void reply
      .code(206)
      .header('Content-Range', `date-time ${formatInstant(r.start)}-${formatInstant(r.end)}/${r.size}`);
  }
  const out = withContext(reply, media, ctx, asList ? result.bodies : (result.bodies[0] ?? {}));
  return reply.send(stringifyTemporal(out));
}

/** The temporal query of a request: entity filters, the temporal spec, attrs, datasetId, pick/omit. */
function temporalQueryOf(p: Params, ctx: ActiveContext, isQuery: boolean): TemporalQuery {
  let spec: TemporalSpec;
  try {
    spec = parseTemporalSpec({
      ...optional('timerel', str(p, 'timerel')),
      ...optional('timeAt', str(p, 'timeAt')),
      ...optional('endTimeAt', str(p, 'endTimeAt')),
      ...optional('timeproperty', str(p, 'timeproperty')),
      ...optional('lastN', str(p, 'lastN')),
      ...optional('format', str(p, 'format')),
      ...optional('aggrMethods', str(p, 'aggrMethods')),
      ...optional('aggrPeriodDuration', str(p, 'aggrPeriodDuration')),
      options: list(p, 'options') ?? [],
    });
  } catch (err) {
    if (err instanceof TemporalSyntaxError)
      throw err.kind === 'request' ? invalidRequest(err.message, err) : badRequest(err.message, err);
    throw err;
  }
  const attrs = list(p, 'attrs');
  for (const a of attrs ?? [])
    if (!isValidName(a)) throw badRequest(`Invalid attribute name ${JSON.stringify(a)}`);
  const pick = list(p, 'pick');
  const omit = list(p, 'omit');
  if (pick && attrs) throw badRequest('pick cannot be used with attrs');
  if (omit && attrs) throw badRequest('omit cannot be used with attrs');
  if (pick && omit && pick.some((n) => omit.includes(n)))
    throw badRequest('A member cannot be both picked and omitted');
  const entities = isQuery
    ? entityQueryOf(p, ctx, { requireFilter: true, pagination: true })
    : { limit: 1, offset: 0, count: false };
  delete entities.withAnyAttr;
  const tq: TemporalQuery = { entities, spec };
  let only = attrs?.map((a) => ctx.expand(a));
  if (pick) {
    only = pick.filter((n) => n !== 'id' && n !== 'type' && n !== 'scope').map((n) => ctx.expand(n));
    if (!pick.includes('id')) tq.hideId = true;
    if (!pick.includes('type')) tq.hideType = true;
    if (!pick.includes('scope')) tq.hideScope = true;
    // Picking only core members keeps no attribute (an empty list), but every entity.
  }
  if (omit) {
    if (omit.includes('id')) tq.hideId = true;
    if (omit.includes('type')) tq.hideType = true;
    if (omit.includes('scope')) tq.hideScope = true;
    tq.omit = omit.filter((n) => n !== 'id' && n !== 'type' && n !== 'scope').map((n) => ctx.expand(n));
  }
  if (only) tq.attrs = only;
  const ds = list(p, 'datasetId');
  if (ds) {
    for (const d of ds)
      if (d !== '@none' && !isUri(d)) throw badRequest(`Invalid datasetId ${JSON.stringify(d)}`);
    tq.datasetIds = ds;
  }
  return tq;
}

function optional<K extends string>(k: K, v: string | undefined): Partial<Record<K, string>> {
  return v === undefined ? {} : ({ [k]: v } as Record<K, string>);
}

function entityIdParam(req: FastifyRequest): string {
  const id = (req.params as { entityId?: string }).entityId ?? '';
  if (!isUri(id)) throw badRequest(`Invalid entity id ${JSON.stringify(id)}: not a URI`);
  return id;
}

function attrParam(req: FastifyRequest): string {
  const a = (req.params as { attrId?: string }).attrId ?? '';
  if (!isValidName(a)) throw badRequest(`Invalid attribute name ${JSON.stringify(a)}`);
  return a;
}

function instanceParam(req: FastifyRequest): string {
  const i = (req.params as { instanceId?: string }).instanceId ?? '';
  if (!isUri(i)) throw badRequest(`Invalid instance id ${JSON.stringify(i)}: not a URI`);
  return i;
}
