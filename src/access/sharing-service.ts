/**
 * Data sharing between departments (GB/T 35273 §9.2, PIPL Art.23): a department publishes a
 * dataset (entity type, attributes, area) to the catalog; another requests access with a purpose
 * and a period; the owner approves or denies; approval writes a grant that ends by itself at the
 * end of the period, and a ledger entry (date, scale, purpose, recipient).
 */
import { randomUUID } from 'node:crypto';
import { HubError, badRequest } from '../core/errors.js';
import type { AccessGrant, Principal } from '../core/access/access-model.js';
import type { AccessStore } from '../core/access/access-store.js';
import type { Dataset, ShareRequest } from '../core/access/access-store.js';

/** Longest share period: one year. */
const MAX_PERIOD_MS = 366 * 86_400_000;

export function createSharingService(deps: { store: AccessStore; now: () => Date }) {
  const { store, now } = deps;

  const mayActFor = (p: Principal, department: string) =>
    p.department === department &&
    (p.roles.includes('department-admin') || p.roles.includes('department-user'));
  const isOwnerAdmin = (p: Principal, department: string) =>
    p.department === department && p.roles.includes('department-admin');

  return {
    async publish(p: Principal, d: Omit<Dataset, 'id' | 'ownerDepartment' | 'createdBy'>): Promise<Dataset> {
      if (!p.department || !p.roles.includes('department-admin'))
        throw new HubError(
          'Forbidden',
          'Only a department administrator publishes datasets of the department',
        );
      const ds: Dataset = { ...d, id: randomUUID(), ownerDepartment: p.department, createdBy: p.name };
      await store.sharing.createDataset(ds);
      return ds;
    },

    async request(
      p: Principal,
      r: { datasetId: string; purpose: string; validFrom?: string; validUntil: string },
    ): Promise<ShareRequest> {
      if (!p.department || !mayActFor(p, p.department))
        throw new HubError('Forbidden', 'Access is requested by a member of a department');
      const ds = await store.sharing.getDataset(r.datasetId);
      if (!ds) throw new HubError('ResourceNotFound', `No dataset ${r.datasetId}`);
      if (ds.ownerDepartment === p.department)
        throw badRequest('The dataset belongs to your department already');
      const from = r.validFrom ? Date.parse(r.validFrom) : now().getTime();
      const until = Date.parse(r.validUntil);
      if (!Number.isFinite(from) || !Number.isFinite(until) || until <= from)
        throw badRequest('validUntil must be a date-time after validFrom');
      if (until - from > MAX_PERIOD_MS) throw badRequest('A share lasts at most one year');
      if (until <= now().getTime()) throw badRequest('validUntil is in the past');
      const req: ShareRequest = {
        id: randomUUID(),
        datasetId: ds.id,
        department: p.department,
        purpose: r.purpose,
        validFrom: new Date(from).toISOString(),
        validUntil: new Date(until).toISOString(),
        state: 'pending',
        requestedBy: p.name,
      };
      await store.sharing.createRequest(req);
      return req;
    },

    /**
     * The owner's decision. `scale` counts the entities the dataset covers now, for the ledger.
     * Returns the grant on approval.
     */
    async decide(
      p: Principal,
      id: string,
      decision: { approve: boolean; reason?: string },
      scale: (ds: Dataset) => Promise<number>,
    ): Promise<{ request: ShareRequest; grant?: AccessGrant }> {
      const req = await store.sharing.getRequest(id);
      if (!req) throw new HubError('ResourceNotFound', `No access request ${id}`);
      const ds = await store.sharing.getDataset(req.datasetId);
      if (!ds) throw new HubError('ResourceNotFound', `No dataset ${req.datasetId}`);
      if (!isOwnerAdmin(p, ds.ownerDepartment))
        throw new HubError('Forbidden', 'Only an administrator of the owning department decides');
      if (req.state !== 'pending') throw new HubError('Conflict', `The request is ${req.state} already`);
      const state = decision.approve ? 'approved' : 'denied';
      let grant: AccessGrant | undefined;
      if (decision.approve) {
        grant = {
          id: randomUUID(),
          department: req.department,
          tenant: ds.tenant,
          entityType: ds.entityType,
          ...(ds.attrs ? { attrs: ds.attrs } : {}),
          purpose: req.purpose,
          ...(ds.area ? { area: ds.area } : {}),
          validFrom: req.validFrom,
          validUntil: req.validUntil,
          requestId: req.id,
          datasetId: ds.id,
        };
      }
      const ok = await store.sharing.decide(
        id,
        { state, by: p.name, ...(decision.reason ? { reason: decision.reason } : {}) },
        grant
          ? {
              grant,
              ledger: {
                kind: 'approved',
                datasetId: ds.id,
                requestId: req.id,
                grantId: grant.id,
                tenant: ds.tenant,
                entityType: ds.entityType,
                ownerDepartment: ds.ownerDepartment,
                recipientDepartment: req.department,
                purpose: req.purpose,
                scale: await scale(ds),
                validUntil: req.validUntil,
                actor: p.name,
              },
            }
          : undefined,
      );
      if (!ok) throw new HubError('Conflict', 'The request was decided concurrently');
      return { request: { ...req, state, decidedBy: p.name }, ...(grant ? { grant } : {}) };
    },
  };
}

export type SharingService = ReturnType<typeof createSharingService>;
