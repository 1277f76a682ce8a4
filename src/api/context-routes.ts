/**
 * NGSI-LD @context management (NGSI-LD §5.13 / API §6.30): list, serve, add (hosted) and delete
 * contexts. The core context is built in and cannot be deleted.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HubError, badRequest, invalidRequest, notFound } from '../core/errors.js';
import { isCoreContextUrl } from '../core/context/core-context.js';
import type { ContextRecord, Store } from '../core/store.js';
import { isPlainObject } from '../core/validation.js';
import { CORE_CONTEXT_URL } from '../core/context/core-context.js';
import type { Params } from './query-options.js';
import { str } from './query-options.js';
import { PARAMS } from './route-params.js';
import { ANYONE, guarded } from '../http/route-access.js';

const BASE = '/ngsi-ld/v1/jsonldContexts';
export const CORE_LOCAL_ID = 'ngsi-ld-core-context';
const KINDS = ['Hosted', 'Cached', 'ImplicitlyCreated'] as const;

export interface ContextRouteDeps {
  store: Store;
  /** When the hub started: the built-in core context's createdAt. */
  startedAt: string;
  coreDocument: unknown;
  /** Drops a URL from the resolver's caches after a delete or reload. */
  forget(url: string): void;
  /** Loads a URL again from its origin (reload=true). */
  reload(url: string): Promise<void>;
}

interface ContextInfo {
  URL: string;
  localId: string;
  kind: (typeof KINDS)[number];
  createdAt: string;
  lastUsage?: string;
  numberOfHits?: number;
}

function coreInfo(startedAt: string): ContextInfo {
  return {
    URL: CORE_CONTEXT_URL,
    localId: CORE_LOCAL_ID,
    kind: 'Cached',
    createdAt: startedAt,
  };
}

function infoOf(r: ContextRecord): ContextInfo {
  const out: ContextInfo = { URL: r.url, localId: r.localId, kind: kindOf(r), createdAt: r.createdAt };
  if (r.origin !== 'hosted') {
    if (r.lastUsedAt) out.lastUsage = r.lastUsedAt;
    out.numberOfHits = r.useCount;
  }
  return out;
}

function kindOf(r: ContextRecord): (typeof KINDS)[number] {
  return r.origin === 'hosted' ? 'Hosted' : 'Cached';
}

export function hostedUrl(req: FastifyRequest, localId: string): string {
  return `${req.protocol}://${req.host}${BASE}/${localId}`;
}

export function registerContextRoutes(app: FastifyInstance, deps: ContextRouteDeps): void {
  const { store } = deps;

  app.get(BASE, guarded(ANYONE, PARAMS.contextsList), async (req) => {
    const p = req.query as Params;
    const details = str(p, 'details');
    if (details !== undefined && details !== 'true' && details !== 'false')
      throw badRequest('details must be true or false');
    const kind = str(p, 'kind');
    if (kind !== undefined && !(KINDS as readonly string[]).includes(kind))
      throw badRequest(`Unknown kind ${JSON.stringify(kind)}`);
    const records = await store.contexts.list();
    const rows = [coreInfo(deps.startedAt), ...records.map(infoOf)].filter(
      (r) => kind === undefined || r.kind === kind,
    );
    if (details !== 'true') return rows.map((r) => r.URL);
    return rows;
  });

  app.post(BASE, guarded({ who: 'account', audit: 'context.write' }, PARAMS.none), async (req, reply) => {
    const body = req.body;
    if (!isPlainObject(body) || !('@context' in body))
      throw invalidRequest('The body must be a JSON object with an @context member');
    const c = body['@context'];
    if (!(isPlainObject(c) || Array.isArray(c) || typeof c === 'string'))
      throw badRequest('@context must be an object, an array or a URL');
    const localId = randomUUID();
    const url = hostedUrl(req, localId);
    await store.contexts.put(url, { '@context': c }, 'hosted', localId);
    return reply.code(201).header('Location', `${BASE}/${localId}`).send();
  });

  const find = async (req: FastifyRequest): Promise<ContextRecord | 'core'> => {
    // The router decoded the id once; a URL given as the id may arrive encoded twice.
    const raw = (req.params as { contextId: string }).contextId;
    let key = raw;
    try {
      key = decodeURIComponent(raw);
    } catch {
      // `%` not followed by two hex digits: the id as the router decoded it
    }
    if (key === CORE_LOCAL_ID || isCoreContextUrl(key)) return 'core';
    const rec = (await store.contexts.getByLocalId(key)) ?? (await store.contexts.get(key));
    if (!rec) throw notFound(`No @context ${key}`, key);
    return rec;
  };

  app.get(`${BASE}/:contextId`, guarded(ANYONE, PARAMS.contextsOne), async (req, reply) => {
    const details = str(req.query as Params, 'details');
    if (details !== undefined && details !== 'true' && details !== 'false')
      throw badRequest('details must be true or false');
    const rec = await find(req);
    if (details === 'true')
      return reply.type('application/json').send(rec === 'core' ? coreInfo(deps.startedAt) : infoOf(rec));
    if (rec !== 'core') await store.contexts.touch(rec.url);
    return reply.type('application/json').send(rec === 'core' ? deps.coreDocument : rec.document);
  });

  app.delete(
    `${BASE}/:contextId`,
    guarded({ who: 'role', roles: ['system-administrator'], audit: 'context.write' }, PARAMS.contextsDelete),
    async (req, reply) => {
      const reload = str(req.query as Params, 'reload');
      if (reload !== undefined && reload !== 'true' && reload !== 'false')
        throw badRequest('reload must be true or false');
      let rec: ContextRecord | 'core';
      try {
        rec = await find(req);
      } catch (err) {
        // NGSI-LD §5.13.5: reloading something never cached is a bad request.
        if (reload === 'true' && err instanceof HubError && err.code === 'ResourceNotFound')
          throw badRequest(err.message);
        throw err;
      }
      if (rec === 'core') {
        if (reload === 'true') return reply.code(204).send(); // built in: nothing to fetch
        throw badRequest('The NGSI-LD core @context cannot be deleted');
      }
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
    },
  );
}
