/**
 * The compiled q and scopeQ conditions select the right rows on a real PostgreSQL (NGSI-LD §4.9, §4.19):
 * a fixed set of stored entities covering every attribute kind, and tables of queries with the ids
 * they must return.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pool } from 'pg';
import { parseQ } from '../../src/core/query/q-parser.js';
import { matchesScopeQ, parseScopeQ } from '../../src/core/query/scope-query.js';
import type { StoredAttribute } from '../../src/core/entity-model.js';
import { compileQ, compileScopeQ, type QCompileOptions } from '../../src/store/q-to-sql.js';
import { createTestDatabase } from '../support/db.js';

const NS = 'https://example.org/';
const expandAttr = (t: string): string => (t.includes(':') ? t : `${NS}${t}`);
const expandValue = (t: string): string => (t.includes(':') ? t : `${NS}vocab/${t}`);
const OPTS: QCompileOptions = { expandAttr, expandValue, linked: { table: 'entities' } };

type Attrs = Record<string, StoredAttribute[]>;
interface Row {
  id: string;
  types: string[];
  scopes: string[] | null;
  attrs: Attrs;
}

/** Short attribute names are expanded like the compiler's `expandAttr`. */
function attrs(a: Record<string, StoredAttribute | StoredAttribute[]>): Attrs {
  return Object.fromEntries(Object.entries(a).map(([k, v]) => [expandAttr(k), Array.isArray(v) ? v : [v]]));
}
const prop = (value: unknown, extra: Partial<StoredAttribute> = {}): StoredAttribute => ({
  type: 'Property',
  value,
  ...extra,
});
const rel = (object: string | string[], extra: Partial<StoredAttribute> = {}): StoredAttribute => ({
  type: 'Relationship',
  object,
  ...extra,
});

const ROWS: Row[] = [
  {
    id: 'urn:E:1',
    types: [`${NS}Station`],
    scopes: ['/Madrid/Gardens/ParqueNorte'],
    attrs: attrs({
      temperature: prop(21.5, {
        observedAt: '2024-01-01T10:00:00.000Z',
        unitCode: 'CEL',
        sub: {
          [`${NS}accuracy`]: prop(0.5, { observedAt: '2024-01-01T10:00:00.000Z' }),
          [`${NS}provider`]: rel('urn:P:1'),
        },
      }),
      name: prop('Alpha Station'),
      tags: prop(['red', 'green']),
      address: prop({ city: 'Berlin', street: 'Ulrich Strasse', geo: { zip: 10115 } }),
      refRoad: rel('urn:Road:1'),
      active: prop(true),
      since: prop('2018-12-04T12:00:00Z'),
    }),
  },
  {
    id: 'urn:E:2',
    types: [`${NS}Station`],
    scopes: ['/Madrid/Districts/Latina', '/CompanyA'],
    attrs: attrs({
      temperature: [
        prop(15, { datasetId: 'urn:ds:a', observedAt: '2024-01-02T00:00:00.000Z' }),
        prop(30, { datasetId: 'urn:ds:b' }),
      ],
      name: prop('Beta'),
      tags: prop(['blue']),
      address: prop({ city: 'Paris' }),
      refRoad: rel(['urn:Road:2', 'urn:Road:3']),
      active: prop(false),
      since: prop({ '@type': 'DateTime', '@value': '2020-06-01T00:00:00Z' }),
      day: prop('2020-06-01'),
    }),
  },
  {
    id: 'urn:E:3',
    types: [`${NS}Person`],
    scopes: ['/Madrid'],
    attrs: attrs({
      temperature: prop('25'),
      label: {
        type: 'LanguageProperty',
        languageMap: { en: 'red', fr: 'rouge' },
        languageValues: ['red', 'rouge'],
      },
      category: { type: 'VocabProperty', vocab: `${NS}vocab/Male` },
      raw: { type: 'JsonProperty', json: { id: '85a', value: 'Overstay 60 minutes', n: 5 } },
      readings: { type: 'ListProperty', valueList: [1, 2, 3] },
      route: { type: 'ListRelationship', objectList: ['urn:Road:1', 'urn:Road:4'] },
    }),
  },
  {
    id: 'urn:E:4',
    types: [`${NS}Person`],
    scopes: ['/Barcelona/Gardens'],
    attrs: {
      ...attrs({
        label: {
          type: 'LanguageProperty',
          languageMap: { en: ['black', 'cat'], de: 'schwarz' },
          languageValues: ['black', 'cat', 'schwarz'],
        },
        category: { type: 'VocabProperty', vocab: [`${NS}vocab/Female`, `${NS}vocab/Other`] },
        name: prop('Gamma "quoted" \\ back'),
      }),
      'https://other.org/ns.v1/x': [prop(7)],
    },
  },
  { id: 'urn:E:5', types: [`${NS}Person`], scopes: null, attrs: {} },
  {
    id: 'urn:Road:1',
    types: [`${NS}Road`],
    scopes: null,
    attrs: attrs({ lanes: prop(2), name: prop('Main') }),
  },
  { id: 'urn:Road:2', types: [`${NS}Road`], scopes: null, attrs: attrs({ lanes: prop(4) }) },
  { id: 'urn:Road:4', types: [`${NS}Street`], scopes: null, attrs: attrs({ lanes: prop(1) }) },
];

