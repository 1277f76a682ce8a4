/**
 * Turns a request's @context value into a compiled {@link ActiveContext}: loads the documents its URLs
 * name (bundled files first, then the context store, then the network, once), follows nested URL
 * references and `@import`, appends the core context last (NGSI-LD §5.5.7) and memoises compiled
 * contexts in an LRU, so that a request with a known context costs one map lookup.
 */
import http from 'node:http';
import https from 'node:https';
import { pipeline, type Readable } from 'node:stream';
import zlib from 'node:zlib';
import {
  compileContext,
  type CompiledContext,
  type ContextDocument,
} from '../core/context/compile-context.js';
import {
  InvalidContextError,
  contextCacheKey,
  contextEntries,
  isPlainObject,
  mergeImport,
  remoteContextOf,
  validateContextValue,
  type ContextEntry,
  type LocalContext,
} from '../core/context/context-source.js';
import { CORE_CONTEXT_URL, isCoreContextUrl } from '../core/context/core-context.js';
import { HubError } from '../core/errors.js';
import type { EndpointRules } from '../core/addresses/endpoint-rules.js';
import { createOutboundGuard, type OutboundGuard } from './outbound-guard.js';

/** A remote @context URL could not be loaded: NGSI-LD LdContextNotAvailable (503). */
export class LdContextNotAvailableError extends HubError {
  readonly url: string;
  constructor(url: string, reason: string, options?: { cause?: unknown }) {
    super('LdContextNotAvailable', `The JSON-LD @context ${url} is not available: ${reason}`, options);
    this.name = 'LdContextNotAvailableError';
    this.url = url;
  }
}

/** Where loaded context documents are kept between requests (the `jsonld_contexts` table). */
export interface ContextDocumentStore {
  get(url: string): Promise<unknown>;
  put(url: string, document: unknown, origin: 'cached' | 'preloaded' | 'hosted'): Promise<void>;
}

/** Options of {@link createContextResolver}. */
export interface ContextResolverOptions {
  /** Bundled documents by URL (see `contexts/index.json`); must hold the core context under a core URL. */
  bundled: Map<string, unknown>;
  /** Cache of fetched documents; without it, fetched documents are kept in memory only. */
  store?: ContextDocumentStore;
  /** Loads a remote document; default: {@link fetchContextDocument} under `outbound`. */
  fetchDocument?: (url: string) => Promise<unknown>;
  /** Where the default fetcher may connect besides the built-in rules (`--deny-endpoints`, `--allow-endpoints`). */
  outbound?: EndpointRules;
  /** Compiled contexts kept in the LRU; default 1000. */
  maxCompiled?: number;
  /** Nesting limit for URL references inside loaded documents; default 8. */
  maxDepth?: number;
  /** Told about store failures, which never fail a request (the document is fetched instead). */
  onWarning?: (message: string, cause: unknown) => void;
}

/** Resolves request @context values to compiled contexts; see {@link createContextResolver}. */
export interface ContextResolver {
  /** The compiled context for a request's @context value; `undefined` gives {@link ContextResolver.core}. */
  resolve(contextValue: unknown): Promise<CompiledContext>;
  /** The core-only context (no user @context). */
  readonly core: CompiledContext;
  /** Loads one context document by URL (bundled, stored or fetched); it has an @context member. */
  loadDocument(url: string): Promise<unknown>;
  /** Drops a URL's document from memory and all compiled contexts (after a hosted context changed). */
  forget(url: string): void;
  /**
   * Fetches a URL's document again, bypassing memory and the store, and stores it as 'cached'
   * (NGSI-LD §5.13.5 reload). Bundled URLs are not fetched: their bundled document is returned.
   */
  reload(url: string): Promise<unknown>;
}

const FETCH_TIMEOUT_MS = 5_000;
const MAX_DOCUMENT_BYTES = 1 << 20;
const MAX_REDIRECTS = 5;

/**
 * Fetches a context document over HTTP(S) with Node's http client: Accept `application/ld+json`,
 * up to 5 redirects followed, 5 s timeout in all, at most 1 MiB (after decompression), body parsed
 * as JSON whatever its content type (raw.githubusercontent.com serves contexts as text/plain).
 * Every connection, the redirects' included, goes only where `guard` allows (default: the
 * built-in rules); a refusal rejects with an EndpointRefusedError naming the rule.
 */
