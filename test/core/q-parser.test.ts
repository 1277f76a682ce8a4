import { describe, expect, it } from 'vitest';
import {
  parseQ,
  QuerySyntaxError,
  type QExpr,
  type QPath,
  type QScalar,
} from '../../src/core/query/q-parser.js';

const p = (attr: string, more: Partial<QPath> = {}): QPath => ({ attr, sub: [], ...more });
const num = (value: number): QScalar => ({ type: 'number', value });
const str = (value: string): QScalar => ({ type: 'string', value });
const uri = (value: string): QScalar => ({ type: 'uri', value });

/** NGSI-LD §4.9: input → AST. */
const CASES: [string, QExpr][] = [
  // existence (examples 0 and 5), not-exists extension
  ['temperature', { kind: 'term', path: p('temperature'), op: 'exists' }],
  ['!temperature', { kind: 'term', path: p('temperature'), op: 'notExists' }],
  // operators and value types (examples 1-3)
  ['temperature==20', { kind: 'term', path: p('temperature'), op: '==', value: num(20) }],
  ['temperature!=-2.5e3', { kind: 'term', path: p('temperature'), op: '!=', value: num(-2500) }],
  ['brandName!="Mercedes"', { kind: 'term', path: p('brandName'), op: '!=', value: str('Mercedes') }],
  ['a>1', { kind: 'term', path: p('a'), op: '>', value: num(1) }],
  ['a>=1', { kind: 'term', path: p('a'), op: '>=', value: num(1) }],
  ['a<1', { kind: 'term', path: p('a'), op: '<', value: num(1) }],
  ['a<=1', { kind: 'term', path: p('a'), op: '<=', value: num(1) }],
  ['a<"m"', { kind: 'term', path: p('a'), op: '<', value: str('m') }],
  ['a==true', { kind: 'term', path: p('a'), op: '==', value: { type: 'boolean', value: true } }],
  ['a==false', { kind: 'term', path: p('a'), op: '==', value: { type: 'boolean', value: false } }],
  ['a=="say \\"hi\\"\\n\\u00e9"', { kind: 'term', path: p('a'), op: '==', value: str('say "hi"\né') }],
  ['a=="x;y|z)"', { kind: 'term', path: p('a'), op: '==', value: str('x;y|z)') }],
  [
    'isParked=="urn:ngsi-ld:OffStreetParking:Downtown1"',
    { kind: 'term', path: p('isParked'), op: '==', value: str('urn:ngsi-ld:OffStreetParking:Downtown1') },
  ],
  [
    'refRoad==urn:ngsi-ld:Road:1',
    { kind: 'term', path: p('refRoad'), op: '==', value: uri('urn:ngsi-ld:Road:1') },
  ],
  [
    'a==https://example.org/x?y=1#z',
    { kind: 'term', path: p('a'), op: '==', value: uri('https://example.org/x?y=1#z') },
  ],
  ['gender==Male', { kind: 'term', path: p('gender'), op: '==', value: uri('Male') }],
  [
    'a>=2018-12-04T12:00:00Z',
    { kind: 'term', path: p('a'), op: '>=', value: { type: 'dateTime', value: '2018-12-04T12:00:00Z' } },
  ],
  [
    'a<2018-12-04T12:00:00.123+01:00',
    {
      kind: 'term',
      path: p('a'),
      op: '<',
      value: { type: 'dateTime', value: '2018-12-04T12:00:00.123+01:00' },
    },
  ],
  ['a==2018-12-04', { kind: 'term', path: p('a'), op: '==', value: { type: 'date', value: '2018-12-04' } }],
  ['a>12:30:00Z', { kind: 'term', path: p('a'), op: '>', value: { type: 'time', value: '12:30:00Z' } }],
  // ranges and value lists
  ['a==1..5', { kind: 'term', path: p('a'), op: '==', value: { type: 'range', from: num(1), to: num(5) } }],
  [
    'a!=-1.5..2.5',
    { kind: 'term', path: p('a'), op: '!=', value: { type: 'range', from: num(-1.5), to: num(2.5) } },
  ],
  [
    'a=="a".."m"',
    { kind: 'term', path: p('a'), op: '==', value: { type: 'range', from: str('a'), to: str('m') } },
  ],
  [
    'a==2018-01-01..2018-12-31',
    {
      kind: 'term',
      path: p('a'),
      op: '==',
      value: {
        type: 'range',
        from: { type: 'date', value: '2018-01-01' },
        to: { type: 'date', value: '2018-12-31' },
      },
    },
  ],
  [
    'a==2018-01-01T00:00:00.5Z..2018-01-02T00:00:00Z',
    {
      kind: 'term',
      path: p('a'),
      op: '==',
      value: {
        type: 'range',
        from: { type: 'dateTime', value: '2018-01-01T00:00:00.5Z' },
        to: { type: 'dateTime', value: '2018-01-02T00:00:00Z' },
      },
    },
  ],
  [
    'a==1,2,3',
    { kind: 'term', path: p('a'), op: '==', value: { type: 'list', items: [num(1), num(2), num(3)] } },
  ],
  [
    'color!="black","red"',
    { kind: 'term', path: p('color'), op: '!=', value: { type: 'list', items: [str('black'), str('red')] } },
  ],
  [
    'a==urn:x:1, urn:x:2',
    {
      kind: 'term',
      path: p('a'),
      op: '==',
      value: { type: 'list', items: [uri('urn:x:1'), uri('urn:x:2')] },
    },
  ],
  // attribute paths (examples 8-10), members, IRIs
  ['a.b.c==1', { kind: 'term', path: p('a', { sub: ['b', 'c'] }), op: '==', value: num(1) }],
  [
    'temperature.observedAt>=2017-12-24T12:00:00Z',
    {
      kind: 'term',
      path: p('temperature', { member: 'observedAt' }),
      op: '>=',
      value: { type: 'dateTime', value: '2017-12-24T12:00:00Z' },
    },
  ],
  [
    'a.b.unitCode=="CEL"',
    { kind: 'term', path: p('a', { sub: ['b'], member: 'unitCode' }), op: '==', value: str('CEL') },
  ],
  ['a.datasetId', { kind: 'term', path: p('a', { member: 'datasetId' }), op: 'exists' }],
  [
    'address[city]=="Berlin"',
    { kind: 'term', path: p('address', { valuePath: ['city'] }), op: '==', value: str('Berlin') },
  ],
  [
    'sensor.rawdata[airquality.particulate]==40',
    {
      kind: 'term',
      path: p('sensor', { sub: ['rawdata'], valuePath: ['airquality', 'particulate'] }),
      op: '==',
      value: num(40),
    },
  ],
  ['a[x][y]', { kind: 'term', path: p('a', { valuePath: ['x', 'y'] }), op: 'exists' }],
  ['color[*]=="red"', { kind: 'term', path: p('color', { valuePath: ['*'] }), op: '==', value: str('red') }],
  ['https://example.org/x==5', { kind: 'term', path: p('https://example.org/x'), op: '==', value: num(5) }],
  [
    'https://ex.org/ns.v1/t.observedAt',
    { kind: 'term', path: p('https://ex.org/ns.v1/t', { member: 'observedAt' }), op: 'exists' },
  ],
  [
    'https://ex.org/a.https://ex.org/b>1',
    { kind: 'term', path: p('https://ex.org/a', { sub: ['https://ex.org/b'] }), op: '>', value: num(1) },
  ],
  ['urn:x:attr==1', { kind: 'term', path: p('urn:x:attr'), op: '==', value: num(1) }],
  ['ex:temp.ex:acc>1', { kind: 'term', path: p('ex:temp', { sub: ['ex:acc'] }), op: '>', value: num(1) }],
  ['température>1', { kind: 'term', path: p('température'), op: '>', value: num(1) }],
  // linked entities (examples 13, 14)
  [
    'sensor{humidity}==40',
    { kind: 'term', path: p('sensor', { linked: { path: p('humidity') } }), op: '==', value: num(40) },
  ],
  [
    'sensor{Device,Meter:humidity.observedAt}',
    {
      kind: 'term',
      path: p('sensor', {
        linked: { types: ['Device', 'Meter'], path: p('humidity', { member: 'observedAt' }) },
      }),
      op: 'exists',
    },
  ],
  [
    'a{b{c[d]}}==1',
    {
      kind: 'term',
      path: p('a', { linked: { path: p('b', { linked: { path: p('c', { valuePath: ['d'] }) } }) } }),
      op: '==',
      value: num(1),
    },
  ],
  // regular expressions
  [
    'name~=^Al.*n$',
    { kind: 'term', path: p('name'), op: '~=', value: { type: 'regex', source: '^Al.*n$', flags: '' } },
  ],
  [
    'name!~=(?i)^al',
    { kind: 'term', path: p('name'), op: '!~=', value: { type: 'regex', source: '^al', flags: 'i' } },
  ],
  [
    'name~="a|b\\"c"',
    { kind: 'term', path: p('name'), op: '~=', value: { type: 'regex', source: 'a|b"c', flags: '' } },
  ],
  [
    'name~=[;|)]x',
    { kind: 'term', path: p('name'), op: '~=', value: { type: 'regex', source: '[;|)]x', flags: '' } },
  ],
  [
    '(name~=^(a|b)\\);x)',
    {
      kind: 'and',
      items: [
        { kind: 'term', path: p('name'), op: '~=', value: { type: 'regex', source: '^(a|b)\\)', flags: '' } },
        { kind: 'term', path: p('x'), op: 'exists' },
      ],
    },
  ],
  // logic (examples 4, 6, 7): AND binds tighter than OR
  [
    'speed>50;brandName!="Mercedes"',
    {
      kind: 'and',
      items: [
        { kind: 'term', path: p('speed'), op: '>', value: num(50) },
        { kind: 'term', path: p('brandName'), op: '!=', value: str('Mercedes') },
      ],
    },
  ],
  [
    'a|b;c',
    {
      kind: 'or',
      items: [
        { kind: 'term', path: p('a'), op: 'exists' },
        {
          kind: 'and',
          items: [
            { kind: 'term', path: p('b'), op: 'exists' },
            { kind: 'term', path: p('c'), op: 'exists' },
          ],
        },
      ],
    },
  ],
  [
    '((speed>50|rpm>3000);brandName=="Mercedes")',
    {
      kind: 'and',
      items: [
        {
          kind: 'or',
          items: [
            { kind: 'term', path: p('speed'), op: '>', value: num(50) },
            { kind: 'term', path: p('rpm'), op: '>', value: num(3000) },
          ],
        },
        { kind: 'term', path: p('brandName'), op: '==', value: str('Mercedes') },
      ],
    },
  ],
  [
    '(temperature>=20;temperature<=25)|capacity<=10',
    {
      kind: 'or',
      items: [
        {
          kind: 'and',
          items: [
            { kind: 'term', path: p('temperature'), op: '>=', value: num(20) },
            { kind: 'term', path: p('temperature'), op: '<=', value: num(25) },
          ],
        },
        { kind: 'term', path: p('capacity'), op: '<=', value: num(10) },
      ],
    },
  ],
  [
    'a;(b;c);d',
    {
      kind: 'and',
      items: ['a', 'b', 'c', 'd'].map((n): QExpr => ({ kind: 'term', path: p(n), op: 'exists' })),
    },
  ],
  [
    ' a == 1 ; !b ',
    {
      kind: 'and',
      items: [
        { kind: 'term', path: p('a'), op: '==', value: num(1) },
        { kind: 'term', path: p('b'), op: 'notExists' },
      ],
    },
  ],
];

