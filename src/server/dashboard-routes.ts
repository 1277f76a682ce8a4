/**
 * The operations dashboard (web/, built by Vite into web/dist) served at `/`. The files are public:
 * the dashboard logs in through the API like any client, and the API enforces access. When the
 * dashboard was not built, `/` says how to build it instead of a bare 404.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic, { type FastifyStaticOptions } from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { ANYONE, guarded } from '../http/route-access.js';

/** web/dist of this package (from dist/server/ and src/server/ alike). */
export function defaultDashboardDir(): string {
  return fileURLToPath(new URL('../../web/dist/', import.meta.url));
}

export function dashboardRoutes(dir: string): (app: FastifyInstance) => void {
  return (app) => {
    if (!existsSync(`${dir}/index.html`)) {
      app.get('/', guarded(ANYONE), (_req, reply) =>
        reply
          .type('text/html; charset=utf-8')
          .send(
            '<!doctype html><title>CityPivot</title><p>The dashboard is not built: run <code>npm run build</code>. ' +
              'The NGSI-LD API is at <a href="/ngsi-ld/v1/entities">/ngsi-ld/v1/</a>.</p>',
          ),
      );
      return;
    }
    void app.register(async (files) => {
      // The built files are public: every route the static plugin adds in this scope says so.
      // /openapi.json documents the page, not each built file (@fastify/static hides them all).
      files.addHook('onRoute', (route) => {
        route.config = { ...route.config, access: ANYONE };
        route.schema = { ...route.schema, hide: route.url !== '/' };
      });
      await files.register(fastifyStatic, dashboardFiles(dir));
    });
  };
}

function dashboardFiles(dir: string) {
  return {
    root: dir,
    prefix: '/',
    // One route per built file, found at start: nothing else under / is answered by this plugin.
    wildcard: false,
    index: ['index.html'],
    // The plugin's own Cache-Control (public, max-age=0) would replace the one set below.
    cacheControl: false,
    setHeaders(res, path) {
      // Vite names assets by content hash: they never change; index.html always may.
      res.setHeader(
        'Cache-Control',
        path.includes('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
    },
  } satisfies FastifyStaticOptions;
}
