/**
 * Compiles loaded @context documents into a term map once, so that expanding and compacting an
 * attribute name, entity type or vocab value is a hash lookup per request. Implements the parts of
 * JSON-LD 1.1 API §4.1 (Context Processing) and §4.2 (Create Term Definition) that matter for
 * term ↔ IRI, with the NGSI-LD rules on top (GS CIM 009 §5.5.7): the core context is applied last,
 * so user contexts cannot redefine core terms, and undefined terms use the default vocabulary. Pure.
 */
import type { ActiveContext } from './active-context.js';
import { InvalidContextError, isPlainObject, type LocalContext } from './context-source.js';
import { DEFAULT_VOCAB } from './core-context.js';

/** One loaded local context, in the order the request gives it. */
export interface ContextDocument {
  /** The local context object, or null (resets the user definitions made so far). */
  readonly context: LocalContext | null;
  /** Where it was loaded from, for error messages. */
  readonly url?: string;
  /** True for the NGSI-LD core context: always applied after all user contexts, whatever its position. */
  readonly core?: boolean;
}

/** A compiled term definition (JSON-LD 1.1 API §4.2). */
export interface TermDefinition {
  /** The IRI (or keyword, for aliases like `id` → `@id`) the term maps to; null if defined as null. */
  readonly iri: string | null;
  /** `@type`: `@id`, `@vocab`, `@json`, `@none` or an expanded datatype IRI. */
  readonly type?: string;
  /** `@container` values (`@list`, `@set`, `@index`, `@language`, …). */
  readonly container?: readonly string[];
  /** Usable as the prefix of a compact IRI (`prefix:suffix`). */
  readonly prefix: boolean;
  readonly protected: boolean;
  /** Defined by the NGSI-LD core context. */
  readonly core: boolean;
  /** Defined with `@reverse`: never used for expansion or compaction here. */
  readonly reverse: boolean;
}

/** An {@link ActiveContext} that also exposes the compiled definitions. */
export interface CompiledContext extends ActiveContext {
  /** The definition of a term, if any context defines it. */
  definitionOf(term: string): TermDefinition | undefined;
  /** All defined terms. */
  readonly terms: ReadonlyMap<string, TermDefinition>;
  /** The vocabulary mapping used for undefined terms. */
  readonly vocab: string;
}

