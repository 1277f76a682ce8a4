/**
 * Helpers of the access routes: the principal of a request, role checks, body members, and
 * entity type and attribute names expanded with the request's @context.
 */
import type { FastifyRequest } from 'fastify';
import { HubError, badRequest } from '../core/errors.js';
import type { Principal } from '../core/access/access-model.js';
import type { HubAccess } from '../access/access-setup.js';
import { linkContextUrl, type ContextResolverPort } from './ngsi-request.js';
import { isPlainObject } from '../core/validation.js';

export interface AccessRouteDeps {
  access: HubAccess;
  contexts: ContextResolverPort;
}

export function principalOf(access: HubAccess, req: FastifyRequest): Principal {
  const p = access.principalFor(req);
  if (!p) throw new HubError('Unauthorized', 'Authentication is required');
  return p;
}

export function body(req: FastifyRequest): Record<string, unknown> {
  if (!isPlainObject(req.body)) throw badRequest('The body must be a JSON object');
  return req.body;
}

export function reqString(o: Record<string, unknown>, key: string, max = 256): string {
  const v = o[key];
  if (typeof v !== 'string' || v.trim() === '' || v.length > max)
    throw badRequest(`${key} must be a non-empty string of at most ${max} characters`);
  return v;
}

export function optString(o: Record<string, unknown>, key: string, max = 1024): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > max) throw badRequest(`${key} must be a string`);
  return v;
}

export function optStringList(o: Record<string, unknown>, key: string): string[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string' && x !== ''))
    throw badRequest(`${key} must be a non-empty list of names`);
  return v as string[];
}

/** Expands entity type and attribute names with the @context of the Link header ('*' stays). */
export async function expander(
  deps: AccessRouteDeps,
  req: FastifyRequest,
): Promise<(term: string) => string> {
  const ctx = await deps.contexts.resolve(linkContextUrl(req));
  return (t) => (t === '*' ? t : ctx.expand(t));
}

/** Parses an area: {bbox:[w,s,e,n]} or a GeoJSON Polygon/MultiPolygon. */
export function optArea(o: Record<string, unknown>, key = 'area') {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (isPlainObject(v) && Array.isArray(v.bbox)) {
    const b = v.bbox;
    if (b.length !== 4 || !b.every((n) => typeof n === 'number' && Number.isFinite(n)))
      throw badRequest('area.bbox must be [west, south, east, north]');
    return { bbox: b as [number, number, number, number] };
  }
  if (isPlainObject(v) && (v.type === 'Polygon' || v.type === 'MultiPolygon') && Array.isArray(v.coordinates))
    return v as { type: 'Polygon'; coordinates: number[][][] };
  throw badRequest('area must be {"bbox": [w, s, e, n]} or a GeoJSON Polygon or MultiPolygon');
}

export function auditBase(p: Principal, req: FastifyRequest) {
  return { actor: p.name, ...(p.department ? { department: p.department } : {}), ip: req.ip };
}
