/**
 * NGSI-LD @context management (NGSI-LD §5.13 / API §6.30): list, serve, add (hosted) and delete
 * contexts. The core context is built in and cannot be deleted.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HubError, badRequest, notFound } from '../core/errors.js';
import type { ContextRecord, Store } from '../core/store.js';
import { isPlainObject } from '../core/validation.js';
import { CORE_CONTEXT_URL } from './ngsi-request.js';
import type { Params } from './query-options.js';
import { str } from './query-options.js';

const BASE = '/ngsi-ld/v1/jsonldContexts';
export const CORE_LOCAL_ID = 'ngsi-ld-core-context';
const KINDS = ['Hosted', 'Cached', 'ImplicitlyCreated'] as const;

export interface ContextRouteDeps {
  store: Store;
  coreDocument: unknown;
  /** Drops a URL from the resolver's caches after a delete or reload. */
  forget(url: string): void;
  /** Loads a URL again from its origin (reload=true). */
  reload(url: string): Promise<void>;
}

function kindOf(r: ContextRecord): (typeof KINDS)[number] {
  return r.origin === 'hosted' ? 'Hosted' : 'Cached';
}

export function hostedUrl(req: FastifyRequest, localId: string): string {
  return `${req.protocol}://${req.host}${BASE}/${localId}`;
}

export function registerContextRoutes(app: FastifyInstance, deps: ContextRouteDeps): void {
  const { store } = deps;

  app.get(BASE, async (req) => {
    const p = req.query as Params;
    const details = str(p, 'details');
    if (details !== undefined && details !== 'true' && details !== 'false') throw badRequest('details must be true or false');
    const kind = str(p, 'kind');
    if (kind !== undefined && !(KINDS as readonly string[]).includes(kind)) throw badRequest(`Unknown kind ${JSON.stringify(kind)}`);
    const records = await store.contexts.list();
    const rows = [
      { URL: CORE_CONTEXT_URL, localId: CORE_LOCAL_ID, kind: 'Cached' as const, timestamp: undefined, lastUsage: undefined, numberOfHits: undefined, origin: 'built-in' },
      ...records.map((r) => ({
        URL: r.url,
        localId: r.localId,
        kind: kindOf(r),
        timestamp: r.createdAt,
        lastUsage: r.lastUsedAt ?? undefined,
        numberOfHits: r.useCount,
        origin: r.origin,
      })),
    ].filter((r) => kind === undefined || r.kind === kind);
    if (details !== 'true') return rows.map((r) => r.URL);
    return rows.map((r) => {
      const out: Record<string, unknown> = { URL: r.URL, localId: r.localId, kind: r.kind };
      if (r.timestamp) out.createdAt = r.timestamp;
      if (r.lastUsage) out.lastUsage = r.lastUsage;
      if (r.numberOfHits !== undefined) out.numberOfHits = r.numberOfHits;
      out.extraInfo = { origin: r.origin };
      return out;
    });
  });

  app.post(BASE, async (req, reply) => {
    const body = req.body;
    if (!isPlainObject(body) || !('@context' in body)) throw badRequest('The body must be a JSON object with an @context member');
    const c = body['@context'];
    if (!(isPlainObject(c) || Array.isArray(c) || typeof c === 'string')) throw badRequest('@context must be an object, an array or a URL');
    const localId = randomUUID();
    const url = hostedUrl(req, localId);
    await store.contexts.put(url, { '@context': c }, 'hosted', localId);
    return reply.code(201).header('Location', `${BASE}/${localId}`).send();
  });

  const find = async (req: FastifyRequest): Promise<ContextRecord | 'core'> => {
    const key = decodeURIComponent((req.params as { contextId: string }).contextId);
    if (key === CORE_LOCAL_ID || key === CORE_CONTEXT_URL) return 'core';
    const rec = (await store.contexts.getByLocalId(key)) ?? (await store.contexts.get(key));
    if (!rec) throw notFound(`No @context ${key}`, key);
    return rec;
  };

  app.get(`${BASE}/:contextId`, async (req, reply) => {
    const rec = await find(req);
    if (rec !== 'core') await store.contexts.touch(rec.url);
    return reply.type('application/ld+json').send(rec === 'core' ? deps.coreDocument : rec.document);
  });

  app.delete(`${BASE}/:contextId`, async (req, reply) => {
    const reload = str(req.query as Params, 'reload');
    if (reload !== undefined && reload !== 'true' && reload !== 'false') throw badRequest('reload must be true or false');
    const rec = await find(req);
    if (rec === 'core') throw badRequest('The NGSI-LD core @context cannot be deleted');
    if (reload === 'true') {
      if (rec.origin === 'hosted') throw badRequest('A hosted @context cannot be reloaded');
      deps.forget(rec.url);
      try {
        await deps.reload(rec.url);
      } catch (err) {
        throw new HubError('LdContextNotAvailable', `Could not reload ${rec.url}`, { cause: err });
      }
      return reply.code(204).send();
    }
    await store.contexts.delete(rec.url);
    deps.forget(rec.url);
    return reply.code(204).send();
  });
}
