/**
 * The @context a request brings (JSON-LD 1.1 §3.1 and §4.1; NGSI-LD §6.3.5): a URL string, a local
 * context object, or an array mixing both, given as the `@context` member of a JSON-LD body or as the
 * URL of a `rel="http://www.w3.org/ns/json-ld#context"` Link header. These helpers validate such a
 * value, list what must be loaded before it can be compiled, and give it a stable cache key. Pure.
 */
import { HubError } from '../errors.js';
import { isPlainObject } from '../validation.js';

/** A malformed @context (not a string/object/array, a relative URL, a bad term definition…): 400 BadRequestData. */
export class InvalidContextError extends HubError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super('BadRequestData', detail, options);
    this.name = 'InvalidContextError';
  }
}

/** A local context: a map of term definitions and context keywords (`@vocab`, `@protected`, …). */
export type LocalContext = Readonly<Record<string, unknown>>;

/** One entry of a @context array: a context URL, a local context, or null (resets the active context). */
export type ContextEntry = string | LocalContext | null;

/** A validated @context value. */
export type ContextValue = ContextEntry | readonly ContextEntry[];

const SCHEME_RE = /^[A-Za-z][A-Za-z0-9+.-]*:/;

export { isPlainObject };

/**
 * Checks that `url` is an absolute URL usable as a context reference and returns it. Relative
 * references would need a base IRI, which NGSI-LD requests do not have. Throws {@link InvalidContextError}.
 */
export function checkContextUrl(url: string, where = '@context'): string {
  const shown = JSON.stringify(url);
  if (url.trim() !== url || /\s/.test(url)) {
    throw new InvalidContextError(`${where}: ${shown} is not a valid URL (it contains white space)`);
  }
  if (!SCHEME_RE.test(url)) {
    throw new InvalidContextError(
      `${where}: ${shown} is not an absolute URL; context references must be absolute`,
    );
  }
  try {
    new URL(url);
  } catch (cause) {
    throw new InvalidContextError(`${where}: ${shown} is not a valid absolute URL`, { cause });
  }
  return url;
}

function checkEntry(entry: unknown, where: string): ContextEntry {
  if (entry === null) return null;
  if (typeof entry === 'string') return checkContextUrl(entry, where);
  if (isPlainObject(entry)) {
    if ('@context' in entry) {
      throw new InvalidContextError(
        `${where}: a local context must not contain an @context member (give its content instead)`,
      );
    }
    const imp = entry['@import'];
    if (imp !== undefined) {
      if (typeof imp !== 'string') throw new InvalidContextError(`${where}: @import must be a URL string`);
      checkContextUrl(imp, `${where} @import`);
    }
    return entry;
  }
  const kind = Array.isArray(entry) ? 'a nested array' : typeof entry;
  throw new InvalidContextError(`${where}: expected a URL string, an object or null, got ${kind}`);
}

/**
 * Validates a request's @context value (JSON-LD 1.1 §3.1): a URL string, a local context object,
 * null, or an array of those (no nested arrays). Throws {@link InvalidContextError} with a message
 * naming the offending entry.
 */
export function validateContextValue(value: unknown): ContextValue {
  if (Array.isArray(value)) return value.map((e, i) => checkEntry(e, `@context[${i}]`));
  if (value === undefined) throw new InvalidContextError('@context: no value given');
  return checkEntry(value, '@context');
}

/** The entries of a context value as an array. */
export function contextEntries(value: ContextValue): readonly ContextEntry[] {
  return Array.isArray(value) ? (value as readonly ContextEntry[]) : [value as ContextEntry];
}

/**
 * The URLs a (validated) context value references directly: its string entries and the `@import`
 * of its local contexts, in order of appearance, without duplicates. URLs referenced from inside
 * loaded documents are found when those documents are loaded.
 */
export function contextUrls(value: ContextValue): string[] {
  const out = new Set<string>();
  for (const e of contextEntries(value)) {
    if (typeof e === 'string') out.add(e);
    else if (e !== null && typeof e['@import'] === 'string') out.add(e['@import']);
  }
  return [...out];
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isPlainObject(v)) {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/**
 * A stable cache key for a context value: the same key for values that differ only in the order of
 * object members; array order matters (it changes the meaning). `undefined` (no context) gives ''.
 */
export function contextCacheKey(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return JSON.stringify(value);
  return canonical(value);
}

/**
 * The `@context` member of a loaded remote document (JSON-LD 1.1 API §9.4 remote context), or
 * undefined when the document is not a JSON object with an @context member.
 */
export function remoteContextOf(document: unknown): unknown {
  return isPlainObject(document) && '@context' in document ? document['@context'] : undefined;
}

/**
 * Applies `@import` (JSON-LD 1.1 §4.1.10): the imported context, which must be a single object
 * without its own @import, with the importing context's definitions taking precedence.
 */
export function mergeImport(local: LocalContext, imported: unknown, url: string): LocalContext {
  if (!isPlainObject(imported)) {
    throw new InvalidContextError(
      `@import ${JSON.stringify(url)}: the imported document's @context must be a single object`,
    );
  }
  if ('@import' in imported) {
    throw new InvalidContextError(
      `@import ${JSON.stringify(url)}: an imported context must not itself use @import`,
    );
  }
  const { '@import': _i, ...rest } = local;
  return { ...imported, ...rest };
}
