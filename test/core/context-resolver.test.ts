import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LdContextNotAvailableError,
  createContextResolver,
  fetchContextDocument,
  type ContextDocumentStore,
  type ContextResolverOptions,
} from '../../src/broker/context-resolver.js';
import { InvalidContextError } from '../../src/core/context/context-source.js';
import { CORE_CONTEXT_URL, CORE_CONTEXT_URLS } from '../../src/core/context/core-context.js';
import { loadBundledContexts } from '../../src/server/bundled-contexts.js';

const NGSI = 'https://uri.etsi.org/ngsi-ld/';
const DEF = 'https://uri.etsi.org/ngsi-ld/default-context/';
const ENV_IO = 'https://smart-data-models.github.io/dataModel.Environment/context.jsonld';
const ENV_RAW =
  'https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/context.jsonld';
const PM25 = 'https://smartdatamodels.org/dataModel.Environment/pm25';
const REMOTE = 'https://city.example/ctx.jsonld';

let bundled: Map<string, unknown>;
beforeAll(async () => {
  bundled = await loadBundledContexts();
});

/** An in-memory ContextDocumentStore that records what was put. */
function memoryStore(initial: Record<string, unknown> = {}) {
  const docs = new Map(Object.entries(initial));
  const puts: { url: string; origin: string }[] = [];
  const store: ContextDocumentStore = {
    get: (url) => Promise.resolve(docs.get(url)),
    put: (url, document, origin) => {
      docs.set(url, document);
      puts.push({ url, origin });
      return Promise.resolve();
    },
  };
  return { store, docs, puts };
}

/** A fetchDocument serving `remote` by URL, counting calls; unknown URLs fail like a network error. */
function fakeFetch(remote: Record<string, unknown>) {
  const calls: string[] = [];
  const fetchDocument = (url: string): Promise<unknown> => {
    calls.push(url);
    return url in remote
      ? Promise.resolve(structuredClone(remote[url]))
      : Promise.reject(new Error('getaddrinfo ENOTFOUND'));
  };
  return { fetchDocument, calls };
}

function setup(remote: Record<string, unknown> = {}, extra: Partial<ContextResolverOptions> = {}) {
  const mem = memoryStore();
  const net = fakeFetch(remote);
  const resolver = createContextResolver({
    bundled,
    store: mem.store,
    fetchDocument: net.fetchDocument,
    ...extra,
  });
  return { resolver, ...mem, ...net };
}

describe('bundled and core contexts', () => {
  it('gives the core-only context for no @context', async () => {
    const { resolver, calls } = setup();
    const ctx = await resolver.resolve(undefined);
    expect(ctx).toBe(resolver.core);
    expect(ctx.expand('Property')).toBe(`${NGSI}Property`);
    expect(ctx.expand('pm25')).toBe(`${DEF}pm25`);
    expect(ctx.source).toBe(CORE_CONTEXT_URL);
    expect(calls).toEqual([]);
  });

  it('never fetches a core context URL', async () => {
    const { resolver, calls } = setup();
    const urls = [...CORE_CONTEXT_URLS, 'http://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.3.jsonld'];
    for (const url of urls) {
      const ctx = await resolver.resolve(url);
      expect(ctx.expand('observedAt'), url).toBe(`${NGSI}observedAt`);
      expect(ctx.source).toBe(url);
    }
    expect(calls).toEqual([]);
  });

  it('resolves both published URLs of a Smart Data Models context from the bundle', async () => {
    const { resolver, calls } = setup();
    for (const url of [ENV_IO, ENV_RAW]) {
      const ctx = await resolver.resolve(url);
      expect(ctx.expand('pm25')).toBe(PM25);
      expect(ctx.compact(PM25)).toBe('pm25');
    }
    expect(calls).toEqual([]);
  });

  it('bundles every domain under both URLs', () => {
    const sdm = [...bundled.keys()].filter((u) => u.includes('smart-data-models'));
    expect(sdm.length).toBeGreaterThanOrEqual(18);
    for (const u of sdm.filter((x) => x.includes('github.io'))) {
      const domain = /dataModel\.[A-Za-z]+/.exec(u)?.[0] ?? '';
      expect(
        bundled.get(`https://raw.githubusercontent.com/smart-data-models/${domain}/master/context.jsonld`),
      ).toBe(bundled.get(u));
    }
  });

  it('applies the core context last wherever the client puts it', async () => {
    const { resolver } = setup();
    const value = [CORE_CONTEXT_URL, ENV_IO, { Property: 'https://evil.example/Property' }];
    const ctx = await resolver.resolve(value);
    expect(ctx.expand('Property')).toBe(`${NGSI}Property`);
    expect(ctx.expand('pm25')).toBe(PM25);
    expect(ctx.source).toEqual(value);
  });

  it('fails to start without a core context', () => {
    expect(() => createContextResolver({ bundled: new Map() })).toThrow(/core context/);
  });
});

