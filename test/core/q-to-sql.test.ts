import { describe, expect, it } from 'vitest';
import { parseQ, QuerySyntaxError } from '../../src/core/query/q-parser.js';
import { parseScopeQ } from '../../src/core/query/scope-query.js';
import { compileQ, compileScopeQ, scopeRegex, type QCompileOptions } from '../../src/store/q-to-sql.js';

const OPTS: QCompileOptions = {
  expandAttr: (t) => (t.includes(':') ? t : `https://ex.org/${t}`),
  expandValue: (t) => (t.includes(':') ? t : `https://ex.org/v/${t}`),
};
const A = '$."https://ex.org/a"[*]';
const NUM_TARGETS = (c: string): string =>
  `${A} ? (exists(@.value ? (${c})) || exists(@.json ? (${c})) || exists(@.valueList ? (${c})))`;

/** q → [SQL, bound values] (NGSI-LD §4.9 over the stored format of entity-model.ts). */
const CASES: [string, string, unknown[]][] = [
  ['a', 'attrs @? $1::jsonpath', [A]],
  ['!a', 'NOT attrs @? $1::jsonpath', [A]],
  ['a==5', 'attrs @? $1::jsonpath', [NUM_TARGETS('@ == 5')]],
  ['a>1e-7', 'attrs @? $1::jsonpath', [NUM_TARGETS('@ > 1e-7')]],
  ['a==1..5', 'attrs @? $1::jsonpath', [NUM_TARGETS('(@ >= 1 && @ <= 5)')]],
  ['a==1,2', 'attrs @? $1::jsonpath', [NUM_TARGETS('@ == 1 || @ == 2')]],
  ['a==true', 'attrs @? $1::jsonpath', [NUM_TARGETS('@ == true')]],
  ['a!=1', '(attrs @? $1::jsonpath AND NOT attrs @? $2::jsonpath)', [A, NUM_TARGETS('@ == 1')]],
  [
    'a=="x\\"y"',
    'attrs @? $1::jsonpath',
    [
      `${A} ? (exists(@.value ? (@ == "x\\"y")) || exists(@.value."@value" ? (@ == "x\\"y")) || exists(@.object ? (@ == "x\\"y")) || ` +
        `exists(@.objectList ? (@ == "x\\"y")) || exists(@.vocab ? (@ == "x\\"y" || @ == "https://ex.org/v/x\\"y")) || ` +
        `exists(@.languageValues ? (@ == "x\\"y")) || exists(@.json ? (@ == "x\\"y")) || exists(@.valueList ? (@ == "x\\"y")))`,
    ],
  ],
  [
    'a>"m"',
    'attrs @? $1::jsonpath',
    [
      `${A} ? (exists(@.value ? (@ > "m")) || exists(@.value."@value" ? (@ > "m")) || exists(@.languageValues ? (@ > "m")) || exists(@.json ? (@ > "m")) || exists(@.valueList ? (@ > "m")))`,
    ],
  ],
  [
    'a==2018-12-04T12:00:00+01:00',
    'attrs @? $1::jsonpath',
    [
      `${A} ? (exists(@.value ? (@ == "2018-12-04T12:00:00+01:00" || @ == "2018-12-04T11:00:00.000Z")) || ` +
        `exists(@.value."@value" ? (@ == "2018-12-04T12:00:00+01:00" || @ == "2018-12-04T11:00:00.000Z")) || ` +
        `exists(@.json ? (@ == "2018-12-04T12:00:00+01:00" || @ == "2018-12-04T11:00:00.000Z")) || ` +
        `exists(@.valueList ? (@ == "2018-12-04T12:00:00+01:00" || @ == "2018-12-04T11:00:00.000Z")))`,
    ],
  ],
  // members: one target; hub-written times compare in normalized form
  [
    'a.b.observedAt>=2020-01-01T00:00:00+01:00',
    'attrs @? $1::jsonpath',
    [`${A}.sub."https://ex.org/b"."observedAt" ? (@ >= "2019-12-31T23:00:00.000Z")`],
  ],
  ['a.unitCode==CEL', 'attrs @? $1::jsonpath', [`${A}."unitCode" ? (@ == "CEL")`]],
  ['a.datasetId', 'attrs @? $1::jsonpath', [`${A}."datasetId"`]],
  // paths into the value
  [
    'a[x.y]=="v"',
    'attrs @? $1::jsonpath',
    [
      `${A} ? (exists(@.value."x"."y" ? (@ == "v")) || exists(@.json."x"."y" ? (@ == "v")) || exists(@.languageMap."x"."y" ? (@ == "v")))`,
    ],
  ],
  [
    'a[*]',
    'attrs @? $1::jsonpath',
    [`${A} ? (exists(@.value.*) || exists(@.json.*) || exists(@.languageMap.*))`],
  ],
  // regular expressions: not on Relationship objects; non-strings never match
  [
    'a~=(?i)\\bx\\x41',
    'attrs @? $1::jsonpath',
    [
      `${A} ? (exists(@.value ? (@ like_regex "\\\\yx\\\\u0041" flag "i")) || exists(@.value."@value" ? (@ like_regex "\\\\yx\\\\u0041" flag "i")) || ` +
        `exists(@.vocab ? (@ like_regex "\\\\yx\\\\u0041" flag "i")) || exists(@.languageValues ? (@ like_regex "\\\\yx\\\\u0041" flag "i")) || ` +
        `exists(@.json ? (@ like_regex "\\\\yx\\\\u0041" flag "i")) || exists(@.valueList ? (@ like_regex "\\\\yx\\\\u0041" flag "i")))`,
    ],
  ],
  [
    'a.unitCode!~=^C',
    '(attrs @? $1::jsonpath AND NOT attrs @? $2::jsonpath)',
    [`${A}."unitCode" ? (@.type() == "string")`, `${A}."unitCode" ? (@ like_regex "^C")`],
  ],
  // logic
  [
    'a;b|c',
    '((attrs @? $1::jsonpath AND attrs @? $2::jsonpath) OR attrs @? $3::jsonpath)',
    [A, '$."https://ex.org/b"[*]', '$."https://ex.org/c"[*]'],
  ],
  // full IRIs, keys that need escaping in jsonpath
  ['https://ex.org/x\\y', 'attrs @? $1::jsonpath', ['$."https://ex.org/x\\\\y"[*]']],
  [
    'a[k"ey]',
    'attrs @? $1::jsonpath',
    [`${A} ? (exists(@.value."k\\"ey") || exists(@.json."k\\"ey") || exists(@.languageMap."k\\"ey"))`],
  ],
];

