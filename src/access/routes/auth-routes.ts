/**
 * Sign-in routes under /api/v1/auth: login (OAuth2-shaped answer), logout (revokes the token),
 * the caller's identity, TOTP enrolment, password change, and the JWKS of hub tokens.
 */
import type { FastifyInstance } from 'fastify';
import { HubError, badRequest } from '../../core/errors.js';
import type { HubAccess } from '../access-setup.js';
import { body, principalOf, reqString } from './access-request.js';
import { ANYONE, guarded, SIGNED_IN } from '../../http/route-access.js';

export function registerAuthRoutes(
  app: FastifyInstance,
  access: HubAccess,
  loginPerMinute: number | false,
): void {
  const { identity, store } = access;

  app.post(
    '/api/v1/auth/login',
    {
      config: {
        access: ANYONE,
        ...(loginPerMinute === false
          ? {}
          : {
              rateLimit: {
                max: loginPerMinute,
                timeWindow: 60_000,
                keyGenerator: (r: { ip: string }) => r.ip,
              },
            }),
      },
    },
    async (req, reply) => {
      const b = body(req);
      const username = reqString(b, 'username', 128);
      const password = reqString(b, 'password', 256);
      const totp =
        typeof b.totp === 'string' ? b.totp : typeof b.totp === 'number' ? String(b.totp) : undefined;
      try {
        const { result, user } = await identity.login(username, password, totp);
        await access.audit({
          actor: username,
          ...(user.department ? { department: user.department } : {}),
          action: 'login',
          outcome: 'success',
          ip: req.ip,
          detail: { scope: result.scope ?? 'full' },
        });
        return reply.header('cache-control', 'no-store').send(result);
      } catch (err) {
        if (!(err instanceof HubError)) throw err;
        const reason = (err as HubError & { reason?: string }).reason ?? 'other';
        const locked = (err as { locked?: boolean }).locked === true;
        access.events.emit(reason === 'locked' || locked ? 'login-locked' : 'login-failed', username, {
          reason,
        });
        await access.audit({
          actor: username,
          action: 'login',
          outcome: 'failure',
          ip: req.ip,
          detail: { reason, locked },
        });
        throw err;
      }
    },
  );

  app.post('/api/v1/auth/logout', guarded(SIGNED_IN), async (req, reply) => {
    const p = principalOf(access, req);
    if (p.sessionId) await store.revokeSession(p.sessionId);
    await access.audit({ actor: p.name, action: 'logout', outcome: 'success', ip: req.ip });
    return reply.code(204).send();
  });

  app.get('/api/v1/auth/me', guarded(SIGNED_IN), (req, reply) => {
    const p = principalOf(access, req);
    return reply.send({
      id: p.id,
      kind: p.kind,
      name: p.name,
      department: p.department ?? null,
      roles: p.roles,
      scope: p.scope ?? 'full',
    });
  });

  app.get('/api/v1/auth/jwks', guarded(ANYONE), (_req, reply) => reply.send(access.tokens.jwks));

  app.post('/api/v1/auth/totp', guarded(SIGNED_IN), async (req) => {
    const p = principalOf(access, req);
    if (p.kind !== 'user') throw badRequest('TOTP is for user accounts');
    const out = await identity.enrolTotp(p.id);
    await access.audit({ actor: p.name, action: 'totp.enrol', outcome: 'success', ip: req.ip });
    return out;
  });

  app.post('/api/v1/auth/totp/confirm', guarded(SIGNED_IN), async (req, reply) => {
    const p = principalOf(access, req);
    if (p.kind !== 'user') throw badRequest('TOTP is for user accounts');
    const code = reqString(body(req), 'code', 16);
    await identity.confirmTotp(p.id, code);
    await access.audit({ actor: p.name, action: 'totp.confirm', outcome: 'success', ip: req.ip });
    return reply.code(204).send();
  });

  app.post('/api/v1/auth/password', guarded(SIGNED_IN), async (req, reply) => {
    const p = principalOf(access, req);
    if (p.kind !== 'user') throw badRequest('Passwords are for user accounts');
    const b = body(req);
    const current = reqString(b, 'currentPassword', 256);
    const next = reqString(b, 'newPassword', 256);
    const user = await store.getUser(p.id);
    if (!user) throw new HubError('Unauthorized', 'The account is gone');
    // The current password again: a stolen session alone does not change it.
    await identity.login(user.username, current, undefined).catch((err: unknown) => {
      if (err instanceof HubError && /TOTP code is required/.test(err.message)) return;
      throw err;
    });
    await store.setPassword(p.id, await identity.hashPassword(user.username, next));
    await access.audit({ actor: p.name, action: 'password.change', outcome: 'success', ip: req.ip });
    return reply.code(204).send();
  });
}
