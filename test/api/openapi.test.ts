/**
 * Issue 17, item 5: `GET /openapi.json` is a valid OpenAPI 3.1 document that describes every
 * route the hub registers (but those named in HIDDEN), each with the tag, access rule and
 * credentials its route declares; `GET /docs` is a reference page that loads from the hub alone.
 * Both are public with authentication on. The routes come from Fastify's onRoute
 * (registeredRoutes), so a route added later is checked here without a line of its own.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIotTestHub, type IotTestHub } from '../iot/support/iot-hub.js';
import { createTestHub } from '../support/test-hub.js';
import { buildHttpApp, registeredRoutes, type RegisteredRoute } from '../../src/server/http-app.js';
import { dashboardRoutes } from '../../src/server/dashboard-routes.js';
import { SUMMARIES } from '../../src/server/openapi-summaries.js';
import { TAGS } from '../../src/server/openapi.js';

/** Routes left out of the document on purpose: the reference page's files and its own copies of the document. */
const HIDDEN = [
  'GET /docs/json',
  'GET /docs/yaml',
  'GET /docs/static/*',
  'GET /docs/static/index.html',
  'GET /docs/static/swagger-initializer.js',
];
/** With the dashboard built: its files (the page at `/` is documented). */
const HIDDEN_DASHBOARD = ['GET /index.html', 'GET /assets/app.js'];

interface Operation {
  tags?: string[];
  summary?: string;
  description?: string;
  operationId?: string;
  security?: Record<string, string[]>[];
  parameters?: { in: string; name: string; required?: boolean }[];
  'x-citypivot-access'?: unknown;
}
interface Doc {
  openapi: string;
  info: { title: string; version: string; description: string };
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, unknown> };
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const toPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\*/g, '{*}');
const keyOf = (r: RegisteredRoute) => `${r.method} ${r.url}`;
const operationOf = (doc: Doc, method: string, url: string) => doc.paths[toPath(url)]?.[method.toLowerCase()];

/** Every operation of the document, as `METHOD /path`. */
function operations(doc: Doc): string[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((m) => METHODS.includes(m))
      .map((m) => `${m.toUpperCase()} ${path}`),
  );
}

async function documentOf(app: FastifyInstance): Promise<Doc> {
  const r = await app.inject({ method: 'GET', url: '/openapi.json' });
  expect(r.statusCode, r.body).toBe(200);
  expect(r.headers['content-type']).toBe('application/json');
  return JSON.parse(r.body) as Doc;
}

/**
 * The registered routes missing from the document (a HEAD route needs the GET of its URL
 * there: HEAD answers are the GET's without a body), and the document's operations that are no
 * registered route.
 */
function compare(doc: Doc, routes: readonly RegisteredRoute[], hidden: readonly string[]) {
  const shown = routes.filter((r) => !hidden.includes(keyOf(r)) && !hidden.includes(`GET ${r.url}`));
  const missing = shown
    .filter((r) => !operationOf(doc, r.method === 'HEAD' ? 'GET' : r.method, r.url))
    .map(keyOf);
  const registered = new Set(routes.map((r) => `${r.method} ${toPath(r.url)}`));
  const extra = operations(doc).filter((k) => !registered.has(k));
  return { missing, extra, shown: shown.filter((r) => r.method !== 'HEAD') };
}

async function validate(doc: Doc): Promise<void> {
  const validator = new Validator();
  // (a copy: resolveRefs replaces the references of the object it was given)
  const res = await validator.validate(structuredClone(doc) as unknown as Record<string, unknown>);
  expect(res.errors ?? [], JSON.stringify(res.errors, null, 1)).toEqual([]);
  expect(res.valid).toBe(true);
  expect(validator.version).toBe('3.1');
  // every $ref resolves
  expect(() => validator.resolveRefs()).not.toThrow();
}

/** The `src`/`href` of every script, stylesheet and icon of a page. */
function assetUrls(html: string): string[] {
  return [...html.matchAll(/<(?:script|link)\b[^>]*?\s(?:src|href)="([^"]*)"/g)].map((m) => m[1] ?? '');
}
const EXTERNAL = /^(?:[a-z][a-z0-9+.-]*:)?\/\//i;

