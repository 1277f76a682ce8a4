/**
 * Administration under /api/v1: departments, API keys and the data catalog (system
 * administrator); users, roles, policies, grants and the password policy (security
 * administrator). Every change is audited.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { badRequest, notFound } from '../../core/errors.js';
import type { CatalogEntry } from '../../core/access/access-model.js';
import { SENSITIVITY_CLASSES } from '../../core/access/access-model.js';
import { MASK_KINDS, type MaskKind } from '../../core/access/masking.js';
import { mergePolicy } from '../../core/access/password-policy.js';
import { createAdministration, type Actor } from '../administration.js';
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

export function registerAccessAdminRoutes(app: FastifyInstance, deps: AccessRouteDeps): void {
  const { access } = deps;
  const { store, identity } = access;
  const admin = createAdministration({ store, identity, audit: access.audit, now: access.now });
  const actorOf = (req: Parameters<typeof auditBase>[1]): Actor => {
    const p = principalOf(access, req);
    const { actor: name, ...rest } = auditBase(p, req);
    return { name, id: p.id, ...rest };
  };
  const audit = (
    p: ReturnType<typeof principalOf>,
    req: Parameters<typeof auditBase>[1],
    action: string,
    target: string,
    detail?: Record<string, unknown>,
  ) =>
    access.audit({ ...auditBase(p, req), action, target, outcome: 'success', ...(detail ? { detail } : {}) });

  // departments
  app.get('/api/v1/departments', guarded(ACCOUNT), async () => {
    return admin.listDepartments();
  });
  app.post('/api/v1/departments', guarded(role('system-administrator')), async (req, reply) => {
    const created = await admin.createDepartment(body(req), actorOf(req));
    return reply.code(201).send(created);
  });
  app.patch('/api/v1/departments/:id', guarded(role('system-administrator')), async (req, reply) => {
    await admin.updateDepartment((req.params as { id: string }).id, body(req), actorOf(req));
    return reply.code(204).send();
  });
  app.delete('/api/v1/departments/:id', guarded(role('system-administrator')), async (req, reply) => {
    await admin.deleteDepartment((req.params as { id: string }).id, actorOf(req));
    return reply.code(204).send();
  });

  // users
  const userId = (req: { params: unknown }) => (req.params as { id: string }).id;
  app.get('/api/v1/users', guarded(role('security-administrator')), async () => {
    return admin.listUsers();
  });
  app.post('/api/v1/users', guarded(role('security-administrator')), async (req, reply) => {
    return reply.code(201).send(await admin.createUser(body(req), actorOf(req)));
  });
  app.patch('/api/v1/users/:id', guarded(role('security-administrator')), async (req, reply) => {
    await admin.updateUser(userId(req), body(req), actorOf(req));
    return reply.code(204).send();
  });
  app.delete('/api/v1/users/:id', guarded(role('security-administrator')), async (req, reply) => {
    await admin.deleteUser(userId(req), actorOf(req));
    return reply.code(204).send();
  });
  app.post('/api/v1/users/:id/password', guarded(role('security-administrator')), async (req, reply) => {
    await admin.resetPassword(userId(req), body(req).password, actorOf(req));
    return reply.code(204).send();
  });
  app.post('/api/v1/users/:id/unlock', guarded(role('security-administrator')), async (req, reply) => {
    await admin.unlockUser(userId(req), actorOf(req));
    return reply.code(204).send();
  });
  app.delete('/api/v1/users/:id/totp', guarded(role('security-administrator')), async (req, reply) => {
    await admin.resetTotp(userId(req), actorOf(req));
    return reply.code(204).send();
  });

  // API keys
  app.get('/api/v1/api-keys', guarded(role('system-administrator')), async () => {
    return admin.listApiKeys();
  });
  app.post('/api/v1/api-keys', guarded(role('system-administrator')), async (req, reply) => {
    // The key is shown this once: only its hash is kept.
    return reply.code(201).send(await admin.createApiKey(body(req), actorOf(req)));
  });
  app.delete('/api/v1/api-keys/:id', guarded(role('system-administrator')), async (req, reply) => {
    await admin.revokeApiKey((req.params as { id: string }).id, actorOf(req));
    return reply.code(204).send();
  });

  // policies
  app.get('/api/v1/policies', guarded(role('security-administrator', 'auditor')), async () => {
    return admin.listPolicies();
  });
  app.post('/api/v1/policies', guarded(role('security-administrator')), async (req, reply) => {
    const policy = await admin.createPolicy(body(req), actorOf(req), await expander(deps, req));
    return reply.code(201).send(policy);
  });
  app.delete('/api/v1/policies/:id', guarded(role('security-administrator')), async (req, reply) => {
    await admin.deletePolicy((req.params as { id: string }).id, actorOf(req));
    return reply.code(204).send();
  });
  app.get('/api/v1/password-policy', guarded(role('security-administrator', 'auditor')), async () => {
    return identity.policy();
  });
  app.put('/api/v1/password-policy', guarded(role('security-administrator')), async (req, reply) => {
    const p = principalOf(access, req);
    const merged = mergePolicy(await identity.policy(), req.body);
    if (typeof merged === 'string') throw badRequest(`Invalid password policy: ${merged}`);
    await store.putSetting('password-policy', merged);
    await audit(p, req, 'password-policy.update', 'password-policy', { ...merged });
    return reply.code(204).send();
  });

  // the data catalog
  app.get('/api/v1/catalog', guarded(ACCOUNT), (_req, reply) => {
    return reply.send(access.catalog());
  });
  app.put('/api/v1/catalog', guarded(role('system-administrator')), async (req, reply) => {
    const p = principalOf(access, req);
    const b = body(req);
    const expand = await expander(deps, req);
    const sensitivity = reqString(b, 'sensitivity', 32);
    if (!(SENSITIVITY_CLASSES as readonly string[]).includes(sensitivity))
      throw badRequest(`sensitivity must be one of ${SENSITIVITY_CLASSES.join(', ')}`);
    const mask = optString(b, 'mask', 32) ?? 'auto';
    if (!(MASK_KINDS as readonly string[]).includes(mask))
      throw badRequest(`mask must be one of ${MASK_KINDS.join(', ')}`);
    const entry: CatalogEntry = {
      tenant: typeof b.tenant === 'string' ? b.tenant : '*',
      entityType: expand(reqString(b, 'entityType')),
      attr: expand(reqString(b, 'attr')),
      sensitivity: sensitivity as CatalogEntry['sensitivity'],
      mask: mask as MaskKind,
    };
    await store.putCatalog(entry);
    await access.reloadCatalog();
    await audit(p, req, 'catalog.put', `${entry.entityType} ${entry.attr}`, { ...entry });
    return reply.code(204).send();
  });
  app.delete('/api/v1/catalog', guarded(role('system-administrator')), async (req, reply) => {
    const p = principalOf(access, req);
    const q = req.query as Record<string, string | undefined>;
    const expand = await expander(deps, req);
    if (!q.entityType || !q.attr) throw badRequest('entityType and attr are needed');
    const ok = await store.deleteCatalog(q.tenant ?? '*', expand(q.entityType), expand(q.attr));
    if (!ok) throw notFound('No such catalog entry');
    await access.reloadCatalog();
    await audit(p, req, 'catalog.delete', `${q.entityType} ${q.attr}`);
    return reply.code(204).send();
  });

  // grants given directly by the security administrator
  app.get('/api/v1/grants', guarded(role('security-administrator', 'auditor')), async () => {
    return store.sharing.listGrants();
  });
  app.post('/api/v1/grants', guarded(role('security-administrator')), async (req, reply) => {
    const p = principalOf(access, req);
    const b = body(req);
    const expand = await expander(deps, req);
    const until = reqString(b, 'validUntil', 64);
    if (!Number.isFinite(Date.parse(until))) throw badRequest('validUntil must be a date-time');
    const attrs = optStringList(b, 'attrs')?.map(expand);
    const area = optArea(b);
    const grant = {
      id: randomUUID(),
      department: reqString(b, 'department', 64),
      tenant: typeof b.tenant === 'string' ? b.tenant : '',
      entityType: expand(reqString(b, 'entityType')),
      ...(attrs ? { attrs } : {}),
      purpose: reqString(b, 'purpose'),
      ...(area ? { area } : {}),
      validFrom: access.now().toISOString(),
      validUntil: new Date(until).toISOString(),
    };
    await store.sharing.createGrant(grant, p.name);
    await audit(p, req, 'grant.create', grant.id, { ...grant });
    return reply.code(201).send(grant);
  });
  app.delete('/api/v1/grants/:id', guarded(role('security-administrator')), async (req, reply) => {
    const p = principalOf(access, req);
    const id = (req.params as { id: string }).id;
    if (!(await store.sharing.revokeGrant(id))) throw notFound(`No active grant ${id}`);
    await audit(p, req, 'grant.revoke', id);
    return reply.code(204).send();
  });

  app.get(
    '/api/v1/security/metrics',
    guarded(role('auditor', 'security-administrator')),
    async (req, reply) => {
      return reply.type('text/plain; version=0.0.4').send(access.events.metricsText());
    },
  );
}
