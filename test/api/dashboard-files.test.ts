/**
 * The dashboard's built files: assets named by content hash are cached for a year (immutable),
 * the page itself is revalidated on every load, so a new build is seen at once.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { dashboardRoutes } from '../../src/server/dashboard-routes.js';

let app: FastifyInstance;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'citypivot-dashboard-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>x</title>');
  writeFileSync(join(dir, 'assets', 'index-3f2a1b.js'), 'console.log(1)');
  app = Fastify();
  dashboardRoutes(dir)(app);
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('caches hashed assets for a year and revalidates the page', async () => {
  const asset = await app.inject({ url: '/assets/index-3f2a1b.js' });
  expect(asset.statusCode).toBe(200);
  expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
  for (const url of ['/', '/index.html']) {
    const page = await app.inject({ url });
    expect(page.statusCode, url).toBe(200);
    expect(page.headers['cache-control'], url).toBe('no-cache');
  }
});