export async function fetchContextDocument(
  url: string,
  guard: OutboundGuard = builtInGuard(),
): Promise<unknown> {
  const signal = AbortSignal.timeout(FETCH_TIMEOUT_MS);
  let target = new URL(url);
  try {
    for (let redirects = 0; ; redirects++) {
      const res = await get(target, guard, signal);
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (status >= 300 && status <= 399 && location !== undefined) {
        res.resume();
        if (redirects === MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects`);
        target = new URL(location, target);
        continue;
      }
      if (status < 200 || status > 299) {
        res.resume();
        throw new Error(`HTTP ${status} ${res.statusMessage ?? ''}`.trim());
      }
      if (Number(res.headers['content-length'] ?? 0) > MAX_DOCUMENT_BYTES) {
        res.destroy();
        throw new Error('document larger than 1 MiB');
      }
      return JSON.parse(await readBody(res)) as unknown;
    }
  } catch (err) {
    // Aborted mid-way: say it was the time limit (describe() words it), not "aborted".
    if (signal.aborted) throw signal.reason;
    throw err;
  }
}

/** {@link fetchContextDocument} under the built-in rules and `rules`. */
function guardedFetcher(rules: EndpointRules | undefined): (url: string) => Promise<unknown> {
  const guard = createOutboundGuard(rules ? { rules } : {});
  return (url) => fetchContextDocument(url, guard);
}

let defaultGuard: OutboundGuard | undefined;
function builtInGuard(): OutboundGuard {
  defaultGuard ??= createOutboundGuard();
  return defaultGuard;
}

/** One GET, no redirect followed; resolves with the response head. */
async function get(url: URL, guard: OutboundGuard, signal: AbortSignal): Promise<http.IncomingMessage> {
  const protocol = url.protocol;
  if (protocol !== 'http:' && protocol !== 'https:') throw new Error(`${protocol} URLs cannot be fetched`);
  guard.checkHost(url.hostname);
  const client = protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.get(url, {
      headers: {
        accept: 'application/ld+json, application/json;q=0.9, */*;q=0.1',
        'accept-encoding': 'gzip, deflate, br',
        'user-agent': 'CityPivot',
      },
      // A fresh agent per request: a fetch is rare, and nothing is kept alive.
      agent: guard.agent(protocol),
      signal,
    });
    req.on('response', resolve);
    req.on('error', reject);
  });
}

/** The body as text, decompressed, refused past MAX_DOCUMENT_BYTES. */
async function readBody(res: http.IncomingMessage): Promise<string> {
  const encoding = (res.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  const decoder =
    encoding === 'gzip' || encoding === 'x-gzip'
      ? zlib.createGunzip()
      : encoding === 'deflate'
        ? zlib.createInflate()
        : encoding === 'br'
          ? zlib.createBrotliDecompress()
          : undefined;
  if (decoder === undefined && encoding !== 'identity') {
    res.destroy();
    throw new Error(`unsupported content-encoding ${encoding}`);
  }
  const body: Readable = decoder ? pipeline(res, decoder, () => undefined) : res;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > MAX_DOCUMENT_BYTES) {
      body.destroy();
      res.destroy();
      throw new Error('document larger than 1 MiB');
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A small LRU on top of Map's insertion order. */
class Lru<V> {
  private readonly map = new Map<string, V>();
  delete(key: string): void {
    this.map.delete(key);
  }
  clear(): void {
    this.map.clear();
  }
  constructor(private readonly max: number) {}
  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }
  set(key: string, v: V): void {
    this.map.delete(key);
    this.map.set(key, v);
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
  }
}

const SCHEME_RE = /^[A-Za-z][A-Za-z0-9+.-]*:/;

/** Resolves relative references inside a loaded document against the document's URL (JSON-LD 1.1 API §4.1.2 step 5.2.1). */
function absolutize(value: unknown, base: string): unknown {
  const abs = (s: string) => (SCHEME_RE.test(s) ? s : new URL(s, base).href);
  const one = (e: unknown): unknown => {
    if (typeof e === 'string') return abs(e);
    if (isPlainObject(e) && typeof e['@import'] === 'string') return { ...e, '@import': abs(e['@import']) };
    return e;
  };
  return Array.isArray(value) ? value.map(one) : one(value);
}

function describe(err: unknown): string {
  if (err instanceof Error && err.name === 'TimeoutError') {
    return `no answer within ${FETCH_TIMEOUT_MS / 1000} s`;
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * Creates the context resolver. Documents are looked up in this order: core context URLs
 * ({@link isCoreContextUrl}) → the bundled core document; other bundled URLs; documents loaded
 * before (in memory, then `store`); finally `fetchDocument`, once per URL even under concurrent
 * requests, after which the document is stored with origin 'cached'.
 *
 * Errors: {@link LdContextNotAvailableError} when a URL cannot be loaded or does not give a JSON object
 * with an @context member; {@link InvalidContextError} for malformed contexts, reference cycles and
 * nesting deeper than `maxDepth`.
 */
export function createContextResolver(opts: ContextResolverOptions): ContextResolver {
  const fetchDocument = opts.fetchDocument ?? guardedFetcher(opts.outbound);
  const maxDepth = opts.maxDepth ?? 8;
  const warn = opts.onWarning ?? (() => undefined);
  const coreEntry =
    opts.bundled.get(CORE_CONTEXT_URL) ?? [...opts.bundled].find(([url]) => isCoreContextUrl(url))?.[1];
  const coreLocal = remoteContextOf(coreEntry);
  if (!isPlainObject(coreLocal)) {
    throw new Error('The bundled contexts hold no NGSI-LD core context with an @context object');
  }
  const coreDocument = coreEntry;
  const coreDoc: ContextDocument = { context: coreLocal, url: CORE_CONTEXT_URL, core: true };
  const core = compileContext([coreDoc], CORE_CONTEXT_URL);

  const compiled = new Lru<CompiledContext>(opts.maxCompiled ?? 1000);
  const loaded = new Lru<unknown>(opts.maxCompiled ?? 1000);
  const loading = new Map<string, Promise<unknown>>();
  const compiling = new Map<string, Promise<CompiledContext>>();

  async function load(url: string, useStore = true): Promise<unknown> {
    if (opts.store && useStore) {
      try {
        const stored = await opts.store.get(url);
        if (remoteContextOf(stored) !== undefined) return stored;
      } catch (err) {
        warn(`Reading the context ${url} from the store failed; fetching it`, err);
      }
    }
    let doc: unknown;
    try {
      doc = await fetchDocument(url);
    } catch (err) {
      throw new LdContextNotAvailableError(url, describe(err), { cause: err });
    }
    if (remoteContextOf(doc) === undefined) {
      throw new LdContextNotAvailableError(url, 'the document is not a JSON object with an @context member');
    }
    if (opts.store) {
      try {
        await opts.store.put(url, doc, 'cached');
      } catch (err) {
        warn(`Caching the context ${url} in the store failed`, err);
      }
    }
    return doc;
  }

  async function loadDocument(url: string): Promise<unknown> {
    if (isCoreContextUrl(url)) return coreDocument;
    const known = opts.bundled.get(url) ?? loaded.get(url);
    if (known !== undefined) return known;
    let pending = loading.get(url);
    if (pending === undefined) {
      pending = load(url).then((doc) => {
        loaded.set(url, doc);
        return doc;
      });
      const settle = () => loading.delete(url);
      void pending.then(settle, settle);
      loading.set(url, pending);
    }
    return pending;
  }

  /** Flattens a context value into local contexts, loading URLs; `stack` holds the URLs being expanded. */
  async function flatten(value: unknown, stack: readonly string[], out: ContextDocument[]): Promise<void> {
    const here = stack.at(-1);
    let entries: readonly ContextEntry[];
    try {
      entries = contextEntries(validateContextValue(here === undefined ? value : absolutize(value, here)));
    } catch (err) {
      if (here === undefined || !(err instanceof InvalidContextError)) throw err;
      throw new InvalidContextError(`${err.message} (in the document at ${here})`, { cause: err });
    }
    for (const entry of entries) {
      if (entry === null) out.push({ context: null, ...(here === undefined ? {} : { url: here }) });
      else if (typeof entry === 'string') {
        if (isCoreContextUrl(entry)) continue; // the core context is appended last anyway
        const doc = await enter(entry, stack);
        await flatten(remoteContextOf(doc), [...stack, entry], out);
      } else out.push(await withImport(entry, stack, here));
    }
  }

  async function enter(url: string, stack: readonly string[]): Promise<unknown> {
    if (stack.includes(url)) {
      throw new InvalidContextError(`Recursive @context inclusion: ${[...stack, url].join(' → ')}`);
    }
    if (stack.length >= maxDepth) {
      throw new InvalidContextError(`@context nesting deeper than ${maxDepth} levels at ${url}`);
    }
    return loadDocument(url);
  }

  async function withImport(
    local: LocalContext,
    stack: readonly string[],
    here: string | undefined,
  ): Promise<ContextDocument> {
    const imp = local['@import'];
    const where = here === undefined ? {} : { url: here };
    if (typeof imp !== 'string') return { context: local, ...where };
    const doc = await enter(imp, stack);
    return { context: mergeImport(local, remoteContextOf(doc), imp), ...where };
  }

  async function compile(value: unknown): Promise<CompiledContext> {
    const docs: ContextDocument[] = [];
    await flatten(value, [], docs);
    docs.push(coreDoc);
    return compileContext(docs, value);
  }

  return {
    core,
    loadDocument,
    forget(url) {
      loaded.delete(url);
      compiled.clear();
    },
    async reload(url) {
      const bundledDoc = isCoreContextUrl(url) ? coreDocument : opts.bundled.get(url);
      if (bundledDoc !== undefined) return bundledDoc;
      const doc = await load(url, false);
      loaded.set(url, doc);
      compiled.clear();
      return doc;
    },
    async resolve(contextValue) {
      if (contextValue === undefined) return core;
      const key = contextCacheKey(contextValue);
      const hit = compiled.get(key);
      if (hit) return hit;
      let pending = compiling.get(key);
      if (pending === undefined) {
        pending = compile(contextValue).then((ctx) => {
          compiled.set(key, ctx);
          return ctx;
        });
        const settle = () => compiling.delete(key);
        void pending.then(settle, settle);
        compiling.set(key, pending);
      }
      return pending;
    },
  };
}
