/**
 * What every NGSI-LD request carries besides its body: the tenant (NGSILD-Tenant), the @context
 * (Link header or inline, NGSI-LD §6.3.5), and what the client accepts (§6.3.6).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ActiveContext } from '../core/context/active-context.js';
import { HubError, badRequest } from '../core/errors.js';
import { CORE_CONTEXT_URL } from '../core/context/core-context.js';

export const JSONLD_CONTEXT_REL = 'http://www.w3.org/ns/json-ld#context';

export type ResponseMedia = 'application/json' | 'application/ld+json' | 'application/geo+json';

export interface ContextResolverPort {
  resolve(contextValue: unknown): Promise<ActiveContext>;
}

const TENANT_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** The tenant named by NGSILD-Tenant (or FIWARE's fiware-service); '' is the default tenant. */
export function tenantOf(req: FastifyRequest): string {
  const raw = req.headers['ngsild-tenant'] ?? req.headers['fiware-service'];
  const t = Array.isArray(raw) ? raw[0] : raw;
  if (t === undefined || t === '') return '';
  if (!TENANT_RE.test(t))
    throw badRequest(`Invalid tenant name ${JSON.stringify(t)}: letters, digits, - and _ only, at most 64`);
  return t;
}

/** Parses a Link header and returns the JSON-LD context URL, if any (RFC 8288). */
export function linkContextUrl(req: FastifyRequest): string | undefined {
  const raw = req.headers.link;
  if (raw === undefined) return undefined;
  const header = Array.isArray(raw) ? raw.join(',') : raw;
  const links = [...header.matchAll(/<([^>]*)>\s*((?:;\s*[^;,]+)*)/g)];
  const found: string[] = [];
  for (const m of links) {
    const params = m[2] ?? '';
    const rel = /;\s*rel\s*=\s*"?([^";]+)"?/i.exec(params)?.[1];
    if (rel === JSONLD_CONTEXT_REL) found.push(m[1] ?? '');
  }
  if (found.length > 1) throw badRequest('More than one JSON-LD context Link header');
  if (found.length === 0) {
    if (/json-ld#context/.test(header)) throw badRequest('Malformed JSON-LD context Link header');
    return undefined;
  }
  const url = found[0] as string;
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(url))
    throw badRequest(`The Link header context ${JSON.stringify(url)} is not an absolute URL`);
  return url;
}

export function mediaTypeOf(req: FastifyRequest): string | undefined {
  const ct = req.headers['content-type'];
  return ct?.split(';')[0]?.trim().toLowerCase();
}

/**
 * The @context of a request with a body: in the body for application/ld+json (and then no Link
 * header is allowed), in the Link header for application/json (NGSI-LD §6.3.5).
 */
export function bodyContextValue(req: FastifyRequest, body: unknown): unknown {
  const media = mediaTypeOf(req);
  const link = linkContextUrl(req);
  if (media === 'application/ld+json') {
    if (link !== undefined) throw badRequest('A JSON-LD request must not carry a context Link header');
    const items = Array.isArray(body) ? body : [body];
    const ctxs = items.map((b) =>
      typeof b === 'object' && b !== null ? (b as Record<string, unknown>)['@context'] : undefined,
    );
    if (ctxs.some((c) => c === undefined))
      throw badRequest('An application/ld+json body must have an @context member');
    return ctxs[0];
  }
  if (!Array.isArray(body) && typeof body === 'object' && body !== null && '@context' in body) {
    throw badRequest('An @context in the body needs Content-Type application/ld+json');
  }
  return link;
}

/** Negotiates the response media type (NGSI-LD §6.3.6); 406 if none of ours is acceptable. */
export function negotiate(req: FastifyRequest, allowGeo: boolean): ResponseMedia {
  const accept = req.headers.accept;
  if (accept === undefined || accept.trim() === '') return 'application/json';
  const ranges = accept
    .split(',')
    .map((part, i) => {
      const [type = '', ...params] = part.trim().split(';');
      const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)).find((m) => m)?.[1];
      return { type: type.trim().toLowerCase(), q: q === undefined ? 1 : Number(q), i };
    })
    .filter((r) => r.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i);
  for (const r of ranges) {
    if (r.type === 'application/json' || r.type === '*/*' || r.type === 'application/*')
      return 'application/json';
    if (r.type === 'application/ld+json') return 'application/ld+json';
    if (r.type === 'application/geo+json' && allowGeo) return 'application/geo+json';
  }
  throw new HubError('NotAcceptable', `None of the accepted media types (${accept}) can be produced`);
}

/** Sets the context on a JSON response: a Link header, or @context members for JSON-LD. */
export function contextLinkUrl(ctxSource: unknown): string {
  return typeof ctxSource === 'string' ? ctxSource : CORE_CONTEXT_URL;
}

export function withContext(
  reply: FastifyReply,
  media: ResponseMedia,
  ctx: ActiveContext,
  body: unknown,
): unknown {
  contextHeaders(reply, media, ctx);
  if (media === 'application/ld+json' || media === 'application/geo+json') {
    const value = ctx.source ?? CORE_CONTEXT_URL;
    const add = (o: unknown) =>
      typeof o === 'object' && o !== null && !Array.isArray(o) ? { ...o, '@context': value } : o;
    return Array.isArray(body) ? body.map(add) : add(body);
  }
  return body;
}

/** The headers withContext sets: the media type, and the Link to the @context for plain JSON. */
export function contextHeaders(reply: FastifyReply, media: ResponseMedia, ctx: ActiveContext): void {
  if (media !== 'application/ld+json' && media !== 'application/geo+json')
    void reply.header(
      'Link',
      `<${contextLinkUrl(ctx.source)}>; rel="${JSONLD_CONTEXT_REL}"; type="application/ld+json"`,
    );
  void reply.type(media);
}
