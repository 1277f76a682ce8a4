/**
 * The access module's records in the audit log: appending (now, or in the background with a
 * failure logged), who a record names, and the record of each entity write, staged in the write's
 * transaction and chained later (audit-log.ts).
 */
import type { AuditActor } from '../core/access/access-port.js';
import type { AuditEvent } from '../core/access/audit-chain.js';
import type { AccessStore } from '../core/access/access-store.js';
import { changedAttributes } from '../core/access/read-filter.js';
import type { EntityChange } from '../broker/entity-service.js';
import type { RequestAccess } from './request-access.js';

export interface AuditTrail {
  /** Appends a record to the chain. */
  audit: (e: AuditEvent) => Promise<void>;
  /** Appends a record without waiting; a failure is logged, never thrown. */
  auditLater: (e: AuditEvent) => void;
}

export function createAuditTrail(deps: {
  store: AccessStore;
  now: () => Date;
  log: (line: string) => void;
}): AuditTrail {
  const audit = async (e: AuditEvent) => {
    await deps.store.audit.append(e, deps.now());
  };
  return {
    audit,
    auditLater(e) {
      audit(e).catch((err: unknown) => deps.log(`audit failed: ${(err as Error).message}`));
    },
  };
}

/** Who an audit record names: the account (anonymous without one), its department, the purpose stated, the address. */
export function auditedBy(a: RequestAccess | undefined, ip?: string): AuditActor {
  const address = a?.ip ?? ip;
  return {
    actor: a?.principal.name ?? 'anonymous',
    ...(a?.principal.department ? { department: a.principal.department } : {}),
    ...(a?.purpose ? { purpose: a.purpose } : {}),
    ...(address ? { ip: address } : {}),
  };
}

/** One audit record per tenant one write touched: who, and which entities were created, changed, deleted. */
export function writeAudit(a: RequestAccess, changes: EntityChange[]): AuditEvent[] {
  const byTenant = new Map<string, Record<string, string[]>>();
  for (const c of changes) {
    const t = byTenant.get(c.tenant) ?? {};
    (t[c.kind] ??= []).push(c.id);
    byTenant.set(c.tenant, t);
  }
  return [...byTenant].map(([tenant, ids]) => ({
    ...auditedBy(a),
    action: 'entity.write',
    target: tenant,
    outcome: 'success',
    detail: {
      ...ids,
      attrs: [
        ...new Set(
          changes.filter((c) => c.tenant === tenant).flatMap((c) => changedAttributes(c.before, c.after)),
        ),
      ],
    },
  }));
}
