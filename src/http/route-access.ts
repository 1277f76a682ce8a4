/**
 * Who may call a route, declared in the route's own options (`config.access`). Authentication and
 * authorization read the declaration of the route the router matched, never the URL string, so
 * that no spelling of a path (percent-encoded, doubled slashes, a trailing slash) reaches a route
 * under another route's rule. A route that declares nothing is refused (403), with or without
 * authentication; test/access/route-authorization.test.ts enumerates every registered route.
 */
import type { FastifyRequest } from 'fastify';
import type { Role } from '../core/access/access-model.js';

/** What a write route records in the audit log per request (entity writes record each write itself too). */
export type AuditAction =
  | 'entity.write'
  | 'temporal.write'
  | 'subscription.write'
  | 'context.write'
  | 'iot.provision'
  | 'notification.replay';

export type RouteAccess =
  /** Anyone, without credentials: health, sign-in, the token JWKS, @context documents, the dashboard. */
  | { readonly who: 'anyone' }
  /**
   * Devices sending readings: they present their config group's apikey (and their own secret when
   * they have one), which the route checks; what they write is checked against the rights of the
   * department that owns the config group.
   */
  | { readonly who: 'device' }
  /**
   * Any signed-in account (user, API key, external token), whatever its department; `enrolment`:
   * also an administrator's first token, which may only enrol TOTP.
   */
  | { readonly who: 'account'; readonly enrolment?: boolean; readonly audit?: AuditAction }
  /** A signed-in account holding one of these roles. */
  | { readonly who: 'role'; readonly roles: readonly Role[]; readonly audit?: AuditAction }
  /**
   * A signed-in account whose department may `action` something of the request's tenant; every
   * entity read or written is checked again by the access layer (policies, areas, masking).
   * `audit`: the request is audited under this action; `tokenInQuery`: the token may come as
   * `?access_token=` (EventSource cannot set headers).
   */
  | {
      readonly who: 'data';
      readonly action: 'read' | 'write';
      readonly audit?: AuditAction;
      readonly tokenInQuery?: boolean;
    };

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route (required: a route without it is refused). */
    access?: RouteAccess;
    /** The query parameters the NGSI-LD operation defines (route-params.ts). */
    params?: readonly string[];
  }
}

export const ANYONE: RouteAccess = { who: 'anyone' };
export const DEVICE: RouteAccess = { who: 'device' };
export const ACCOUNT: RouteAccess = { who: 'account' };
export const READS: RouteAccess = { who: 'data', action: 'read' };

/** Sign-in routes an administrator's first token may use too (TOTP enrolment, the caller's identity). */
export const SIGNED_IN: RouteAccess = { who: 'account', enrolment: true };
/** Entity writes: the request is audited when refused, each committed write by the access layer. */
export const WRITES_ENTITIES: RouteAccess = { who: 'data', action: 'write', audit: 'entity.write' };
/** Temporal provision: writes of entities and their history. */
export const WRITES_HISTORY: RouteAccess = { who: 'data', action: 'write', audit: 'temporal.write' };
/** Subscriptions read data (later, on the subscriber's behalf); changing one is audited. */
export const SUBSCRIBES: RouteAccess = { who: 'data', action: 'read', audit: 'subscription.write' };

export const role = (...roles: Role[]): RouteAccess => ({ who: 'role', roles });

/** Route options with an access rule (and the query parameters an NGSI-LD operation defines, if any). */
export function guarded(access: RouteAccess, params?: readonly string[]) {
  return { config: { access, ...(params ? { params } : {}) } };
}

/** The rule of the route a request matched; undefined when the route declares none. */
export function routeAccessOf(req: FastifyRequest): RouteAccess | undefined {
  return req.routeOptions.config?.access;
}

/** Did the router match a route (as opposed to the not-found handler)? */
export function matchedRoute(req: FastifyRequest): boolean {
  return req.routeOptions.url !== undefined;
}
