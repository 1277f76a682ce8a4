import { describe, expect, it } from 'vitest';
import { QuerySyntaxError } from '../../src/core/query/q-parser.js';
import {
  matchesScopeQ,
  parseScopeQ,
  type ScopeExpr,
  type ScopePattern,
} from '../../src/core/query/scope-query.js';

const s = (levels: string[], descendants = false): ScopePattern => ({ kind: 'scope', levels, descendants });

/** NGSI-LD §4.19: input → AST (examples 1-5 of the clause among them). */
const CASES: [string, ScopeExpr][] = [
  ['/Madrid', s(['Madrid'])],
  ['/Madrid/Gardens/#', s(['Madrid', 'Gardens'], true)],
  ['/Madrid/+/ParqueNorte', s(['Madrid', '+', 'ParqueNorte'])],
  ['/#', s([], true)],
  ['/+/#', s(['+'], true)],
  ['/Zürich/Bahnhof_1', s(['Zürich', 'Bahnhof_1'])],
  ['(/Madrid/Districts;/CompanyA)', { kind: 'and', items: [s(['Madrid', 'Districts']), s(['CompanyA'])] }],
  [
    '(/Madrid/Districts;/CompanyA)|CompanyB',
    {
      kind: 'or',
      items: [{ kind: 'and', items: [s(['Madrid', 'Districts']), s(['CompanyA'])] }, s(['CompanyB'])],
    },
  ],
  [
    '(/Madrid/Districts;/CompanyA),/CompanyB',
    {
      kind: 'or',
      items: [{ kind: 'and', items: [s(['Madrid', 'Districts']), s(['CompanyA'])] }, s(['CompanyB'])],
    },
  ],
  ['/a,/b|/c', { kind: 'or', items: [s(['a']), s(['b']), s(['c'])] }],
  ['/a;/b|/c', { kind: 'or', items: [{ kind: 'and', items: [s(['a']), s(['b'])] }, s(['c'])] }],
  [' /a , /b ', { kind: 'or', items: [s(['a']), s(['b'])] }],
];

const ERRORS: [string, string, number][] = [
  ['', 'Empty scopeQ at position 0', 0],
  ['/', 'Expected a scope level at position 1', 1],
  ['/a/', 'Expected a scope level at position 3', 3],
  ['/a//b', 'Expected a scope level at position 3', 3],
  ['/a/#/b', "'#' must be the last level of a scope at position 4", 4],
  ['/a#', "Unexpected '#' in a scope ('+' and '#' stand for whole levels) at position 2", 2],
  ['/a+b', "Unexpected '+' in a scope ('+' and '#' stand for whole levels) at position 2", 2],
  ['/a;', 'Expected a scope such as /Madrid/Gardens at position 3', 3],
  ['(/a', "Unclosed '(' (opened at position 0): expected ')' at position 3", 3],
  ['/a)', "Unexpected ')' without a matching '(' at position 2", 2],
];

/** scopeQ, entity scopes, match? */
const MATCHES: [string, string[], boolean][] = [
  ['/Madrid', ['/Madrid'], true],
  ['/Madrid', ['/Madrid/Gardens'], false],
  ['/Madrid/Gardens/#', ['/Madrid/Gardens'], true],
  ['/Madrid/Gardens/#', ['/Madrid/Gardens/ParqueNorte/Parterre1'], true],
  ['/Madrid/Gardens/#', ['/Madrid/GardensX'], false],
  ['/Madrid/Gardens/#', ['/Madrid'], false],
  ['/Madrid/+/ParqueNorte', ['/Madrid/Sights/ParqueNorte'], true],
  ['/Madrid/+/ParqueNorte', ['/Madrid/ParqueNorte'], false],
  ['/Madrid/+/ParqueNorte', ['/Madrid/a/b/ParqueNorte'], false],
  ['/#', ['/anything/at/all'], true],
  ['/#', [], false],
  ['(/Madrid/Districts;/CompanyA)', ['/Madrid/Districts', '/CompanyA'], true],
  ['(/Madrid/Districts;/CompanyA)', ['/Madrid/Districts'], false],
  ['(/Madrid/Districts;/CompanyA),/CompanyB', ['/CompanyB'], true],
  ['/a|/b', ['/c', '/b'], true],
  ['/a|/b', ['/c'], false],
];

describe('parseScopeQ', () => {
  it.each(CASES)('%s', (input, expected) => {
    expect(parseScopeQ(input)).toEqual(expected);
  });

  it.each(ERRORS)('rejects %j', (input, message, position) => {
    let error: unknown;
    try {
      parseScopeQ(input);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(QuerySyntaxError);
    expect((error as QuerySyntaxError).message).toBe(message);
    expect((error as QuerySyntaxError).position).toBe(position);
  });
});

describe('matchesScopeQ', () => {
  it.each(MATCHES)('%s on %j → %s', (q, scopes, expected) => {
    expect(matchesScopeQ(parseScopeQ(q), scopes)).toBe(expected);
  });
});
