/**
 * A compiled JSON-LD @context as NGSI-LD uses it: a precompiled term map, so that expanding
 * an attribute name or entity type is a hash lookup, not a JSON-LD algorithm run per request.
 */
export interface ActiveContext {
  /** Expand a term (attribute name, entity type, vocab value) to an IRI (NGSI-LD §5.5.7 default vocab for unknown terms). */
  expand(term: string): string;
  /** Compact an IRI back to the shortest term (or compact IRI) this context defines; unknown IRIs stay as they are. */
  compact(iri: string): string;
  /** True if the term is defined with "@type": "@vocab" (values of VocabProperty / typed terms are IRIs). */
  isVocabTerm(term: string): boolean;
  /** True if the term is defined with "@type": "@json" (its value is never expanded). */
  isJsonTerm(term: string): boolean;
  /** The @context value as given by the client (URL string, object or array), for echoing in responses. */
  readonly source: unknown;
}
