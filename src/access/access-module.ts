/**
 * The access module (core/module.ts): authentication, department access, masking, sharing, the
 * audit log and their administration. The server creates it first, on its options: its port
 * (`access`, core/access/access-port.ts) guards the store, the entity writes and every HTTP
 * request of the hub, and the IoT module builds its own rules on it. Its routes are sign-in,
 * administration, sharing and audit; it starts by creating the first administrator (when there
 * is none) and chaining staged audit records in the background.
 */
import type { ContextResolverPort } from '../http/ngsi-request.js';
import type { HubModule, ModuleDefinition } from '../core/module.js';
import type { Store } from '../core/store.js';
import { createHubAccess, type AccessOptions, type HubAccess } from './access-setup.js';
import { accessRoutes } from './routes/access-routes.js';

/** What the server hands the access module. */
export interface AccessKernel {
  options: AccessOptions;
  /** The store unguarded (a dataset's entities are counted whatever the publisher may see). */
  rawStore: Store;
  /** Expands type and attribute names of requests (called only once requests come). */
  contexts: ContextResolverPort;
}

/** The access module as the server holds it. */
export interface AccessModule extends HubModule {
  /** Its port, and the services its routes, the demo and the tests use. */
  access: HubAccess;
}

export const accessModule: ModuleDefinition<AccessKernel, AccessModule> = {
  name: 'access',
  async create(k) {
    const access = await createHubAccess(k.options);
    const rateLimit = k.options.rateLimit;
    let stopBackground: (() => Promise<void>) | undefined;
    return {
      name: 'access',
      access,
      routes: accessRoutes(access, {
        contexts: k.contexts,
        rawStore: k.rawStore,
        loginPerMinute: rateLimit === false ? false : (rateLimit?.login ?? 10),
      }),
      /**
       * The first administrator when there is none (its one-time password logged now: the hub
       * starts its modules once it listens, so a start that fails creates no account), then the
       * background work (audit chaining, catalog reloads).
       */
      async start() {
        await access.bootstrap();
        stopBackground = access.startBackground();
      },
      async stop() {
        await stopBackground?.();
        stopBackground = undefined;
      },
    };
  },
};
