/**
 * The NGSI-LD Scope Query Language (NGSI-LD §4.19, the `scopeQ` parameter): parser and an in-memory
 * matcher. Pure; the SQL form is in store/q-to-sql.ts.
 *
 * - `/Madrid/Gardens` matches that scope only;
 * - `/Madrid/Gardens/#` matches it and every scope below it;
 * - `/Madrid/+/ParqueNorte` matches any single level in place of `+`;
 * - `/#` matches any entity that has a scope;
 * - `;` is AND, `|` and `,` are OR, AND binds tighter, brackets group: `(/Madrid;/CompanyA),/CompanyB`.
 *
 * An entity matches a scope pattern when any of its scopes does; `a;b` asks that both patterns are
 * matched (possibly by different scopes of the entity).
 */
import { QuerySyntaxError } from './q-parser.js';

/**
 * A scope pattern: `levels` are the path levels after the leading `/`, `'+'` standing for any one
 * level; `descendants` is set by a trailing `/#`. `/#` alone is `{ levels: [], descendants: true }`.
 */
export interface ScopePattern {
  kind: 'scope';
  levels: string[];
  descendants: boolean;
}

export type ScopeExpr = ScopePattern | { kind: 'and' | 'or'; items: ScopeExpr[] };

const LEVEL_STOP = new Set([...'/;|,()#+'].concat([' ', '\t', '\n', '\r']));

/**
 * Parses a scopeQ string (NGSI-LD §4.19). The leading `/` of a scope may be left out, as in the
 * specification's own example `(/Madrid/Districts;/CompanyA)|CompanyB`.
 * Throws {@link QuerySyntaxError} with the 0-based position of the problem.
 */
export function parseScopeQ(input: string): ScopeExpr {
  let pos = 0;
  const fail = (message: string, at = pos): never => {
    throw new QuerySyntaxError(`${message} at position ${at}`, at);
  };
  const skipWs = (): void => {
    while (pos < input.length && /\s/.test(input[pos] as string)) pos++;
  };
  const peek = (): string => {
    skipWs();
    return input[pos] ?? '';
  };

  function parseOr(): ScopeExpr {
    const items = [parseAnd()];
    while (peek() === '|' || peek() === ',') {
      pos++;
      items.push(parseAnd());
    }
    return combine('or', items);
  }

  function parseAnd(): ScopeExpr {
    const items = [parseAtom()];
    while (peek() === ';') {
      pos++;
      items.push(parseAtom());
    }
    return combine('and', items);
  }

  function parseAtom(): ScopeExpr {
    if (peek() === '(') {
      const open = pos++;
      const e = parseOr();
      if (peek() !== ')') fail(`Unclosed '(' (opened at position ${open}): expected ')'`);
      pos++;
      return e;
    }
    return parseScope();
  }

  function parseScope(): ScopePattern {
    const start = pos;
    if (pos >= input.length || ';|,)'.includes(input[pos] as string))
      fail('Expected a scope such as /Madrid/Gardens');
    const levels: string[] = [];
    let descendants = false;
    if (input[pos] === '/') pos++;
    for (;;) {
      const levelStart = pos;
      if (input[pos] === '#') {
        pos++;
        descendants = true;
      } else if (input[pos] === '+') {
        pos++;
        levels.push('+');
      } else {
        while (pos < input.length && !LEVEL_STOP.has(input[pos] as string)) pos++;
        if (pos === levelStart) fail('Expected a scope level');
        levels.push(input.slice(levelStart, pos));
      }
      const next = input[pos];
      if (next === '/' && !descendants) {
        pos++;
        continue;
      }
      if (next !== undefined && !';|,) \t\n\r'.includes(next)) {
        if (descendants) fail("'#' must be the last level of a scope");
        fail(`Unexpected '${next}' in a scope ('+' and '#' stand for whole levels)`);
      }
      break;
    }
    if (levels.length === 0 && !descendants) fail('Expected a scope such as /Madrid/Gardens', start);
    return { kind: 'scope', levels, descendants };
  }

  skipWs();
  if (pos >= input.length) fail('Empty scopeQ');
  const expr = parseOr();
  if (peek() !== '') {
    if (input[pos] === ')') fail("Unexpected ')' without a matching '('");
    fail(`Unexpected '${input[pos]}'; expected ';', '|', ',' or the end`);
  }
  return expr;
}

/** True when an entity with these scopes matches the expression (NGSI-LD §4.19). */
export function matchesScopeQ(expr: ScopeExpr, scopes: readonly string[]): boolean {
  switch (expr.kind) {
    case 'scope':
      return scopes.some((s) => matchesPattern(expr, s));
    case 'and':
      return expr.items.every((e) => matchesScopeQ(e, scopes));
    case 'or':
      return expr.items.some((e) => matchesScopeQ(e, scopes));
  }
}

function matchesPattern(p: ScopePattern, scope: string): boolean {
  if (!scope.startsWith('/')) return false;
  const levels = scope === '/' ? [] : scope.slice(1).split('/');
  if (p.descendants ? levels.length < p.levels.length : levels.length !== p.levels.length) return false;
  if (p.descendants && p.levels.length === 0) return true;
  return p.levels.every((l, i) => l === '+' || l === levels[i]);
}

/** True when the pattern matches exactly one scope string (no `+`, no `#`). */
export function isExactScope(p: ScopePattern): boolean {
  return !p.descendants && !p.levels.includes('+');
}

/** The scope string of a pattern without wildcards, e.g. `/Madrid/Gardens`. */
export function scopeString(p: ScopePattern): string {
  return `/${p.levels.join('/')}`;
}

function combine(kind: 'and' | 'or', items: ScopeExpr[]): ScopeExpr {
  const flat = items.flatMap((e) => (e.kind === kind ? e.items : [e]));
  return flat.length === 1 ? (flat[0] as ScopeExpr) : { kind, items: flat };
}
