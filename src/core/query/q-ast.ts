/**
 * The syntax tree of an NGSI-LD q expression (NGSI-LD §4.9 "NGSI-LD Query Language"), as produced by
 * `parseQ` in q-parser.ts. Attribute names, entity types and unquoted values stay as written (terms
 * or IRIs): the compiler expands them with the request's @context.
 *
 * Shape, for `(speed>50|rpm>3000);brand=="Mercedes"`:
 *
 * ```
 * { kind: 'and', items: [
 *   { kind: 'or', items: [
 *     { kind: 'term', path: { attr: 'speed', sub: [] }, op: '>', value: { type: 'number', value: 50 } },
 *     { kind: 'term', path: { attr: 'rpm', sub: [] }, op: '>', value: { type: 'number', value: 3000 } } ] },
 *   { kind: 'term', path: { attr: 'brand', sub: [] }, op: '==', value: { type: 'string', value: 'Mercedes' } } ] }
 * ```
 *
 * `and`/`or` nodes always have two or more items and never directly contain a node of their own kind.
 */

/** Members of an attribute instance that a path may end with, instead of a sub-attribute name. */
export const Q_MEMBERS = ['observedAt', 'createdAt', 'modifiedAt', 'unitCode', 'datasetId'] as const;
export type QMember = (typeof Q_MEMBERS)[number];

/** Members holding ISO 8601 date-times, written normalized (`Date#toISOString`) by the hub. */
export const Q_TIME_MEMBERS: readonly QMember[] = ['observedAt', 'createdAt', 'modifiedAt'];

/**
 * An attribute path (production rule `Attribute`).
 *
 * - `a` → `{ attr: 'a', sub: [] }`
 * - `a.b.c` → `{ attr: 'a', sub: ['b', 'c'] }`: each dot goes one sub-attribute down.
 * - `a.b.observedAt` → `{ attr: 'a', sub: ['b'], member: 'observedAt' }`
 * - `a.b[x.y]` (or `a.b[x][y]`) → `{ attr: 'a', sub: ['b'], valuePath: ['x', 'y'] }`: members inside the
 *   value (Property `value`, JsonProperty `json`, LanguageProperty `languageMap`, where `[en]` is a
 *   language and `[*]` any key).
 * - `rel{Device:hum}` → `{ attr: 'rel', sub: [], linked: { types: ['Device'], path: { attr: 'hum', sub: [] } } }`:
 *   the path is evaluated on the entities the Relationship `rel` points to (§4.9 LinkedEntityRelation).
 */
export interface QPath {
  /** Attribute name as written: a term, a compact IRI or a full IRI. */
  attr: string;
  /** Sub-attribute names, outermost first. */
  sub: string[];
  /** The path ends at this member of the (sub-)attribute instance. */
  member?: QMember;
  /** Path inside the attribute value; `'*'` matches any key. */
  valuePath?: string[];
  /** Follow the Relationship `attr` and evaluate `path` on its target entities (then `sub` is empty). */
  linked?: { types?: string[]; path: QPath };
}

/** A single literal value. */
export type QScalar =
  | { type: 'number'; value: number }
  | { type: 'boolean'; value: boolean }
  /** A quoted JSON string, unescaped. */
  | { type: 'string'; value: string }
  /** An unquoted URI, compact IRI or bare term (compared as a string; VocabProperty values also expanded). */
  | { type: 'uri'; value: string }
  /** ISO 8601 date-time, date or time, unquoted, as written (§4.6.3). */
  | { type: 'dateTime' | 'date' | 'time'; value: string };

/** Bounds of a range `a..b`, both included. */
export interface QRange {
  type: 'range';
  from: QScalar;
  to: QScalar;
}

/** A value list `a,b,c`: equality with any of them. */
export interface QList {
  type: 'list';
  items: QScalar[];
}

export type QValue = QScalar | QRange | QList;

/**
 * A regular expression (§4.9 RegExp, IEEE 1003.2). `source` is the pattern as written, without a leading
 * inline flag group; `flags` holds those flags (subset of `ims`). Validated by the parser.
 */
export interface QRegex {
  type: 'regex';
  source: string;
  flags: string;
}

export type QOrderOp = '>' | '>=' | '<' | '<=';
export type QOp = 'exists' | 'notExists' | '==' | '!=' | QOrderOp | '~=' | '!~=';

/** One Query Term (production rule `QueryTerm`); `!attr` is the not-exists extension. */
export type QTerm =
  | { kind: 'term'; path: QPath; op: 'exists' | 'notExists' }
  | { kind: 'term'; path: QPath; op: '==' | '!='; value: QValue }
  | { kind: 'term'; path: QPath; op: QOrderOp; value: QScalar }
  | { kind: 'term'; path: QPath; op: '~=' | '!~='; value: QRegex };

export type QExpr = { kind: 'and'; items: QExpr[] } | { kind: 'or'; items: QExpr[] } | QTerm;
