/**
 * The audit log for auditors: GET /api/v1/audit (filtered, paged by seq), /api/v1/audit/verify
 * (walks the hash chain), /api/v1/audit/export (JSON lines). There is no route that changes it.
 */
import type { FastifyInstance } from 'fastify';
import { badRequest } from '../../core/errors.js';
import { AUDIT_OUTCOMES, type AuditOutcome } from '../../core/access/audit-chain.js';
import type { HubAccess } from '../access-setup.js';
import { verifyAuditLog } from '../audit-log.js';
import { auditBase, principalOf } from './access-request.js';
import { guarded, role } from '../../http/route-access.js';

export function registerAccessAuditRoutes(app: FastifyInstance, access: HubAccess): void {
  app.get('/api/v1/audit', guarded(role('auditor')), async (req) => {
    const p = principalOf(access, req);
    const q = req.query as Record<string, string | undefined>;
    const time = (k: string) => {
      const v = q[k];
      if (v === undefined) return undefined;
      if (!Number.isFinite(Date.parse(v))) throw badRequest(`${k} must be a date-time`);
      return new Date(v).toISOString();
    };
    if (q.outcome !== undefined && !(AUDIT_OUTCOMES as readonly string[]).includes(q.outcome))
      throw badRequest(`outcome must be one of ${AUDIT_OUTCOMES.join(', ')}`);
    const from = time('from');
    const to = time('to');
    await access.flushAudit();
    const rows = await access.store.audit.query({
      ...(q.actor !== undefined ? { actor: q.actor } : {}),
      ...(q.action !== undefined ? { action: q.action } : {}),
      ...(q.outcome !== undefined ? { outcome: q.outcome as AuditOutcome } : {}),
      ...(from ? { from } : {}),
      ...(to ? { to } : {}),
      ...(q.afterSeq !== undefined ? { afterSeq: Number(q.afterSeq) || 0 } : {}),
      limit: Math.min(Math.max(Number(q.limit ?? 100) || 100, 1), 1000),
    });
    await access.audit({
      ...auditBase(p, req),
      action: 'audit.read',
      outcome: 'success',
      detail: { records: rows.length },
    });
    return rows;
  });

  app.get('/api/v1/audit/verify', guarded(role('auditor')), async (req) => {
    const p = principalOf(access, req);
    const r = await verifyAuditLog(access.store);
    await access.audit({
      ...auditBase(p, req),
      action: 'audit.verify',
      outcome: r.ok ? 'success' : 'failure',
      detail: { ...r },
    });
    return r;
  });

  app.get('/api/v1/audit/export', guarded(role('auditor')), async (req, reply) => {
    const p = principalOf(access, req);
    await access.audit({ ...auditBase(p, req), action: 'audit.export', outcome: 'success' });
    await access.flushAudit();
    const lines: string[] = [];
    for await (const page of access.store.audit.scan()) for (const r of page) lines.push(JSON.stringify(r));
    return reply.type('application/x-ndjson').send(lines.length ? `${lines.join('\n')}\n` : '');
  });
}
