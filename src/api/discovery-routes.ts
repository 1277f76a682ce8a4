/**
 * NGSI-LD discovery (NGSI-LD §5.7.1-5.7.4): /types, /types/{type}, /attributes,
 * /attributes/{attrId}, with details=true.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest, notFound } from '../core/errors.js';
import { isValidName } from '../core/validation.js';
import type { Store } from '../core/store.js';
import type { ContextResolverPort } from '../http/ngsi-request.js';
import { linkContextUrl, negotiate, tenantOf, withContext } from '../http/ngsi-request.js';
import type { Params } from './query-options.js';
import { str } from './query-options.js';
import type { TenantGuard } from './tenant-guard.js';
import { PARAMS } from './route-params.js';
import { guarded, READS } from '../http/route-access.js';

const BASE = '/ngsi-ld/v1';

export function registerDiscoveryRoutes(
  app: FastifyInstance,
  deps: { store: Store; contexts: ContextResolverPort; tenants: TenantGuard },
): void {
  const { store, contexts, tenants } = deps;

  const details = (req: FastifyRequest): boolean => {
    const d = str(req.query as Params, 'details');
    if (d !== undefined && d !== 'true' && d !== 'false') throw badRequest('details must be true or false');
    return d === 'true';
  };

  app.get(`${BASE}/types`, guarded(READS, PARAMS.discovery), async (req, reply) => {
    const tenant = tenantOf(req);
    const media = negotiate(req, false);
    const ctx = await contexts.resolve(linkContextUrl(req));
    const withDetails = details(req);
    await tenants.mustExistForRead(tenant);
    const types = await store.listTypes(tenant);
    if (withDetails) {
      const body = types.map((t) => ({
        id: t.type,
        type: 'EntityType',
        typeName: ctx.compact(t.type),
        attributeNames: t.attributes.map((a) => ctx.compact(a.name)),
      }));
      return withContext(reply, media, ctx, body);
    }
    const body = {
      id: `urn:ngsi-ld:EntityTypeList:${randomUUID()}`,
      type: 'EntityTypeList',
      typeList: types.map((t) => ctx.compact(t.type)),
    };
    return withContext(reply, media, ctx, body);
  });

  app.get(`${BASE}/types/:type`, guarded(READS, PARAMS.discovery), async (req, reply) => {
    const tenant = tenantOf(req);
    const media = negotiate(req, false);
    const ctx = await contexts.resolve(linkContextUrl(req));
    const name = (req.params as { type: string }).type;
    if (!isValidName(name)) throw badRequest(`Invalid type name ${JSON.stringify(name)}`);
    await tenants.mustExistForRead(tenant);
    const iri = ctx.expand(name);
    // One type asked for: the store reads its rows only (a store may still answer with every type).
    const t = (await store.listTypes(tenant, { type: iri })).find((x) => x.type === iri);
    if (!t) throw notFound(`No entity of type ${name}`, name);
    const body = {
      id: t.type,
      type: 'EntityTypeInfo',
      typeName: ctx.compact(t.type),
      entityCount: t.entityCount,
      attributeDetails: t.attributes.map((a) => ({
        id: a.name,
        type: 'Attribute',
        attributeName: ctx.compact(a.name),
        attributeTypes: a.kinds,
      })),
    };
    return withContext(reply, media, ctx, body);
  });

  app.get(`${BASE}/attributes`, guarded(READS, PARAMS.discovery), async (req, reply) => {
    const tenant = tenantOf(req);
    const media = negotiate(req, false);
    const ctx = await contexts.resolve(linkContextUrl(req));
    const withDetails = details(req);
    await tenants.mustExistForRead(tenant);
    const attrs = await store.listAttributes(tenant);
    if (withDetails) {
      const body = attrs.map((a) => ({
        id: a.name,
        type: 'Attribute',
        attributeName: ctx.compact(a.name),
        typeNames: a.types.map((t) => ctx.compact(t)),
      }));
      return withContext(reply, media, ctx, body);
    }
    const body = {
      id: `urn:ngsi-ld:AttributeList:${randomUUID()}`,
      type: 'AttributeList',
      attributeList: attrs.map((a) => ctx.compact(a.name)),
    };
    return withContext(reply, media, ctx, body);
  });

  app.get(`${BASE}/attributes/:attrId`, guarded(READS, PARAMS.discovery), async (req, reply) => {
    const tenant = tenantOf(req);
    const media = negotiate(req, false);
    const ctx = await contexts.resolve(linkContextUrl(req));
    const name = (req.params as { attrId: string }).attrId;
    if (!isValidName(name)) throw badRequest(`Invalid attribute name ${JSON.stringify(name)}`);
    await tenants.mustExistForRead(tenant);
    const iri = ctx.expand(name);
    const a = (await store.listAttributes(tenant, { name: iri })).find((x) => x.name === iri);
    if (!a) throw notFound(`No attribute ${name}`, name);
    const body = {
      id: a.name,
      type: 'Attribute',
      attributeName: ctx.compact(a.name),
      attributeCount: a.entityCount,
      attributeTypes: a.kinds,
      typeNames: a.types.map((t) => ctx.compact(t)),
    };
    return withContext(reply, media, ctx, body);
  });
}