describe('compileQ', () => {
  it.each(CASES)('%s', (q, sql, values) => {
    const params: unknown[] = [];
    expect(compileQ(parseQ(q), OPTS, params)).toBe(sql);
    expect(params).toEqual(values);
  });

  it('appends to the caller’s parameters and uses the given column', () => {
    const params: unknown[] = ['tenant'];
    expect(compileQ(parseQ('a'), { ...OPTS, column: 'e.attrs' }, params)).toBe('e.attrs @? $2::jsonpath');
    expect(params).toEqual(['tenant', A]);
  });

  it('compiles a linked-entity term to a correlated subquery', () => {
    const params: unknown[] = [];
    const sql = compileQ(
      parseQ('a{T:b}==1'),
      { ...OPTS, column: 'e.attrs', linked: { table: 'entities', where: (l) => `${l}.tenant = e.tenant` } },
      params,
    );
    expect(sql).toBe(
      'EXISTS (SELECT 1 FROM (SELECT jsonb_path_query(e.attrs, $1::jsonpath) UNION ALL SELECT jsonb_path_query(e.attrs, $2::jsonpath)) AS q_o0(target) ' +
        "JOIN entities q_l0 ON q_l0.id = q_o0.target #>> '{}' WHERE q_l0.tenant = e.tenant AND q_l0.types && $3::text[] AND q_l0.attrs @? $4::jsonpath)",
    );
    expect(params).toEqual([
      `${A}.object[*]`,
      `${A}.objectList[*]`,
      ['https://ex.org/T'],
      NUM_TARGETS('@ == 1').replace(A, '$."https://ex.org/b"[*]'),
    ]);
  });

  it('rejects a linked-entity term when no linked table is configured', () => {
    expect(() => compileQ(parseQ('a{b}'), OPTS, [])).toThrow(QuerySyntaxError);
  });
});

/** scopeQ → [SQL, bound values] (NGSI-LD §4.19). */
const SCOPE_CASES: [string, string, unknown[]][] = [
  ['/Madrid/Gardens', '$1::text = ANY(scopes)', ['/Madrid/Gardens']],
  [
    '/Madrid/#',
    'EXISTS (SELECT 1 FROM unnest(scopes) AS q_s(scope) WHERE q_s.scope ~ $1)',
    ['^/Madrid(/.*)?$'],
  ],
  [
    '/a;/b|/c',
    '(($1::text = ANY(scopes) AND $2::text = ANY(scopes)) OR $3::text = ANY(scopes))',
    ['/a', '/b', '/c'],
  ],
];

const REGEX_CASES: [string, string][] = [
  ['/#', '^(/.*)?$'],
  ['/Madrid/+/ParqueNorte', '^/Madrid/[^/]+/ParqueNorte$'],
  ['/+/#', '^/[^/]+(/.*)?$'],
  ['/a.b/c*d/Zürich_1', '^/a\\.b/c\\*d/Zürich_1$'],
];

describe('compileScopeQ', () => {
  it.each(SCOPE_CASES)('%s', (s, sql, values) => {
    const params: unknown[] = [];
    expect(compileScopeQ(parseScopeQ(s), 'scopes', params)).toBe(sql);
    expect(params).toEqual(values);
  });

  it.each(REGEX_CASES)('scopeRegex(%s)', (s, regex) => {
    const expr = parseScopeQ(s);
    if (expr.kind !== 'scope') throw new Error('expected a single scope');
    expect(scopeRegex(expr)).toBe(regex);
  });
});
