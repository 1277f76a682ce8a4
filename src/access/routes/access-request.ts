/**
 * Helpers of the access routes: the principal of a request, role checks, body members, and
 * entity type and attribute names expanded with the request's @context.
 */
import type { FastifyRequest } from 'fastify';
import { HubError, badRequest } from '../../core/errors.js';
import type { Principal } from '../../core/access/access-model.js';
import type { HubAccess } from '../access-setup.js';
import { linkContextUrl, type ContextResolverPort } from '../../http/ngsi-request.js';
import { isPlainObject } from '../../core/validation.js';

export { optArea, optString, optStringList, reqString } from '../../core/access/admin-input.js';

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

/** Expands entity type and attribute names with the @context of the Link header ('*' stays). */
export async function expander(
  deps: AccessRouteDeps,
  req: FastifyRequest,
): Promise<(term: string) => string> {
  const ctx = await deps.contexts.resolve(linkContextUrl(req));
  return (t) => (t === '*' ? t : ctx.expand(t));
}

export function auditBase(p: Principal, req: FastifyRequest) {
  return { actor: p.name, ...(p.department ? { department: p.department } : {}), ip: req.ip };
}