describe('remote contexts', () => {
  const remote = { [REMOTE]: { '@context': { noise: 'https://city.example/noise' } } };

  it('fetches once, stores as cached, then serves from memory and the store', async () => {
    const { resolver, calls, store, puts } = setup(remote);
    const a = await resolver.resolve(REMOTE);
    expect(a.expand('noise')).toBe('https://city.example/noise');
    expect(await resolver.resolve(REMOTE)).toBe(a);
    await resolver.resolve([REMOTE, ENV_IO]);
    expect(calls).toEqual([REMOTE]);
    expect(puts).toEqual([{ url: REMOTE, origin: 'cached' }]);

    const net2 = fakeFetch(remote);
    const second = createContextResolver({ bundled, store, fetchDocument: net2.fetchDocument });
    expect((await second.resolve(REMOTE)).expand('noise')).toBe('https://city.example/noise');
    expect(net2.calls).toEqual([]);
  });

  it('keeps fetched documents in memory without a store', async () => {
    const net = fakeFetch(remote);
    const resolver = createContextResolver({ bundled, fetchDocument: net.fetchDocument, maxCompiled: 1 });
    await resolver.resolve(REMOTE);
    await resolver.resolve([REMOTE, { x: 'https://e.org/x' }]);
    expect(net.calls).toEqual([REMOTE]);
  });

  it('shares one fetch between concurrent resolves', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    let count = 0;
    const resolver = createContextResolver({
      bundled,
      fetchDocument: async () => {
        count++;
        await gate;
        return remote[REMOTE];
      },
    });
    const all = Promise.all([
      resolver.resolve(REMOTE),
      resolver.resolve(REMOTE),
      resolver.resolve([REMOTE, ENV_IO]),
    ]);
    release();
    const [a, b, c] = await all;
    expect(count).toBe(1);
    expect(a).toBe(b);
    expect(c.expand('noise')).toBe('https://city.example/noise');
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['an unreachable URL', {}, /ENOTFOUND/],
    [
      'a document without @context',
      { [REMOTE]: { noise: 'x' } },
      /no.*@context|not a JSON object with an @context/,
    ],
    ['a JSON array', { [REMOTE]: [1, 2] }, /@context/],
  ])('answers LdContextNotAvailable for %s, and tries again next time', async (_name, served, message) => {
    const { resolver, calls, puts } = setup(served);
    await expect(resolver.resolve(REMOTE)).rejects.toBeInstanceOf(LdContextNotAvailableError);
    await expect(resolver.resolve(REMOTE)).rejects.toThrow(message);
    const err = await resolver.resolve([ENV_IO, REMOTE]).catch((e: unknown) => e);
    expect((err as LdContextNotAvailableError).code).toBe('LdContextNotAvailable');
    expect((err as LdContextNotAvailableError).url).toBe(REMOTE);
    expect(calls).toEqual([REMOTE, REMOTE, REMOTE]);
    expect(puts).toEqual([]);
  });

  it('rejects malformed context values and documents with InvalidContextError', async () => {
    const { resolver } = setup({ [REMOTE]: { '@context': { noise: 5 } } });
    for (const bad of [42, 'ctx.jsonld', [[ENV_IO]], { '@context': {} }]) {
      await expect(resolver.resolve(bad)).rejects.toBeInstanceOf(InvalidContextError);
    }
    await expect(resolver.resolve(REMOTE)).rejects.toThrow(/"noise"/);
  });

  it('reports store failures as warnings and fetches instead', async () => {
    const warnings: string[] = [];
    const net = fakeFetch(remote);
    const broken: ContextDocumentStore = {
      get: () => Promise.reject(new Error('db down')),
      put: () => Promise.reject(new Error('db down')),
    };
    const resolver = createContextResolver({
      bundled,
      store: broken,
      fetchDocument: net.fetchDocument,
      onWarning: (m) => warnings.push(m),
    });
    expect((await resolver.resolve(REMOTE)).expand('noise')).toBe('https://city.example/noise');
    expect(warnings).toHaveLength(2);
  });

  it('reloads a document from the network and forgets compiled contexts', async () => {
    const served: Record<string, unknown> = { ...remote };
    const { resolver, calls, puts } = setup(served);
    await resolver.resolve(REMOTE);
    served[REMOTE] = { '@context': { noise: 'https://city.example/noise-v2' } };
    await resolver.reload(REMOTE);
    expect((await resolver.resolve(REMOTE)).expand('noise')).toBe('https://city.example/noise-v2');
    expect(calls).toEqual([REMOTE, REMOTE]);
    expect(puts.map((p) => p.origin)).toEqual(['cached', 'cached']);
    expect(await resolver.reload(ENV_IO)).toBe(bundled.get(ENV_IO));
  });
});

