/**
 * Compiles q (NGSI-LD §4.9) and scopeQ (NGSI-LD §4.19) syntax trees to PostgreSQL conditions over the
 * stored entity format of core/entity-model.ts.
 *
 * Each q term becomes `attrs @? $n::jsonpath`, so that the GIN index on `attrs` serves attribute
 * existence and equality. The jsonpath walks the instances of the attribute (any datasetId), down the
 * `sub` members for sub-attributes, then tests the member that holds the value for each attribute
 * kind; lax mode makes a test on an array true when any element passes, and a test between values of
 * different JSON types unknown, which is the "data types differ: no match" rule of §4.9.
 */
import type { QExpr, QPath, QRegex, QScalar, QTerm, QValue } from '../core/query/q-parser.js';
import { QuerySyntaxError, Q_TIME_MEMBERS } from '../core/query/q-parser.js';
import { translateRegex } from '../core/query/q-regex.js';
import { isExactScope, scopeString, type ScopeExpr, type ScopePattern } from '../core/query/scope-query.js';

export interface QCompileOptions {
  /** Term → IRI, for attribute and sub-attribute names (not for keys inside `[...]`). */
  expandAttr: (term: string) => string;
  /** Term → IRI for VocabProperty values; a `vocab` matches the raw value or its expansion. */
  expandValue?: (term: string) => string;
  /** Term → IRI for entity type hints in `rel{Type:attr}`. Default: `expandAttr`. */
  expandType?: (term: string) => string;
  /** The jsonb column (or expression) holding `StoredEntity.attrs`. Default `'attrs'`. */
  column?: string;
  /**
   * Where the targets of `rel{attr}` terms are looked up: a table with columns `id text`,
   * `types text[]` and `attrs jsonb`, and an optional correlation (e.g. the tenant) for its alias.
   * Without it, linked-entity terms are rejected.
   */
  linked?: { table: string; where?: (alias: string) => string };
}

/**
 * Compiles a q expression to a SQL boolean condition, pushing bound values onto `params` and
 * referring to them as `$<index>`, so that the caller can AND it with other conditions
 * (NGSI-LD §4.9). Throws {@link QuerySyntaxError} for a linked-entity term when `opts.linked` is unset.
 */
export function compileQ(expr: QExpr, opts: QCompileOptions, params: unknown[]): string {
  return compileExpr(expr, { opts, params, column: opts.column ?? 'attrs', aliases: { next: 0 } });
}

interface Ctx {
  opts: QCompileOptions;
  params: unknown[];
  column: string;
  aliases: { next: number };
}

function compileExpr(e: QExpr, ctx: Ctx): string {
  switch (e.kind) {
    case 'and':
    case 'or':
      return `(${e.items.map((i) => compileExpr(i, ctx)).join(e.kind === 'and' ? ' AND ' : ' OR ')})`;
    case 'term':
      return compileTerm(e, ctx);
  }
}

function compileTerm(t: QTerm, ctx: Ctx): string {
  if (t.path.linked) return compileLinked(t, t.path, t.path.linked, ctx);
  const test = (jsonpath: string | undefined): string =>
    jsonpath === undefined ? 'false' : `${ctx.column} @? ${bind(ctx, jsonpath)}::jsonpath`;
  const instances = instancePath(t.path, ctx.opts);
  const targets = targetsOf(t.path);
  switch (t.op) {
    case 'exists':
      return test(existsPath(instances, t.path, targets));
    case 'notExists':
      return `NOT ${test(existsPath(instances, t.path, targets))}`;
    case '==':
      return test(matchPath(instances, targets, 'eq', (target) => valueCondition(t.value, target, ctx.opts)));
    case '!=': {
      // §4.9: the target element exists and none of its values (in any instance) equals the value.
      const equal = matchPath(instances, targets, 'eq', (target) =>
        valueCondition(t.value, target, ctx.opts),
      );
      const exists = test(existsPath(instances, t.path, targets));
      return equal === undefined ? exists : `(${exists} AND NOT ${test(equal)})`;
    }
    case '>':
    case '>=':
    case '<':
    case '<=': {
      const op = t.op;
      return test(
        matchPath(instances, targets, 'order', (target) =>
          target.accepts('order', t.value) ? `@ ${op} ${literal(t.value, target, 'order')}` : undefined,
        ),
      );
    }
    case '~=':
      return test(matchPath(instances, targets, 'regex', () => regexCondition(t.value)));
    case '!~=': {
      // A non-string value neither matches nor fails to match (§4.9): require a string that matches nothing.
      const strings = matchPath(instances, targets, 'regex', () => '@.type() == "string"');
      const matching = matchPath(instances, targets, 'regex', () => regexCondition(t.value));
      return `(${test(strings)} AND NOT ${test(matching)})`;
    }
  }
}

// ---- jsonpath construction ---------------------------------------------------------------------

