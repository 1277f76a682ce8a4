/**
 * Turns a request's @context value into a compiled {@link ActiveContext}: loads the documents its URLs
 * name (bundled files first, then the context store, then the network, once), follows nested URL
 * references and `@import`, appends the core context last (NGSI-LD §5.5.7) and memoises compiled
 * contexts in an LRU, so that a request with a known context costs one map lookup.
 */
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
  /** Loads a remote document; default: {@link fetchContextDocument}. */
  fetchDocument?: (url: string) => Promise<unknown>;
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

/**
 * Fetches a context document over HTTP(S) with the global `fetch`: Accept `application/ld+json`,
 * redirects followed, 5 s timeout, at most 1 MiB, body parsed as JSON whatever its content type
 * (raw.githubusercontent.com serves contexts as text/plain).
 */
export async function fetchContextDocument(url: string): Promise<unknown> {
  const protocol = new URL(url).protocol;
  if (protocol !== 'http:' && protocol !== 'https:') throw new Error(`${protocol} URLs cannot be fetched`);
  const res = await fetch(url, {
    headers: { accept: 'application/ld+json, application/json;q=0.9, */*;q=0.1' },
    redirect: 'follow',
    signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
  });
  if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`.trim());
  if (Number(res.headers.get('content-length') ?? 0) > MAX_DOCUMENT_BYTES) {
    throw new Error('document larger than 1 MiB');
  }
  const text = await res.text();
  if (text.length > MAX_DOCUMENT_BYTES) throw new Error('document larger than 1 MiB');
  return JSON.parse(text) as unknown;
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
  const fetchDocument = opts.fetchDocument ?? fetchContextDocument;
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
