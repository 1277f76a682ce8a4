/**
 * A hub wired to a fresh database of its own, driven in-process with Fastify inject (no socket).
 */
import type pg from 'pg';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { createHubServices } from '../../src/server/hub-services.js';
import { createPostgresStore } from '../../src/store/postgres-store.js';
import type { Store } from '../../src/core/store.js';
import type { EntityService } from '../../src/broker/entity-service.js';
import type { DeliveryOptions } from '../../src/server/notification-services.js';
import { createTestDatabase } from './db.js';
import type { AccessOptions, HubAccess } from '../../src/access/access-setup.js';
import { createPostgresAccessStore } from '../../src/access/postgres-access.js';
import { openPool } from '../../src/store/database.js';
import type { TrafficOptions } from '../../src/transport/traffic-setup.js';

export interface TestHub {
  app: FastifyInstance;
  store: Store;
  url: string;
  /** The hub's pool, for checks and changes in SQL. */
  pool: pg.Pool;
  request(opts: InjectOptions): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
  /** The access layer, when the hub was made with `auth`. */
  access?: HubAccess;
  entities: EntityService;
}

/** A hub on a fresh database; it never fetches @context URLs unless `fetchContexts`. */
export async function createTestHub(
  opts: {
    fetchContexts?: boolean;
    delivery?: DeliveryOptions;
    /** Authentication and access control on (off by default); rate limits off unless given. */
    auth?: Partial<Omit<AccessOptions, 'store'>>;
    /** Proxies whose X-Forwarded-For counts (default none). */
    trustProxy?: string[];
    /** The city's air quality index standard (default HJ 633-2026). */
    aqiStandard?: 'HJ 633-2012' | 'HJ 633-2026' | 'by-date';
    /** How often the district and city AQI are recomputed (ms; default one minute). */
    areaAqiIntervalMs?: number;
    /** false: the indicator modules derive nothing (--no-indicators). */
    indicators?: boolean;
    /** Tuning of the traffic indicators (shorter periods). */
    traffic?: TrafficOptions;
  } = {},
): Promise<TestHub> {
  const db = await createTestDatabase();
  const pool = openPool({ url: db.url, max: 7 });
  const store = await createPostgresStore({ url: db.url, pool });
  const accessStore = opts.auth ? createPostgresAccessStore(pool) : undefined;
  const services = await createHubServices(store, {
    fetchContexts: opts.fetchContexts ?? false,
    ...(opts.delivery ? { delivery: opts.delivery } : {}),
    ...(opts.trustProxy ? { trustProxy: opts.trustProxy } : {}),
    ...(opts.aqiStandard ? { aqiStandard: opts.aqiStandard } : {}),
    ...(opts.areaAqiIntervalMs !== undefined ? { areaAqiIntervalMs: opts.areaAqiIntervalMs } : {}),
    ...(opts.indicators === false ? { indicators: false } : {}),
    ...(opts.traffic ? { traffic: opts.traffic } : {}),
    ...(opts.auth && accessStore ? { access: { rateLimit: false, ...opts.auth, store: accessStore } } : {}),
  });
  await services.start();
  // A consumer new to the database starts at the feed's end once held: tests write after that.
  const until = Date.now() + 20_000;
  const names = services.feed.consumerNames();
  while (!names.every((n) => services.feed.runner.holding().includes(n))) {
    if (Date.now() > until) throw new Error(`the change feed consumers were not held: ${names.join(', ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const { app } = services;
  return {
    app,
    store,
    url: db.url,
    pool,
    request: (opts) => app.inject(opts),
    entities: services.entities,
    ...(services.access ? { access: services.access } : {}),
    async close() {
      await services.stop();
      await app.close();
      await store.close();
      await pool.end();
      await db.drop();
    },
  };
}

export const LD = 'application/ld+json';
export const JSON_CT = { 'content-type': 'application/json' };

/** A Link header naming a JSON-LD context. */
export function link(url: string): Record<string, string> {
  return { link: `<${url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"` };
}

export function json<T = unknown>(res: LightMyRequestResponse): T {
  return JSON.parse(res.body) as T;
}
