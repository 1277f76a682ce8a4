/**
 * What a read leaves behind, called by the guarded store after each read made under a request's
 * access: the account's read volume (security events), an audit record when it returned tagged
 * (personal) attributes, and a sharing ledger entry for each grant that let entities through.
 */
import type { AccessStore } from '../core/access/access-store.js';
import type { ReadFilter } from '../core/access/read-filter.js';
import { auditedBy, type AuditTrail } from './audit-trail.js';
import type { RequestAccess } from './request-access.js';
import type { SecurityEvents } from './security-events.js';

export function createReadRecords(deps: { store: AccessStore; events: SecurityEvents; trail: AuditTrail }) {
  const { store, events, trail } = deps;
  return async function onRead(
    a: RequestAccess,
    tenant: string,
    f: ReadFilter,
    entities: { types: string[] }[],
  ): Promise<void> {
    events.countRead(a.principal.name, entities.length);
    if (f.report.tagged.size > 0) {
      await trail.audit({
        ...auditedBy(a),
        action: 'read.personal',
        target: tenant,
        outcome: 'success',
        detail: {
          attrs: [...f.report.tagged],
          entities: entities.length,
          unmasked: f.report.unmasked,
          types: [...new Set(entities.flatMap((e) => e.types))],
        },
      });
    }
    if (f.report.grantsUsed.size > 0 && a.principal.department) {
      const grants = (await a.grants()).filter((g) => f.report.grantsUsed.has(g.id));
      for (const g of grants) {
        await store.sharing.appendLedger({
          kind: 'read',
          ...(g.datasetId ? { datasetId: g.datasetId } : {}),
          ...(g.requestId ? { requestId: g.requestId } : {}),
          grantId: g.id,
          tenant,
          entityType: g.entityType,
          recipientDepartment: a.principal.department,
          purpose: a.purpose ?? g.purpose,
          scale: entities.filter((e) => e.types.includes(g.entityType)).length,
          actor: a.principal.name,
        });
      }
    }
  };
}
