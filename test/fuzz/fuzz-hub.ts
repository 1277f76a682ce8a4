/**
 * The hub the security fuzzer attacks: authentication on (admin without TOTP, rate limits off so
 * that thousands of requests a minute are answered rather than refused with 429), encryption at
 * rest, the IoT edge, @context fetching off, on a database of its own. Driven with inject, and
 * listening on port 0 for the raw-socket requests inject cannot make.
 *
 * Background work that writes on its own is not started (notification delivery, periodic
 * notifications, history jobs): the fuzzer compares the data before and after each request, and
 * a write the hub makes later, for an earlier request, would be blamed on the current one. The
 * entity cache and the audit chaining run as in production.
 */
import diagnostics from 'node:diagnostics_channel';
import { join } from 'node:path';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { createHubServices } from '../../src/server/hub-services.js';
import { registeredRoutes, type RegisteredRoute } from '../../src/server/http-app.js';
import { createPostgresStore } from '../../src/store/postgres-store.js';
import { createPostgresIotRegistry } from '../../src/iot/postgres-iot.js';
import { createPostgresAccessStore } from '../../src/access/postgres-access.js';
import { openPool } from '../../src/store/database.js';
import type { HubAccess } from '../../src/access/access-setup.js';
import type { EntityService } from '../../src/broker/entity-service.js';
import type { ActiveContext } from '../../src/core/context/active-context.js';
import type { RouteAccess } from '../../src/http/route-access.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

export const ADMIN_PASSWORD = 'Chief-Passw0rd!';
export const USER_PASSWORD = 'User-Passw0rd!';

const SDM_DIR = join(import.meta.dirname, '../../vendor/smart-data-models');
/** A fixed data key: the fuzzer needs encryption at rest on, not a secret key. */
const DATA_KEY = Buffer.alloc(32, 7);

/** A route as the fuzzer knows it: what registeredRoutes lists, and the parameters it defines. */
export interface FuzzRoute {
  method: string;
  url: string;
  access: RouteAccess | undefined;
  /** `config.params`: the query parameters the operation defines (undefined: not checked). */
  params: readonly string[] | undefined;
}

export interface FuzzHub {
  app: FastifyInstance;
  /** Every route the app registered (registeredRoutes), with the query parameters it defines. */
  routes: readonly FuzzRoute[];
  db: TestDatabase;
  access: HubAccess;
  entities: EntityService;
  /** The @context of requests without one (the core context). */
  coreContext(): Promise<ActiveContext>;
  /** What the hub logged at level error since the last call (internal errors with their stack). */
  takeErrors(): string[];
  /** Starts listening on 127.0.0.1, port 0; returns the port. */
  listen(): Promise<number>;
  close(): Promise<void>;
}

export async function createFuzzHub(): Promise<FuzzHub> {
  const db = await createTestDatabase();
  const pool = openPool({ url: db.url, max: 9 });
  const store = await createPostgresStore({ url: db.url, pool });
  const registry = createPostgresIotRegistry(pool);
  const accessStore = createPostgresAccessStore(pool);
  // `config.params` (the parameters each operation defines) is not in registeredRoutes: it is
  // read as Fastify adds the routes, through the hook the initialization channel lets a tool add.
  const params = new Map<string, readonly string[] | undefined>();
  const onInit = (message: unknown) => {
    (message as { fastify: FastifyInstance }).fastify.addHook('onRoute', (route: RouteOptions) => {
      for (const method of [route.method].flat()) params.set(`${method} ${route.url}`, route.config?.params);
    });
  };
  diagnostics.subscribe('fastify.initialization', onInit);
  // Internal errors are logged with their cause: kept for the report of a 5xx.
  let errors: string[] = [];
  const services = await createHubServices(store, {
    fetchContexts: false,
    logger: {
      level: 'error',
      stream: {
        write(line: string) {
          if (errors.length < 20) errors.push(line);
        },
      },
    },
    iot: { registry, schemasDir: SDM_DIR, counterFlushMs: 200, healthSweepMs: 1000 },
    access: {
      store: accessStore,
      adminPassword: ADMIN_PASSWORD,
      adminTotp: false,
      rateLimit: false,
      dataKey: DATA_KEY,
    },
  }).finally(() => diagnostics.unsubscribe('fastify.initialization', onInit));
  const access = services.access as HubAccess;
  // The first administrator (services.start() creates it; the rest of start() is run by hand).
  await access.bootstrap();
  await services.cache?.start();
  const stopAccessWork = access.startBackground();
  const { app } = services;
  let closed = false;
  return {
    app,
    routes: registeredRoutes(app).map((r: RegisteredRoute) => ({
      ...r,
      params: params.get(`${r.method} ${r.url}`),
    })),
    db,
    access,
    entities: services.entities,
    coreContext: () => services.resolver.resolve(undefined),
    takeErrors() {
      const out = errors;
      errors = [];
      return out;
    },
    async listen() {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const addr = app.server.address();
      if (addr === null || typeof addr === 'string') throw new Error('The hub is not listening on TCP');
      return addr.port;
    },
    async close() {
      if (closed) return;
      closed = true;
      await stopAccessWork();
      await services.stop();
      await app.close();
      await store.close();
      await pool.end();
      await db.drop();
    },
  };
}