const ALL = ROWS.map((r) => r.id);
const except = (...ids: string[]): string[] => ALL.filter((id) => !ids.includes(id));
const E = (...n: number[]): string[] => n.map((i) => `urn:E:${i}`);

/** q → ids it selects. */
const Q_CASES: [string, string[]][] = [
  // existence
  ['temperature', E(1, 2, 3)],
  ['!temperature', except(...E(1, 2, 3))],
  ['temperature.accuracy', E(1)],
  ['!temperature.accuracy', except(...E(1))],
  ['temperature.unitCode', E(1)],
  ['address[city]', E(1, 2)],
  ['address[country]', []],
  ['label[fr]', E(3)],
  // numbers, any instance of a multi-attribute, type mismatch never matches
  ['temperature==21.5', E(1)],
  ['temperature==30', E(2)],
  ['temperature==25', []],
  ['temperature=="25"', E(3)],
  ['temperature>20', E(1, 2)],
  ['temperature<16', E(2)],
  ['temperature>=15;temperature<=15', E(2)],
  ['temperature==20..22', E(1)],
  ['temperature==1,15,99', E(2)],
  // unequal: the attribute exists and no instance equals; other data types are unequal
  ['temperature!=15', E(1, 3)],
  ['temperature!=10..20', E(1, 3)],
  ['temperature!=15,21.5', E(3)],
  // members and sub-attributes
  ['temperature.observedAt>=2024-01-01T12:00:00Z', E(2)],
  ['temperature.observedAt==2024-01-01T10:00:00Z', E(1)],
  ['temperature.observedAt<2024-01-01T10:00:00.001Z', E(1)],
  ['temperature.unitCode=="CEL"', E(1)],
  ['temperature.unitCode==CEL', E(1)],
  ['temperature.datasetId==urn:ds:b', E(2)],
  ['temperature.accuracy<1', E(1)],
  ['temperature.accuracy.observedAt', E(1)],
  ['temperature.provider==urn:P:1', E(1)],
  // strings and regular expressions
  ['name=="Beta"', E(2)],
  ['name==Beta', E(2)],
  ['name=="Gamma \\"quoted\\" \\\\ back"', E(4)],
  ['name>"B"', ['urn:E:2', 'urn:E:4', 'urn:Road:1']],
  ['name=="A".."C"', E(1, 2)],
  ['name~=^Al', E(1)],
  ['name~=station$', []],
  ['name~=(?i)STATION$', E(1)],
  ['name~=\\bStation', E(1)],
  ['name~=^(Alpha|Beta)', E(1, 2)],
  ['name~="^(Alpha|Beta)$"', E(2)],
  ['name~="Alpha|Beta"', E(1, 2)],
  ['name!~=^Al', ['urn:E:2', 'urn:E:4', 'urn:Road:1']],
  ['temperature~=5', E(3)],
  ['temperature!~=5', []],
  // arrays: any element
  ['tags=="red"', E(1)],
  ['tags=="red","blue"', E(1, 2)],
  ['tags!="red"', E(2)],
  // paths into the value
  ['address[city]=="Berlin"', E(1)],
  ['address[geo.zip]==10115', E(1)],
  ['address[geo][zip]==10115', E(1)],
  ['address[city]!="Berlin"', E(2)],
  ['raw[value]=="Overstay 60 minutes"', E(3)],
  ['raw[n]>4', E(3)],
  // relationships: == and != on object/objectList, never ordered
  ['refRoad==urn:Road:1', E(1)],
  ['refRoad==urn:Road:3', E(2)],
  ['refRoad=="urn:Road:2","urn:Road:9"', E(2)],
  ['refRoad!=urn:Road:1', E(2)],
  ['refRoad>"a"', []],
  ['route==urn:Road:4', E(3)],
  ['route~=Road', []],
  // booleans
  ['active==true', E(1)],
  ['active==false', E(2)],
  ['active!=true', E(2)],
  // dates: strings and {"@value"} objects
  ['since>=2019-01-01T00:00:00Z', E(2)],
  ['since<2019-01-01T00:00:00Z', E(1)],
  ['since==2018-12-04T12:00:00Z', E(1)],
  ['since==2020-06-01T00:00:00Z', E(2)],
  ['day==2020-06-01', E(2)],
  ['day==2020-01-01..2020-12-31', E(2)],
  // LanguageProperty: any language, or one
  ['label=="rouge"', E(3)],
  ['label=="cat"', E(4)],
  ['label[en]=="red"', E(3)],
  ['label[en]=="rouge"', []],
  ['label[*]=="schwarz"', E(4)],
  ['label!="red"', E(4)],
  ['label~=^sch', E(4)],
  // VocabProperty: raw or expanded
  ['category==Male', E(3)],
  ['category=="https://example.org/vocab/Female"', E(4)],
  ['category==Other,Male', E(3, 4)],
  ['category!=Male', E(4)],
  // ListProperty, ListRelationship
  ['readings==2', E(3)],
  ['readings>2', E(3)],
  ['readings==10..20', []],
  // full IRIs as attribute names
  ['https://other.org/ns.v1/x==7', E(4)],
  ['https://other.org/ns.v1/x>7', []],
  // logic: AND binds tighter than OR
  ['temperature>20|name=="Beta"', E(1, 2)],
  ['(temperature>20;active==true)|label=="rouge"', E(1, 3)],
  ['temperature>20;active==true|label=="rouge"', E(1, 3)],
  ['temperature;!name', E(3)],
  ['(temperature>20|name~=Gamma);!active', E(4)],
  // linked entities
  ['refRoad{lanes}==4', E(2)],
  ['refRoad{Road:lanes}>=2', E(1, 2)],
  ['route{Street:lanes}==1', E(3)],
  ['route{Road:lanes}==1', []],
  ['refRoad{name}=="Main"', E(1)],
  ['!refRoad{lanes}', except(...E(1, 2))],
];