/** Malformed input → message and position. */
const ERRORS: [string, string, number][] = [
  ['', 'Empty q expression at position 0', 0],
  ['a==', "Expected a value after '==' at position 3", 3],
  ['temperature==;x', "Expected a value after '==' at position 13", 13],
  ['a=1', "Unknown operator '='; use '==' for equality at position 1", 1],
  ['a>1,2', "A value list needs '==' or '!=', not '>' at position 3", 3],
  ['a>1..2', "A range needs '==' or '!=', not '>' at position 3", 3],
  ['a>true', "Operator '>' needs a number, a quoted string, a date, a time or a date-time at position 2", 2],
  ['a>"x"..', "A range needs '==' or '!=', not '>' at position 5", 5],
  ['a==1.."x"', 'Range bounds must have the same type (found number and string) at position 3', 3],
  [
    'a==true..false',
    'Range bounds must be numbers, quoted strings, dates, times or date-times at position 3',
    3,
  ],
  ['a==1..', "Expected the upper bound of a range after '..' at position 6", 6],
  ['a==1..5,7', 'A value list cannot contain ranges at position 7', 7],
  ['a==Big Ben', "Unexpected 'B'; expected ';', '|', ')' or the end at position 7", 7],
  ['a==1e999', 'Invalid value \'1e999\'; quote strings with "..." at position 3', 3],
  ['a==12abc', 'Invalid value \'12abc\'; quote strings with "..." at position 3', 3],
  ['a=="open', 'Unterminated string at position 3', 3],
  ['a=="\\q"', 'Invalid escape sequence in string at position 3', 3],
  ['a==1;', 'Expected a query term at position 5', 5],
  ['a==1||b', 'Expected a query term at position 5', 5],
  ['(a==1', "Unclosed '(' (opened at position 0): expected ')' at position 5", 5],
  ['a==1)', "Unexpected ')' without a matching '(' at position 4", 4],
  [
    'a b',
    "Unexpected 'b'; expected an operator (==, !=, >, >=, <, <=, ~=, !~=), ';', '|', ')' or the end at position 2",
    2,
  ],
  ['5==a', "Invalid name '5': a name starts with a letter at position 0", 0],
  ['a.==1', "Expected a sub-attribute name after '.' at position 2", 2],
  ['a.observedAt.b', "'observedAt' must be the last element of an attribute path at position 12", 12],
  ['a.unitCode[x]', "A path into the value cannot follow '.unitCode' at position 10", 10],
  ['a[x', "Unclosed '[' (opened at position 1): expected ']' at position 3", 3],
  ['a[]', "Expected a member name inside '[...]' at position 2", 2],
  ['a{b', "Unclosed '{' (opened at position 1): expected '}' at position 3", 3],
  ['!a==1', "'!' (attribute does not exist) cannot be combined with an operator at position 2", 2],
  ['!(a)', "'!' can only be applied to an attribute, not to a group at position 1", 1],
  ['a~=', "Expected a regular expression after '~=' at position 3", 3],
  [
    'a~=(unclosed',
    'Unsupported regular expression: invalid regular expression: Invalid regular expression: /(unclosed/: Unterminated group at position 3',
    3,
  ],
  ['a~=\\p{L}', "Unsupported regular expression: unsupported escape '\\p' at position 3", 3],
  [
    'a~=x(?<n>y)',
    'Unsupported regular expression: unsupported group syntax (named groups and inline flags inside a pattern are not supported) at position 4',
    4,
  ],
  [
    'a~=(?x)y',
    "Invalid regular expression: unsupported inline flag 'x' (supported: i, m, s) at position 3",
    3,
  ],
  [
    'a~=[]',
    "Unsupported regular expression: '[]' is read differently by POSIX and JavaScript at position 3",
    3,
  ],
];

describe('parseQ', () => {
  it.each(CASES)('%s', (input, expected) => {
    expect(parseQ(input)).toEqual(expected);
  });

  it.each(ERRORS)('rejects %j', (input, message, position) => {
    let error: unknown;
    try {
      parseQ(input);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(QuerySyntaxError);
    expect((error as QuerySyntaxError).message).toBe(message);
    expect((error as QuerySyntaxError).position).toBe(position);
  });
});
