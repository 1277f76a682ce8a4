/**
 * Data export: `GET /api/v1/export` streams every entity a query matches (the filters of GET
 * /ngsi-ld/v1/entities: type, id, idPattern, q, scopeQ, geo, attrs, pick/omit, options) as JSON
 * lines, one entity per line, with the @context in the Link header. Reads go through the same
 * store as the API, so the department's policies, grants and masking hold, tagged reads are
 * audited, and the export itself is an audit record (`data.export`) with the number of entities.
 *
 * Pages of 1000 are read one after the other while the response is written (memory stays flat at
 * any size); each page is read in the request's context (its access: what the department may
 * see), which the stream would otherwise lose. Pages are taken by offset in creation order:
 * entities deleted during a long export can shift a page boundary (those created meanwhile come
 * last).
 */
import { AsyncResource } from 'node:async_hooks';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { renderEntity } from '../core/entity-output.js';
import { badRequest } from '../core/errors.js';
import type { EntityService } from '../broker/entity-service.js';
import type { ContextResolverPort } from '../http/ngsi-request.js';
import { JSONLD_CONTEXT_REL, contextLinkUrl, linkContextUrl, tenantOf } from '../http/ngsi-request.js';
import type { Params } from './query-options.js';
import { entityQueryOf, renderOptionsOf, str } from './query-options.js';
import type { TenantGuard } from './tenant-guard.js';
import { READS, guarded } from '../http/route-access.js';

const PAGE = 1000;

export interface ExportRouteDeps {
  entities: EntityService;
  contexts: ContextResolverPort;
  tenants: TenantGuard;
  /** Told when an export ends: how many entities went out, and whether it ran to the end. */
  onExported?: (
    req: FastifyRequest,
    e: { tenant: string; query: string; entities: number; complete: boolean },
  ) => Promise<void>;
}

export function registerExportRoutes(app: FastifyInstance, deps: ExportRouteDeps): void {
  app.get('/api/v1/export', guarded(READS), async (req, reply) => {
    const tenant = tenantOf(req);
    const ctx = await deps.contexts.resolve(linkContextUrl(req));
    const p = req.query as Params;
    for (const k of ['limit', 'offset', 'count'])
      if (str(p, k) !== undefined)
        throw badRequest(`${k} does not apply to an export: it returns every match`);
    const query = entityQueryOf(p, ctx, { requireFilter: false, pagination: false });
    const ro = renderOptionsOf(p, ctx);
    await deps.tenants.mustExistForRead(tenant);
    // Runs a later page's read in this request's context (the stream is read outside it).
    const inRequest = AsyncResource.bind(<T>(read: () => T): T => read());
    // The first page is read here, so that a refused or bad query is an error, not a cut stream.
    const first = await deps.entities.query(tenant, { ...query, limit: PAGE, offset: 0, count: false });
    const queryText = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '';
    let sent = 0;
    let complete = false;
    async function* lines(): AsyncGenerator<string> {
      try {
        let page = first.entities;
        let offset = 0;
        for (;;) {
          const out: string[] = [];
          for (const e of page) {
            const body = renderEntity(e, ctx, ro);
            if (Object.keys(body).length === 0) continue;
            out.push(`${JSON.stringify(body)}\n`);
          }
          sent += out.length;
          if (out.length > 0) yield out.join('');
          if (page.length < PAGE) break;
          offset += PAGE;
          const next = await inRequest(() =>
            deps.entities.query(tenant, { ...query, limit: PAGE, offset, count: false }),
          );
          page = next.entities;
        }
        complete = true;
      } finally {
        await deps.onExported?.(req, { tenant, query: queryText, entities: sent, complete });
      }
    }
    return reply
      .header(
        'Link',
        `<${contextLinkUrl(ctx.source)}>; rel="${JSONLD_CONTEXT_REL}"; type="application/ld+json"`,
      )
      .header('Content-Disposition', `attachment; filename="export-${tenant || 'default'}.ndjson"`)
      .type('application/x-ndjson')
      .send(Readable.from(lines()));
  });
}