/** Patterns that must translate to something PostgreSQL accepts. */
const REGEXES = [
  '^a.*z$',
  '\\d+',
  '[\\d]',
  '[^\\d]',
  '\\bword\\B',
  '(?=a)a',
  '(?<=a)b',
  '(?<!a)b',
  'x*?',
  '(a)\\1',
  '\\x41\\u0042',
  '[[:alpha:]]+',
  '\\w\\s\\S\\W',
  '[\\w-]',
  '\\/\\.\\-',
  'a{2,}',
  '(?:ab)+',
  '\\cA',
  '[\\b]',
  '\\t\\n\\r\\f\\v',
  '(?i)^abc',
  '(?ims)x',
  'ü+',
  '[^\\]]',
  '[\\]a]',
  '[a\\-z]',
  '\\\\',
];

/** scopeQ → ids. */
const SCOPE_CASES: [string, string[]][] = [
  ['/Madrid', E(3)],
  ['/Madrid/#', E(1, 2, 3)],
  ['/Madrid/+/ParqueNorte', E(1)],
  ['/+/Gardens/#', E(1, 4)],
  ['/#', E(1, 2, 3, 4)],
  ['/Madrid/Districts/Latina;/CompanyA', E(2)],
  ['(/Madrid/Districts/#;/CompanyA),/Barcelona/#', E(2, 4)],
  ['/CompanyA|/Madrid', E(2, 3)],
  ['/Mad.rid', []],
];

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let pool: Pool;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = db.pool;
  await pool.query(
    'CREATE TABLE entities (id text PRIMARY KEY, types text[] NOT NULL, attrs jsonb NOT NULL, scopes text[])',
  );
  await pool.query('CREATE INDEX entities_attrs_idx ON entities USING gin (attrs)');
  for (const r of ROWS) {
    await pool.query('INSERT INTO entities (id, types, attrs, scopes) VALUES ($1, $2, $3, $4)', [
      r.id,
      r.types,
      JSON.stringify(r.attrs),
      r.scopes,
    ]);
  }
});

afterAll(async () => {
  await db?.drop();
});

async function select(condition: (params: unknown[]) => string): Promise<string[]> {
  const params: unknown[] = [];
  const where = condition(params);
  const { rows } = await pool.query<{ id: string }>(
    `SELECT id FROM entities WHERE ${where} ORDER BY id COLLATE "C"`,
    params,
  );
  return rows.map((r) => r.id);
}

describe('q on PostgreSQL', () => {
  it.each(Q_CASES)('%s', async (q, expected) => {
    expect(await select((params) => compileQ(parseQ(q), OPTS, params))).toEqual([...expected].sort());
  });

  it.each(REGEXES)('regex %s is accepted by PostgreSQL', async (pattern) => {
    await expect(
      select((params) => compileQ(parseQ(`name~=${pattern}`), OPTS, params)),
    ).resolves.toBeInstanceOf(Array);
  });

  it('serves equality from the GIN index on attrs', async () => {
    const client = await pool.connect();
    try {
      await client.query('SET enable_seqscan = off');
      const params: unknown[] = [];
      const where = compileQ(parseQ('name=="Beta"'), OPTS, params);
      const { rows } = await client.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN SELECT id FROM entities WHERE ${where}`,
        params,
      );
      expect(rows.map((r) => r['QUERY PLAN']).join('\n')).toContain('entities_attrs_idx');
    } finally {
      await client.query('RESET enable_seqscan');
      client.release();
    }
  });
});

describe('scopeQ on PostgreSQL', () => {
  it.each(SCOPE_CASES)('%s', async (s, expected) => {
    const expr = parseScopeQ(s);
    expect(await select((params) => compileScopeQ(expr, 'scopes', params))).toEqual([...expected].sort());
    // The in-memory matcher (subscriptions) agrees with SQL.
    const inMemory = ROWS.filter((r) => matchesScopeQ(expr, r.scopes ?? [])).map((r) => r.id);
    expect(inMemory.sort()).toEqual([...expected].sort());
  });
});
