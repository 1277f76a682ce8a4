/**
 * All routes of the access layer as one route set for buildHttpApp: sign-in, administration,
 * sharing and audit.
 */
import type { FastifyInstance } from 'fastify';
import type { Store } from '../../core/store.js';
import type { HubAccess } from '../access-setup.js';
import type { ContextResolverPort } from '../../http/ngsi-request.js';
import { registerAuthRoutes } from './auth-routes.js';
import { registerAccessAdminRoutes } from './access-admin-routes.js';
import { registerAccessSharingRoutes } from './access-sharing-routes.js';
import { registerAccessAuditRoutes } from './access-audit-routes.js';

export function accessRoutes(
  access: HubAccess,
  deps: { contexts: ContextResolverPort; rawStore: Store; loginPerMinute: number | false },
): (app: FastifyInstance) => void {
  return (app) => {
    registerAuthRoutes(app, access, deps.loginPerMinute);
    registerAccessAdminRoutes(app, { access, contexts: deps.contexts });
    registerAccessSharingRoutes(app, { access, contexts: deps.contexts, rawStore: deps.rawStore });
    registerAccessAuditRoutes(app, access);
  };
}