describe('nested references', () => {
  const A = 'https://a.example/ctx/a.jsonld';
  const B = 'https://a.example/ctx/b.jsonld';
  const C = 'https://c.example/c.jsonld';

  it('follows URLs inside documents, relative ones against the document URL', async () => {
    const { resolver, calls } = setup({
      [A]: { '@context': ['b.jsonld', ENV_RAW, { fromA: 'https://e.org/a' }] },
      [B]: { '@context': { fromB: 'https://e.org/b' } },
    });
    const ctx = await resolver.resolve(A);
    expect([ctx.expand('fromA'), ctx.expand('fromB'), ctx.expand('pm25')]).toEqual([
      'https://e.org/a',
      'https://e.org/b',
      PM25,
    ]);
    expect(calls).toEqual([A, B]);
  });

  it('applies @import with the importing definitions first', async () => {
    const { resolver } = setup({
      [C]: { '@context': { shared: 'https://e.org/theirs', other: 'https://e.org/other' } },
    });
    const ctx = await resolver.resolve({ '@import': C, shared: 'https://e.org/mine' });
    expect(ctx.expand('shared')).toBe('https://e.org/mine');
    expect(ctx.expand('other')).toBe('https://e.org/other');
  });

  it.each<[string, Record<string, unknown>, unknown]>([
    ['a self reference', { [A]: { '@context': A } }, A],
    ['a two-document cycle', { [A]: { '@context': [B] }, [B]: { '@context': ['a.jsonld'] } }, A],
    ['an @import cycle', { [C]: { '@context': { '@import': C } } }, C],
  ])('rejects %s', async (_name, served, value) => {
    const { resolver } = setup(served);
    await expect(resolver.resolve(value)).rejects.toBeInstanceOf(InvalidContextError);
  });

  it('names the cycle', async () => {
    const { resolver } = setup({ [A]: { '@context': [B] }, [B]: { '@context': [A] } });
    await expect(resolver.resolve(A)).rejects.toThrow(`${A} → ${B} → ${A}`);
  });

  it('accepts the same document twice when it is not a cycle', async () => {
    const { resolver } = setup({
      [A]: { '@context': [B, B] },
      [B]: { '@context': { fromB: 'https://e.org/b' } },
    });
    expect((await resolver.resolve([A, B])).expand('fromB')).toBe('https://e.org/b');
  });

  it('limits the nesting depth', async () => {
    const chain: Record<string, unknown> = {};
    for (let i = 0; i < 6; i++)
      chain[`https://d.example/${i}`] = { '@context': i < 5 ? `https://d.example/${i + 1}` : {} };
    const { resolver } = setup(chain, { maxDepth: 3 });
    await expect(resolver.resolve('https://d.example/0')).rejects.toThrow(/deeper than 3/);
    const deep = setup(chain);
    await expect(deep.resolver.resolve('https://d.example/0')).resolves.toBeDefined();
  });
});

describe('compiled context cache', () => {
  it('memoises by a stable key and evicts the least recently used', async () => {
    const { resolver } = setup({}, { maxCompiled: 2 });
    const a = await resolver.resolve({ a: 'https://e.org/a', b: 'https://e.org/b' });
    expect(await resolver.resolve({ b: 'https://e.org/b', a: 'https://e.org/a' })).toBe(a);
    const b = await resolver.resolve(ENV_IO);
    await resolver.resolve(ENV_RAW); // evicts a, the least recently used
    expect(await resolver.resolve(ENV_IO)).toBe(b);
    expect(await resolver.resolve({ a: 'https://e.org/a', b: 'https://e.org/b' })).not.toBe(a);
  });
});

describe('fetchContextDocument (the default fetcher)', () => {
  let server: Server;
  let base = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/moved') res.writeHead(302, { location: '/ctx' }).end();
      else if (req.url === '/ctx') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('{"@context":{"a":"https://e.org/a"}}');
      } else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  it('follows redirects and parses JSON served as text/plain', async () => {
    expect(await fetchContextDocument(`${base}/moved`)).toEqual({ '@context': { a: 'https://e.org/a' } });
  });
  it('turns an HTTP error into LdContextNotAvailable through the resolver', async () => {
    const resolver = createContextResolver({ bundled });
    await expect(resolver.resolve(`${base}/missing`)).rejects.toThrow(/HTTP 404/);
    expect((await resolver.resolve(`${base}/ctx`)).expand('a')).toBe('https://e.org/a');
  });
  it('refuses non-HTTP URLs', async () => {
    await expect(fetchContextDocument('urn:example:ctx')).rejects.toThrow(/cannot be fetched/);
  });
});
