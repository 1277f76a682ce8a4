/**
 * GET /api/v1/stream: entity changes as Server-Sent Events, for dashboards. The filter is an entity
 * query (type, id, idPattern, q) and the rendering that of a GET (attrs, pick, omit, options), under
 * the request's tenant and @context. Each event is
 *   event: change
 *   data: {"tenant", "id", "kind": "created|updated|deleted", "type", "entity"}
 * and a comment line every 15 s keeps proxies from closing an idle stream. A client that cannot keep
 * up (more than 1 MiB waiting) is disconnected rather than letting memory grow.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { HubError } from '../core/errors.js';
import type { EntityView } from '../core/subscription/subscription-store.js';
import { renderEntity } from '../core/entity-output.js';
import type { EntityQuery } from '../core/store.js';
import { matchesTypeExpr } from '../core/subscription/change-trigger.js';
import type { ChangeStream, StreamEvent } from '../broker/change-stream.js';
import type { EntityService } from '../broker/entity-service.js';
import type { ContextResolverPort } from '../http/ngsi-request.js';
import { linkContextUrl, tenantOf } from '../http/ngsi-request.js';
import { entityQueryOf, renderOptionsOf, type Params } from './query-options.js';
import { guarded } from '../http/route-access.js';

const HEARTBEAT_MS = 15_000;
const MAX_BUFFERED = 1 << 20;

export interface StreamRouteDeps {
  stream: ChangeStream;
  entities: EntityService;
  contexts: ContextResolverPort;
  /**
   * With authentication on: what the caller may see of the tenant (events it may not read are not
   * sent; attributes are dropped and masked as on any read). Undefined view: nothing at all.
   */
  viewFor?: (req: FastifyRequest, tenant: string) => Promise<EntityView | undefined>;
  /** Refuses (Forbidden) a q on attributes the caller may not filter on: it runs later, unmasked. */
  checkFilters?: (tenant: string, query: EntityQuery) => Promise<void>;
}

export function registerStreamRoutes(app: FastifyInstance, deps: StreamRouteDeps): void {
  const open = new Set<() => void>();
  // Streams never end by themselves: close them before the server waits for its connections.
  app.addHook('preClose', (done) => {
    for (const close of [...open]) close();
    done();
  });
  app.get(
    '/api/v1/stream',
    guarded({ who: 'data', action: 'read', tokenInQuery: true }, [
      'type',
      'id',
      'idPattern',
      'q',
      'attrs',
      'pick',
      'omit',
      'options',
      'format',
      'lang',
      'access_token',
    ]),
    async (req, reply) => {
      const tenant = tenantOf(req);
      const ctx = await deps.contexts.resolve(linkContextUrl(req));
      const p = req.query as Params;
      // Parsed before the stream opens, so that a bad filter is an ordinary ProblemDetails answer.
      const query = entityQueryOf(p, ctx, { requireFilter: false, pagination: false });
      const ro = renderOptionsOf(p, ctx);
      let view: EntityView | undefined;
      if (deps.viewFor) {
        view = await deps.viewFor(req, tenant);
        if (!view) throw new HubError('Forbidden', `No read access to tenant ${JSON.stringify(tenant)}`);
      }
      await deps.checkFilters?.(tenant, query);
      const ids = query.ids ? new Set(query.ids) : undefined;
      const idPattern = query.idPattern === undefined ? undefined : new RegExp(query.idPattern);

      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'Content-Type': 'text/event-stream',
        'Cache-Control': 'no-cache',
        Connection: 'keep-alive',
        'X-Accel-Buffering': 'no',
      });
      raw.write('retry: 3000\n: connected\n\n');
      let seq = 0;
      let closed = false;

      const passes = (e: StreamEvent) =>
        e.tenant === tenant &&
        (!view || !e.entity || view.allows(e.entity)) &&
        (!ids || ids.has(e.id)) &&
        (!idPattern || idPattern.test(e.id)) &&
        (!query.type || matchesTypeExpr(query.type, e.types));

      const send = (events: StreamEvent[]) => {
        for (const e of events) {
          if (closed) return;
          const body = {
            tenant: e.tenant,
            id: e.id,
            kind: e.kind,
            type: e.types.map((t) => ctx.compact(t)),
            ...(e.entity && e.kind !== 'deleted'
              ? { entity: renderEntity(view ? view.project(e.entity) : e.entity, ctx, ro) }
              : {}),
          };
          raw.write(`id: ${++seq}\nevent: change\ndata: ${JSON.stringify(body)}\n\n`);
          if (raw.writableLength > MAX_BUFFERED) close();
        }
      };

      // q is checked by the store against the entities as they are now, one query per batch.
      const onEvents = (events: StreamEvent[]) => {
        const mine = events.filter(passes);
        if (mine.length === 0) return;
        if (!query.q) {
          send(mine);
          return;
        }
        const live = mine.filter((e) => e.kind !== 'deleted').map((e) => e.id);
        const q: EntityQuery = { ids: live, q: query.q, limit: live.length, offset: 0, count: false };
        deps.entities
          .query(tenant, q)
          .then((r) => {
            const hit = new Set(r.entities.map((e) => e.id));
            send(mine.filter((e) => hit.has(e.id)));
          })
          .catch(() => close());
      };

      const unsubscribe = deps.stream.subscribe(onEvents);
      const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), HEARTBEAT_MS);
      heartbeat.unref();
      function close() {
        if (closed) return;
        closed = true;
        open.delete(close);
        clearInterval(heartbeat);
        unsubscribe();
        raw.end();
      }
      open.add(close);
      req.raw.on('close', close);
    },
  );
}