/** A jsonpath key accessor: JSON string syntax is valid jsonpath string syntax. */
function key(name: string): string {
  return `.${JSON.stringify(name)}`;
}

/** `$."<attr IRI>"[*].sub."<sub IRI>"…`: every instance of the addressed (sub-)attribute. */
function instancePath(path: QPath, opts: QCompileOptions): string {
  return `$${key(opts.expandAttr(path.attr))}[*]${path.sub.map((s) => `.sub${key(opts.expandAttr(s))}`).join('')}`;
}

type CmpKind = 'eq' | 'order' | 'regex';

/** A member of an attribute instance that may hold the target value, relative to the instance. */
interface Target {
  rel: string;
  accepts: (kind: CmpKind, v?: QScalar) => boolean;
  /** VocabProperty `vocab`: compare expanded terms too. */
  vocab?: boolean;
  /** A member the hub writes as `Date#toISOString()`. */
  isoTime?: boolean;
}

const isText = (v?: QScalar): boolean => v?.type === 'string' || v?.type === 'uri';
const isTime = (v?: QScalar): boolean => v?.type === 'dateTime' || v?.type === 'date' || v?.type === 'time';
const always = (): boolean => true;

/** §4.9: Property → value (or a `{"@value"}` date object), Relationship → object (only == and !=), etc. */
const VALUE_TARGETS: Target[] = [
  { rel: '.value', accepts: always },
  { rel: '.value."@value"', accepts: (k, v) => k === 'regex' || isText(v) || isTime(v) },
  { rel: '.object', accepts: (k, v) => k === 'eq' && isText(v) },
  { rel: '.objectList', accepts: (k, v) => k === 'eq' && isText(v) },
  { rel: '.vocab', accepts: (k, v) => k === 'regex' || (k === 'eq' && isText(v)), vocab: true },
  // languageValues: the languageMap's strings, kept by the hub so that jsonb_path_ops can index them
  { rel: '.languageValues', accepts: (k, v) => k === 'regex' || isText(v) },
  { rel: '.json', accepts: always },
  { rel: '.valueList', accepts: always },
];

function targetsOf(path: QPath): Target[] {
  if (path.member)
    return [{ rel: key(path.member), accepts: always, isoTime: Q_TIME_MEMBERS.includes(path.member) }];
  if (path.valuePath) {
    const inner = path.valuePath.map((k) => (k === '*' ? '.*' : key(k))).join('');
    return ['.value', '.json', '.languageMap'].map((m) => ({ rel: m + inner, accepts: always }));
  }
  return VALUE_TARGETS;
}

/** The target element exists: the instance itself, or the member/value path it names. */
function existsPath(instances: string, path: QPath, targets: Target[]): string {
  if (path.member) return `${instances}${targets[0]?.rel ?? ''}`;
  if (path.valuePath) return `${instances} ? (${targets.map((t) => `exists(@${t.rel})`).join(' || ')})`;
  return instances;
}

/**
 * `instances ? (exists(@.value ? (C)) || exists(@.object ? (C')) …)` over the targets for which
 * `condition` yields a test; undefined when none can match.
 */
function matchPath(
  instances: string,
  targets: Target[],
  kind: CmpKind,
  condition: (t: Target) => string | undefined,
): string | undefined {
  const parts: { rel: string; cond: string }[] = [];
  for (const target of targets) {
    if (kind === 'regex' && !target.accepts('regex')) continue;
    const cond = condition(target);
    if (cond !== undefined) parts.push({ rel: target.rel, cond });
  }
  const [only] = parts;
  if (only === undefined) return undefined;
  if (parts.length === 1) return `${instances}${only.rel} ? (${only.cond})`;
  return `${instances} ? (${parts.map((p) => `exists(@${p.rel} ? (${p.cond}))`).join(' || ')})`;
}

/** The test of an ==/!= value (scalar, list or range) on one target, or undefined if it cannot match there. */
function valueCondition(value: QValue, target: Target, opts: QCompileOptions): string | undefined {
  if (value.type === 'list') {
    const parts = value.items
      .map((v) => valueCondition(v, target, opts))
      .filter((c): c is string => c !== undefined);
    return parts.length === 0 ? undefined : parts.join(' || ');
  }
  if (value.type === 'range') {
    if (!target.accepts('order', value.from)) return undefined;
    return `(@ >= ${literal(value.from, target, 'order')} && @ <= ${literal(value.to, target, 'order')})`;
  }
  if (!target.accepts('eq', value)) return undefined;
  const alternatives = new Set([literal(value, target, 'eq')]);
  if (value.type === 'dateTime') alternatives.add(literal(value, target, 'order', true));
  if (target.vocab && opts.expandValue && (value.type === 'string' || value.type === 'uri')) {
    alternatives.add(JSON.stringify(opts.expandValue(value.value)));
  }
  return [...alternatives].map((a) => `@ == ${a}`).join(' || ');
}