describe('/openapi.json and /docs of a hub with authentication and the IoT edge on', () => {
  let hub: IotTestHub;
  let doc: Doc;
  let routes: readonly RegisteredRoute[];

  beforeAll(async () => {
    hub = await createIotTestHub({ auth: {}, mqtt: 'off' });
    routes = registeredRoutes(hub.app);
    doc = await documentOf(hub.app);
  }, 120_000);
  afterAll(async () => {
    await hub?.close();
  });

  it('is readable without credentials, and is valid OpenAPI 3.1', async () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBe('CityPivot');
    expect(doc.info.description).not.toContain('without authentication');
    await validate(doc);
  });

  it('describes every registered route with its method, and nothing else', () => {
    expect(routes.length).toBeGreaterThan(100);
    const { missing, extra } = compare(doc, routes, HIDDEN);
    expect(missing).toEqual([]);
    expect(extra).toEqual([]);
    for (const h of HIDDEN) {
      const [method = '', url = ''] = h.split(' ');
      expect(
        routes.some((r) => r.method === method && r.url === url),
        `${h} is hidden but not registered`,
      ).toBe(true);
      expect(operationOf(doc, method, url), h).toBeUndefined();
    }
  });

  it("gives each operation a tag, a summary, the route's access rule and the credentials it takes", () => {
    const tags = TAGS.map((t) => t.name);
    const ids = new Set<string>();
    for (const r of compare(doc, routes, HIDDEN).shown) {
      const key = keyOf(r);
      const op = operationOf(doc, r.method, r.url) as Operation;
      expect(op.tags, key).toHaveLength(1);
      expect(tags, key).toContain(op.tags?.[0]);
      expect(op.summary, key).toBe(SUMMARIES[key]);
      expect(op['x-citypivot-access'], key).toEqual(r.access);
      expect(op.description, key).toMatch(/^\*\*Access:\*\*/);
      const schemes = (op.security ?? []).flatMap((s) => Object.keys(s));
      const who = r.access?.who;
      if (who === 'anyone') expect(op.security, key).toEqual([]);
      else if (who === 'device') expect(schemes, key).toContain('deviceKey');
      else {
        expect(schemes, key).toEqual(expect.arrayContaining(['bearerToken', 'apiKey']));
        expect(op.security, key).toContainEqual({ bearerToken: [] });
      }
      for (const s of schemes) expect(Object.keys(doc.components.securitySchemes), key).toContain(s);
      // path parameters, from the route's URL
      for (const [, name] of r.url.matchAll(/:([A-Za-z0-9_]+)/g))
        expect(op.parameters, key).toContainEqual(
          expect.objectContaining({ in: 'path', name, required: true }),
        );
      expect(op.operationId, key).toBeDefined();
      expect(ids.has(op.operationId ?? ''), `${key}: operationId ${op.operationId} twice`).toBe(false);
      ids.add(op.operationId ?? '');
    }
  });

  it('documents the query parameters an NGSI-LD operation defines, not those it refuses', () => {
    const query = operationOf(doc, 'GET', '/ngsi-ld/v1/entities') as Operation;
    const names = (query.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
    expect(names).toEqual(expect.arrayContaining(['type', 'q', 'georel', 'limit', 'offset', 'count']));
    expect(names).not.toContain('entityMap'); // not supported: answered 501
    expect(query.parameters).toContainEqual(expect.objectContaining({ in: 'header', name: 'NGSILD-Tenant' }));
    const stream = operationOf(doc, 'GET', '/api/v1/stream') as Operation;
    expect(stream.security).toContainEqual({ accessToken: [] });
  });

  it('has no summary for a route that does not exist', () => {
    const known = new Set([...routes.map(keyOf), 'GET /']); // `/`: the dashboard (below)
    expect(Object.keys(SUMMARIES).filter((k) => !known.has(k))).toEqual([]);
  });

  it('/docs/json, the copy the page loads, is the same document', async () => {
    const r = await hub.request({ method: 'GET', url: '/docs/json' });
    expect(r.statusCode).toBe(200);
    expect(JSON.parse(r.body)).toEqual(doc);
  });

  describe('the reference page', () => {
    let page: LightMyRequestResponse;
    beforeAll(async () => {
      page = await hub.request({ method: 'GET', url: '/docs' });
    });

    it('answers HTML without credentials', () => {
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.body).toContain('<div id="swagger-ui">');
    });

    it('loads its scripts and styles from the hub: no other origin, no inline script', async () => {
      const urls = assetUrls(page.body);
      expect(urls.length).toBeGreaterThanOrEqual(4);
      expect(urls.filter((u) => EXTERNAL.test(u))).toEqual([]);
      expect(page.body).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
      for (const u of urls) {
        const r = await hub.request({ method: 'GET', url: new URL(u, 'http://hub/docs').pathname });
        expect(r.statusCode, u).toBe(200);
        if (u.endsWith('.js')) {
          expect(r.headers['content-type'], u).toMatch(/javascript/);
        }
        if (u.endsWith('.css')) {
          expect(r.headers['content-type'], u).toMatch(/^text\/css/);
          expect(r.body, u).not.toMatch(/@import|url\(\s*["']?(?:https?:)?\/\//i);
        }
      }
      // The page's own script loads the document from the hub (a comment names a web page).
      const init = await hub.request({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
      const code = init.body.replace(/^\s*\/\/.*$/gm, '');
      expect(code).not.toMatch(/https?:\/\//);
      expect(code).toContain("resolveUrl('./json')");
    });

    it('is served under the strict content security policy of the hub', () => {
      const csp = String(page.headers['content-security-policy']);
      const scriptSrc = /script-src ([^;]*)/.exec(csp)?.[1] ?? '';
      expect(scriptSrc).toBe("'self'");
      expect(csp).toContain("script-src-attr 'none'");
    });

    it('answers with a trailing slash too, its files then named relatively', async () => {
      const r = await hub.request({ method: 'GET', url: '/docs/' });
      expect(r.statusCode).toBe(200);
      for (const u of assetUrls(r.body)) {
        expect(u).toMatch(/^\.\/static\//);
        const a = await hub.request({ method: 'GET', url: new URL(u, 'http://hub/docs/').pathname });
        expect(a.statusCode, u).toBe(200);
      }
      // a trailing slash names the same file, as everywhere in the hub
      const css = await hub.request({ method: 'GET', url: '/docs/static/swagger-ui.css/' });
      expect(css.statusCode).toBe(200);
      const index = await hub.request({ method: 'GET', url: '/docs/static/index.html/' });
      expect(index.statusCode).toBe(302);
      expect(index.headers.location).toBe('/docs/');
    });
  });
});

describe('/openapi.json of a hub without authentication, with the dashboard', () => {
  let app: FastifyInstance;
  let dir: string;
  let close: () => Promise<void>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'citypivot-openapi-'));
    mkdirSync(join(dir, 'assets'));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>x</title>');
    writeFileSync(join(dir, 'assets', 'app.js'), 'console.log(1)');
    const hub = await createTestHub();
    app = await buildHttpApp({
      store: hub.store,
      entities: undefined as never,
      contexts: {
        resolve: () => Promise.reject(new Error('unused')),
        forget: () => undefined,
        reload: () => Promise.resolve(),
      },
      coreContextDocument: {},
      routes: [dashboardRoutes(dir), (a) => a.get('/undeclared', () => ({ leaked: true }))],
    });
    close = async () => {
      await app.close();
      await hub.close();
    };
  }, 120_000);
  afterAll(async () => {
    await close?.();
    rmSync(dir, { recursive: true, force: true });
  });

  it('says so, asks no credentials anywhere, and keeps each rule for information', async () => {
    const doc = await documentOf(app);
    await validate(doc);
    expect(doc.info.description).toContain('without authentication');
    const routes = registeredRoutes(app);
    const { missing, extra, shown } = compare(doc, routes, [...HIDDEN, ...HIDDEN_DASHBOARD]);
    expect(missing).toEqual([]);
    expect(extra).toEqual([]);
    for (const r of shown) {
      const op = operationOf(doc, r.method, r.url) as Operation;
      expect(op.security, keyOf(r)).toEqual([]);
      expect(op['x-citypivot-access'], keyOf(r)).toEqual(r.access);
    }
    const entities = operationOf(doc, 'GET', '/ngsi-ld/v1/entities') as Operation;
    expect(entities['x-citypivot-access']).toEqual({ who: 'data', action: 'read' });
  });

  it("hides the dashboard's files but documents its page", async () => {
    const doc = await documentOf(app);
    const routes = registeredRoutes(app).map(keyOf);
    for (const h of HIDDEN_DASHBOARD) {
      expect(routes, h).toContain(h);
      const [method = '', url = ''] = h.split(' ');
      expect(operationOf(doc, method, url), h).toBeUndefined();
    }
    const root = operationOf(doc, 'GET', '/') as Operation;
    expect(root.summary).toBe(SUMMARIES['GET /']);
    expect(root['x-citypivot-access']).toEqual({ who: 'anyone' });
    expect(registeredRoutes(app).find((r) => r.url === '/assets/app.js')?.access).toEqual({ who: 'anyone' });
  });

  it('describes a route without an access rule as refused to everyone', async () => {
    const doc = await documentOf(app);
    const op = operationOf(doc, 'GET', '/undeclared') as Operation;
    expect(op.description).toContain('refused to everyone');
    expect(op['x-citypivot-access']).toBeUndefined();
    const r = await app.inject({ method: 'GET', url: '/undeclared' });
    expect(r.statusCode).toBe(403);
  });
});
