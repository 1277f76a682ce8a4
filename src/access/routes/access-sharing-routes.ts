/**
 * Data sharing under /api/v1: datasets published to the catalog, access requests with purpose
 * and period, the owner's decision, and the sharing ledger.
 */
import type { FastifyInstance } from 'fastify';
import { HubError, notFound } from '../../core/errors.js';
import type { Store } from '../../core/store.js';
import {
  auditBase,
  body,
  expander,
  optArea,
  optString,
  optStringList,
  principalOf,
  reqString,
  type AccessRouteDeps,
} from './access-request.js';
import { ACCOUNT, guarded, role } from '../../http/route-access.js';
import { canShare } from '../../core/access/read-filter.js';

export function registerAccessSharingRoutes(
  app: FastifyInstance,
  deps: AccessRouteDeps & { rawStore: Store },
): void {
  const { access } = deps;
  const { store, sharing } = access;

  app.get('/api/v1/datasets', guarded(ACCOUNT), async () => {
    return store.sharing.listDatasets();
  });
  app.post('/api/v1/datasets', guarded(ACCOUNT), async (req, reply) => {
    const p = principalOf(access, req);
    const b = body(req);
    const expand = await expander(deps, req);
    const attrs = optStringList(b, 'attrs')?.map(expand);
    const area = optArea(b);
    const description = optString(b, 'description');
    const tenant = typeof b.tenant === 'string' ? b.tenant : '';
    const entityType = expand(reqString(b, 'entityType'));
    // A department shares only data it owns: a grant on the dataset reads it unmasked.
    const policies = (await access.accessFor(req)?.policies()) ?? [];
    if (!canShare(policies, tenant, entityType, attrs)) {
      access.events.emit('denied', p.name, { action: 'dataset.publish', tenant, entityType });
      throw new HubError(
        'Forbidden',
        `Your department may publish only data it owns (writes, in every area): not ${entityType}${attrs ? ` (${attrs.join(', ')})` : ''}`,
      );
    }
    const ds = await sharing.publish(p, {
      tenant,
      entityType,
      ...(attrs ? { attrs } : {}),
      ...(area ? { area } : {}),
      title: reqString(b, 'title'),
      ...(description ? { description } : {}),
    });
    await access.audit({
      ...auditBase(p, req),
      action: 'dataset.publish',
      target: ds.id,
      outcome: 'success',
      detail: { ...ds },
    });
    return reply.code(201).send(ds);
  });
  app.delete('/api/v1/datasets/:id', guarded(ACCOUNT), async (req, reply) => {
    const p = principalOf(access, req);
    const id = (req.params as { id: string }).id;
    const ds = await store.sharing.getDataset(id);
    if (!ds) throw notFound(`No dataset ${id}`);
    if (!(p.department === ds.ownerDepartment && p.roles.includes('department-admin')))
      throw new HubError('Forbidden', 'Only an administrator of the owning department withdraws a dataset');
    await store.sharing.deleteDataset(id);
    await access.audit({ ...auditBase(p, req), action: 'dataset.withdraw', target: id, outcome: 'success' });
    return reply.code(204).send();
  });

  app.post('/api/v1/datasets/:id/requests', guarded(ACCOUNT), async (req, reply) => {
    const p = principalOf(access, req);
    const b = body(req);
    const validFrom = optString(b, 'validFrom', 64);
    const r = await sharing.request(p, {
      datasetId: (req.params as { id: string }).id,
      purpose: reqString(b, 'purpose', 512),
      validUntil: reqString(b, 'validUntil', 64),
      ...(validFrom ? { validFrom } : {}),
    });
    await access.audit({
      ...auditBase(p, req),
      action: 'share.request',
      target: r.id,
      outcome: 'success',
      purpose: r.purpose,
      detail: { datasetId: r.datasetId, validUntil: r.validUntil },
    });
    return reply.code(201).send(r);
  });

  app.get('/api/v1/share-requests', guarded(ACCOUNT), async (req) => {
    const p = principalOf(access, req);
    const all = p.roles.includes('security-administrator') || p.roles.includes('auditor');
    if (all) return store.sharing.listRequests();
    if (!p.department) return [];
    return store.sharing.listRequests({ departments: [p.department] });
  });

  for (const verb of ['approve', 'deny'] as const) {
    app.post(`/api/v1/share-requests/:id/${verb}`, guarded(ACCOUNT), async (req) => {
      const p = principalOf(access, req);
      const id = (req.params as { id: string }).id;
      const b = req.body === undefined ? {} : body(req);
      const reason = optString(b, 'reason');
      const out = await sharing.decide(
        p,
        id,
        { approve: verb === 'approve', ...(reason ? { reason } : {}) },
        async (ds) => {
          const r = await deps.rawStore.queryEntities(ds.tenant, {
            type: { kind: 'type', name: ds.entityType },
            limit: 1,
            offset: 0,
            count: true,
          });
          return r.count ?? 0;
        },
      );
      await access.audit({
        ...auditBase(p, req),
        action: verb === 'approve' ? 'grant.approve' : 'grant.deny',
        target: id,
        outcome: 'success',
        purpose: out.request.purpose,
        detail: {
          recipient: out.request.department,
          validUntil: out.request.validUntil,
          ...(out.grant ? { grant: out.grant.id } : {}),
        },
      });
      return out;
    });
  }

  app.get('/api/v1/sharing-ledger', guarded(role('auditor', 'security-administrator')), async (req) => {
    const q = req.query as Record<string, string | undefined>;
    const limit = Math.min(Math.max(Number(q.limit ?? 100) || 100, 1), 1000);
    const offset = Math.max(Number(q.offset ?? 0) || 0, 0);
    return store.sharing.listLedger({ limit, offset });
  });
}