/**
 * A jsonpath literal. Date-times compare as strings (§4.9 asks for temporal order: exact when both
 * sides use the same zone and precision); against members the hub normalizes, and as an alternative
 * spelling for equality, a date-time with a zone is normalized the same way.
 */
function literal(v: QScalar, target: Target, kind: CmpKind, normalize = false): string {
  switch (v.type) {
    case 'number':
      return String(v.value);
    case 'boolean':
      return v.value ? 'true' : 'false';
    case 'dateTime':
      return JSON.stringify(
        normalize || (target.isoTime && kind === 'order') ? normalizeDateTime(v.value) : v.value,
      );
    case 'string':
    case 'uri':
    case 'date':
    case 'time':
      return JSON.stringify(v.value);
  }
}

function normalizeDateTime(s: string): string {
  if (!/(?:Z|[+-]\d{2}:?\d{2})$/.test(s)) return s;
  const ms = Date.parse(s.replace(',', '.'));
  return Number.isNaN(ms) ? s : new Date(ms).toISOString();
}

function regexCondition(r: QRegex): string {
  const t = translateRegex(r.source);
  if (!t.ok) throw new QuerySyntaxError(`Unsupported regular expression: ${t.message}`, t.offset);
  return `@ like_regex ${JSON.stringify(t.pattern)}${r.flags ? ` flag ${JSON.stringify(r.flags)}` : ''}`;
}

function bind(ctx: Ctx, value: unknown): string {
  return `$${ctx.params.push(value)}`;
}

// ---- linked entities (§4.9 LinkedEntityRelation, §4.5.23) --------------------------------------

/** `rel{Type:path}`: some entity that the Relationship `rel` points to matches the term on `path`. */
function compileLinked(t: QTerm, path: QPath, linked: NonNullable<QPath['linked']>, ctx: Ctx): string {
  const source = ctx.opts.linked;
  if (!source)
    throw new QuerySyntaxError('Queries across linked entities (rel{attr}) are not supported here', 0);
  if (t.op === 'notExists') return `NOT ${compileLinked({ ...t, op: 'exists' }, path, linked, ctx)}`;
  const n = ctx.aliases.next++;
  const alias = `q_l${n}`;
  const rel = `$${key(ctx.opts.expandAttr(path.attr))}[*]`;
  // The targets are listed in a FROM item ahead of the linked table, so that an unqualified column
  // still names the outer entity there.
  const targets = `(SELECT jsonb_path_query(${ctx.column}, ${bind(ctx, `${rel}.object[*]`)}::jsonpath) UNION ALL SELECT jsonb_path_query(${ctx.column}, ${bind(ctx, `${rel}.objectList[*]`)}::jsonpath)) AS q_o${n}(target)`;
  const conds: string[] = [];
  if (source.where) conds.push(source.where(alias));
  if (linked.types) {
    const expandType = ctx.opts.expandType ?? ctx.opts.expandAttr;
    conds.push(
      `${alias}.types && ${bind(
        ctx,
        linked.types.map((type) => expandType(type)),
      )}::text[]`,
    );
  }
  conds.push(compileTerm({ ...t, path: linked.path }, { ...ctx, column: `${alias}.attrs` }));
  return `EXISTS (SELECT 1 FROM ${targets} JOIN ${source.table} ${alias} ON ${alias}.id = q_o${n}.target #>> '{}' WHERE ${conds.join(' AND ')})`;
}

// ---- scopeQ ------------------------------------------------------------------------------------

/**
 * Compiles a scopeQ expression (NGSI-LD §4.19) to a SQL condition over a `text[]` column of scopes.
 * Exact scopes compare with `= ANY`, wildcards with an anchored regular expression.
 */
export function compileScopeQ(expr: ScopeExpr, column: string, params: unknown[]): string {
  switch (expr.kind) {
    case 'scope':
      if (isExactScope(expr)) return `$${params.push(scopeString(expr))}::text = ANY(${column})`;
      return `EXISTS (SELECT 1 FROM unnest(${column}) AS q_s(scope) WHERE q_s.scope ~ $${params.push(scopeRegex(expr))})`;
    case 'and':
    case 'or':
      return `(${expr.items.map((e) => compileScopeQ(e, column, params)).join(expr.kind === 'and' ? ' AND ' : ' OR ')})`;
  }
}

/** An anchored PostgreSQL regular expression for a scope pattern; literal levels are escaped. */
export function scopeRegex(p: ScopePattern): string {
  const levels = p.levels
    .map((l) => (l === '+' ? '/[^/]+' : `/${l.replace(/[^\p{L}\p{N}_]/gu, '\\$&')}`))
    .join('');
  return `^${levels}${p.descendants ? '(/.*)?' : ''}$`;
}