const KEYWORDS: ReadonlySet<string> = new Set([
  '@base',
  '@container',
  '@context',
  '@direction',
  '@graph',
  '@id',
  '@import',
  '@included',
  '@index',
  '@json',
  '@language',
  '@list',
  '@nest',
  '@none',
  '@prefix',
  '@propagate',
  '@protected',
  '@reverse',
  '@set',
  '@type',
  '@value',
  '@version',
  '@vocab',
]);
const KEYWORD_LIKE_RE = /^@[A-Za-z]+$/;
const GEN_DELIM_RE = /[:/?#[\]@]$/;
const SCHEME_RE = /^[A-Za-z][A-Za-z0-9+.-]*:/;
const TYPE_KEYWORDS: ReadonlySet<string> = new Set(['@id', '@vocab', '@json', '@none']);
const COMPACT_CACHE_MAX = 10_000;

/** Applies local contexts one by one to a growing term map. */
class TermMapBuilder {
  readonly terms = new Map<string, TermDefinition>();
  userVocab: string | undefined;
  coreVocab: string | undefined;

  apply(doc: ContextDocument): void {
    const core = doc.core === true;
    const where = doc.url === undefined ? '' : ` (in ${doc.url})`;
    if (doc.context === null) {
      if (core) return;
      const guarded = [...this.terms].find(([, d]) => d.protected && !d.core);
      if (guarded) {
        throw new InvalidContextError(
          `A null @context would clear the protected term "${guarded[0]}"${where}`,
        );
      }
      for (const [term, d] of this.terms) if (!d.core) this.terms.delete(term);
      this.userVocab = undefined;
      return;
    }
    const local = doc.context;
    if (!isPlainObject(local)) throw new InvalidContextError(`A local @context must be an object${where}`);
    if ('@version' in local && local['@version'] !== 1.1) {
      throw new InvalidContextError(
        `@version must be the number 1.1, got ${JSON.stringify(local['@version'])}${where}`,
      );
    }
    if ('@import' in local) {
      throw new InvalidContextError(
        `@import ${JSON.stringify(local['@import'])} must be loaded before compiling${where}`,
      );
    }
    if ('@context' in local) {
      throw new InvalidContextError(`A local @context must not contain @context${where}`);
    }
    const ctxProtected = local['@protected'] ?? false;
    if (typeof ctxProtected !== 'boolean') {
      throw new InvalidContextError(`@protected must be true or false${where}`);
    }
    const run = new DefinitionRun(this, local, core, ctxProtected, where);
    if ('@vocab' in local) this.setVocab(local['@vocab'], core, where, run.need);
    for (const term of Object.keys(local)) {
      if (!term.startsWith('@')) run.define(term);
    }
  }

  /** The vocabulary mapping in effect: a user @vocab wins over the core context's (see compileContext). */
  vocabFor(core: boolean): string {
    return (core ? this.coreVocab : this.userVocab) ?? DEFAULT_VOCAB;
  }

  private setVocab(v: unknown, core: boolean, where: string, need: (term: string) => void): void {
    let iri: string | undefined;
    if (v === null) iri = undefined;
    else if (typeof v !== 'string') {
      throw new InvalidContextError(`@vocab must be an IRI string or null${where}`);
    } else {
      iri = expandIri(this.terms, v, need);
      if (!SCHEME_RE.test(iri)) {
        throw new InvalidContextError(`@vocab ${JSON.stringify(v)} is not an absolute IRI${where}`);
      }
    }
    if (core) this.coreVocab = iri;
    else this.userVocab = iri;
  }
}

/**
 * IRI expansion with vocab = true (JSON-LD 1.1 API §5.2), defining local terms on demand through `need`.
 * `asTerm` false skips the exact-term lookup (a term's own definition must not refer to itself).
 */
function expandIri(
  terms: ReadonlyMap<string, TermDefinition>,
  value: string,
  need: (term: string) => void,
  vocab?: string,
  asTerm = true,
): string {
  if (KEYWORDS.has(value)) return value;
  if (asTerm) {
    need(value);
    const t = terms.get(value);
    if (t?.iri != null && !t.reverse) return t.iri;
  }
  const colon = value.indexOf(':');
  if (colon > 0) {
    const prefix = value.slice(0, colon);
    const suffix = value.slice(colon + 1);
    if (prefix === '_' || suffix.startsWith('//')) return value;
    need(prefix);
    const p = terms.get(prefix);
    if (p?.iri != null && p.prefix) return p.iri + suffix;
    if (SCHEME_RE.test(value)) return value;
  }
  return vocab === undefined ? value : vocab + value;
}

/** The Create Term Definition algorithm over one local context, with cycle detection. */
class DefinitionRun {
  private readonly defined = new Map<string, boolean>();
  /** Defines `term` first if this local context defines it (JSON-LD's `defined` map). */
  readonly need = (term: string): void => {
    if (Object.hasOwn(this.local, term) && !term.startsWith('@')) this.define(term);
  };

  constructor(
    private readonly b: TermMapBuilder,
    private readonly local: LocalContext,
    private readonly core: boolean,
    private readonly ctxProtected: boolean,
    private readonly where: string,
  ) {}

  define(term: string): void {
    const state = this.defined.get(term);
    if (state === true) return;
    if (state === false) {
      throw new InvalidContextError(`Cyclic IRI mapping for the term "${term}"${this.where}`);
    }
    if (term === '') throw new InvalidContextError(`The empty string is not a valid term${this.where}`);
    this.defined.set(term, false);
    const def = this.build(term, this.local[term]);
    const previous = this.b.terms.get(term);
    if (def === undefined) {
      // Keyword-like @id values are ignored (JSON-LD 1.1 API §4.2 step 14.2.2).
    } else if (previous?.protected && !previous.core && !this.core) {
      if (!sameDefinition(previous, def)) {
        throw new InvalidContextError(`The term "${term}" is protected and cannot be redefined${this.where}`);
      }
      this.b.terms.set(term, { ...def, protected: true });
    } else {
      this.b.terms.set(term, def);
    }
    this.defined.set(term, true);
  }

  private iriOf(value: string): string {
    return expandIri(this.b.terms, value, this.need, this.b.vocabFor(this.core));
  }

  /** The IRI a term maps to when its definition gives no @id: compact IRI, absolute IRI, or vocab + term. */
  private implicitIri(term: string): string {
    return expandIri(this.b.terms, term, this.need, this.b.vocabFor(this.core), false);
  }

  private build(term: string, value: unknown): TermDefinition | undefined {
    const base = { prefix: false, protected: this.ctxProtected, core: this.core, reverse: false };
    if (value === null) return { ...base, iri: null };
    if (typeof value === 'string') {
      if (KEYWORD_LIKE_RE.test(value) && !KEYWORDS.has(value)) return undefined;
      if (value === '@context') throw new InvalidContextError(`"${term}" cannot alias @context${this.where}`);
      const iri = value === term ? this.implicitIri(term) : this.iriOf(value);
      const prefix = !/[:/]/.test(term) && (GEN_DELIM_RE.test(iri) || iri.startsWith('_:'));
      return { ...base, iri, prefix };
    }
    if (!isPlainObject(value)) {
      throw new InvalidContextError(
        `Invalid definition of the term "${term}"${this.where}: expected a string, an object or null`,
      );
    }
    const prot = value['@protected'] ?? this.ctxProtected;
    if (typeof prot !== 'boolean') {
      throw new InvalidContextError(`@protected of "${term}" must be true or false${this.where}`);
    }
    const out: { -readonly [K in keyof TermDefinition]: TermDefinition[K] } = {
      ...base,
      protected: prot,
      iri: null,
    };
    const rev = value['@reverse'];
    const id = value['@id'];
    if (rev !== undefined) {
      if (typeof rev !== 'string') {
        throw new InvalidContextError(`@reverse of "${term}" must be an IRI string${this.where}`);
      }
      out.iri = this.iriOf(rev);
      out.reverse = true;
    } else if (id !== undefined && id !== term) {
      if (id !== null && typeof id !== 'string') {
        throw new InvalidContextError(`@id of "${term}" must be a string or null${this.where}`);
      }
      if (typeof id === 'string' && KEYWORD_LIKE_RE.test(id) && !KEYWORDS.has(id)) return undefined;
      if (id === '@context') throw new InvalidContextError(`"${term}" cannot alias @context${this.where}`);
      out.iri = id === null ? null : this.iriOf(id);
    } else {
      out.iri = this.implicitIri(term);
    }
    const type = value['@type'];
    if (type !== undefined && type !== null) {
      if (typeof type !== 'string') {
        throw new InvalidContextError(`@type of "${term}" must be a string${this.where}`);
      }
      if (KEYWORDS.has(type) && !TYPE_KEYWORDS.has(type)) {
        throw new InvalidContextError(`Invalid type mapping ${type} for "${term}"${this.where}`);
      }
      out.type = TYPE_KEYWORDS.has(type) ? type : this.iriOf(type);
    }
    const container = value['@container'];
    if (typeof container === 'string') out.container = [container];
    else if (Array.isArray(container) && container.every((c) => typeof c === 'string'))
      out.container = container;
    else if (container !== undefined && container !== null) {
      throw new InvalidContextError(
        `@container of "${term}" must be a string or an array of strings${this.where}`,
      );
    }
    const prefix = value['@prefix'];
    if (prefix !== undefined && typeof prefix !== 'boolean') {
      throw new InvalidContextError(`@prefix of "${term}" must be true or false${this.where}`);
    }
    out.prefix = prefix === true && out.iri !== null && !out.reverse;
    return out;
  }
}

function sameDefinition(a: TermDefinition, b: TermDefinition): boolean {
  return (
    a.iri === b.iri &&
    a.type === b.type &&
    a.reverse === b.reverse &&
    (a.container ?? []).join() === (b.container ?? []).join()
  );
}

/** Deterministic choice among several terms: the shortest, then the lexicographically smallest. */
function better(a: string, b: string | undefined): boolean {
  return b === undefined || a.length < b.length || (a.length === b.length && a < b);
}

/**
 * Compiles loaded local contexts into an {@link ActiveContext} (JSON-LD 1.1 API §4.1, NGSI-LD §5.5.7).
 *
 * - User documents are applied in order; documents flagged `core` are applied after them, so core
 *   terms (`id`, `type`, `value`, `Property`, `observedAt`, …) always keep their core meaning: a user
 *   context redefining them is overridden, not rejected. Protected user terms (`@protected`) cannot be
 *   redefined by a later user context with a different definition (InvalidContextError).
 * - The core context is also applied before the user documents, as if the client had listed it
 *   first, so that user definitions can build on core terms (`ngsi-ld:myTerm`, `"@type": "DateTime"`).
 * - Supported: simple and expanded term definitions (`@id`, `@type`, `@container`, `@prefix`,
 *   `@protected`, `@reverse` recorded but unused), compact IRIs resolved recursively, `@vocab`, null
 *   definitions, `@version` 1.1. Ignored: `@base`, `@language`, `@direction`, `@propagate` and scoped
 *   `@context`s. `@import` must have been merged by the loader first (see `mergeImport`).
 * - Expansion: a defined term gives its IRI; `prefix:suffix` with a prefix term gives the joined IRI;
 *   other absolute IRIs stay as they are; anything else (also terms defined as null) gives
 *   vocab + term, where vocab is the last user `@vocab`, else the core context's, else
 *   `https://uri.etsi.org/ngsi-ld/default-context/`. Letting a user `@vocab` win over the core one is
 *   a deliberate departure from plain JSON-LD, where the core context, applied last, would reset it.
 * - Compaction (cached per IRI): the exact term (user terms before core terms, except for keywords
 *   such as `@id`, where core aliases come first; several candidates: the shortest, then the
 *   lexicographically smallest), else the IRI relative to the vocab, else the shortest compact IRI,
 *   else the IRI unchanged. Every result expands back to the IRI it came from. The vocab is tried
 *   before compact IRIs so that default-context IRIs come out as bare terms, not `ngsi-ld:default-context/…`.
 */
export function compileContext(documents: readonly ContextDocument[], source: unknown): CompiledContext {
  const b = new TermMapBuilder();
  const core = documents.filter((d) => d.core === true);
  if (documents.length > core.length) for (const doc of core) b.apply(doc);
  for (const doc of documents) if (doc.core !== true) b.apply(doc);
  for (const doc of core) b.apply(doc);
  return buildActiveContext(b.terms, b.userVocab ?? b.coreVocab ?? DEFAULT_VOCAB, source);
}

function buildActiveContext(
  terms: ReadonlyMap<string, TermDefinition>,
  vocab: string,
  source: unknown,
): CompiledContext {
  const forward = new Map<string, string>();
  const userBest = new Map<string, string>();
  const coreBest = new Map<string, string>();
  const prefixes: [string, string][] = [];
  for (const [term, d] of terms) {
    if (d.iri === null || d.reverse) continue;
    forward.set(term, d.iri);
    const pick = d.core ? coreBest : userBest;
    if (better(term, pick.get(d.iri))) pick.set(d.iri, term);
    if (d.prefix) prefixes.push([term, d.iri]);
  }

  const expand = (term: string): string => {
    const hit = forward.get(term);
    if (hit !== undefined) return hit;
    if (term.startsWith('@')) return term;
    return expandIri(terms, term, () => undefined, vocab);
  };

  const cache = new Map<string, string>();
  const compactUncached = (iri: string): string => {
    const keyword = iri.startsWith('@');
    const exact = keyword
      ? (coreBest.get(iri) ?? userBest.get(iri))
      : (userBest.get(iri) ?? coreBest.get(iri));
    if (exact !== undefined) return exact;
    if (keyword) return iri;
    if (iri.length > vocab.length && iri.startsWith(vocab)) {
      const suffix = iri.slice(vocab.length);
      if (expand(suffix) === iri) return suffix;
    }
    let best: string | undefined;
    for (const [term, prefixIri] of prefixes) {
      if (iri.length <= prefixIri.length || !iri.startsWith(prefixIri)) continue;
      const candidate = `${term}:${iri.slice(prefixIri.length)}`;
      if (better(candidate, best) && expand(candidate) === iri) best = candidate;
    }
    return best ?? iri;
  };

  return {
    source,
    vocab,
    terms,
    expand,
    compact(iri: string): string {
      let out = cache.get(iri);
      if (out === undefined) {
        out = compactUncached(iri);
        if (cache.size >= COMPACT_CACHE_MAX) cache.clear();
        cache.set(iri, out);
      }
      return out;
    },
    isVocabTerm: (term) => terms.get(term)?.type === '@vocab',
    isJsonTerm: (term) => terms.get(term)?.type === '@json',
    definitionOf: (term) => terms.get(term),
  };
}
