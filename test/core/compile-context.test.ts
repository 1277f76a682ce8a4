import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileContext, type ContextDocument } from '../../src/core/context/compile-context.js';
import { InvalidContextError, type LocalContext } from '../../src/core/context/context-source.js';

const DIR = fileURLToPath(new URL('../../contexts/', import.meta.url));
const contextOf = (file: string) =>
  (JSON.parse(readFileSync(join(DIR, file), 'utf8')) as { '@context': LocalContext })['@context'];
const CORE: ContextDocument = { context: contextOf('ngsi-ld-core-context-v1.9.jsonld'), core: true };
const SDM = readdirSync(join(DIR, 'sdm'))
  .filter((f) => f.endsWith('.context.jsonld'))
  .map((f) => ({ domain: f.replace('.context.jsonld', ''), context: contextOf(join('sdm', f)) }));

const NGSI = 'https://uri.etsi.org/ngsi-ld/';
const DEF = 'https://uri.etsi.org/ngsi-ld/default-context/';
const GEO = 'https://purl.org/geojson/vocab#';

/** User contexts in order, then the core context. */
const compile = (...locals: (LocalContext | null)[]) =>
  compileContext([...locals.map((context) => ({ context })), CORE], locals);
const coreOnly = compile();

describe('core context only', () => {
  it.each([
    ['Property', `${NGSI}Property`],
    ['Relationship', `${NGSI}Relationship`],
    ['value', `${NGSI}hasValue`],
    ['object', `${NGSI}hasObject`],
    ['observedAt', `${NGSI}observedAt`],
    ['location', `${NGSI}location`],
    ['unitCode', `${NGSI}unitCode`],
    ['Point', `${GEO}Point`],
    ['description', 'http://purl.org/dc/terms/description'],
    ['id', '@id'],
    ['type', '@type'],
    ['@id', '@id'],
    ['temperature', `${DEF}temperature`],
    ['AirQualityObserved', `${DEF}AirQualityObserved`],
    ['ngsi-ld:foo', `${NGSI}foo`],
    ['geojson:Feature', `${GEO}Feature`],
    ['urn:ngsi-ld:Vehicle:1', 'urn:ngsi-ld:Vehicle:1'],
    ['https://example.org/speed', 'https://example.org/speed'],
    ['_:b0', '_:b0'],
  ])('expands %s', (term, iri) => {
    expect(coreOnly.expand(term)).toBe(iri);
  });

  it.each([
    [`${NGSI}Property`, 'Property'],
    [`${NGSI}hasValue`, 'value'],
    [`${NGSI}observedAt`, 'observedAt'],
    [`${GEO}Point`, 'Point'],
    ['@id', 'id'],
    ['@type', 'type'],
    [`${DEF}temperature`, 'temperature'],
    [`${NGSI}somethingNew`, 'ngsi-ld:somethingNew'],
    [`${GEO}Thing`, 'geojson:Thing'],
    ['https://example.org/speed', 'https://example.org/speed'],
    ['urn:ngsi-ld:Vehicle:1', 'urn:ngsi-ld:Vehicle:1'],
    // Stripping the default vocab would give "Property", which means something else.
    [`${DEF}Property`, 'ngsi-ld:default-context/Property'],
    [`${DEF}urn:x`, 'ngsi-ld:default-context/urn:x'],
  ])('compacts %s', (iri, term) => {
    expect(coreOnly.compact(iri)).toBe(term);
    expect(coreOnly.expand(coreOnly.compact(iri))).toBe(iri);
  });

  it('knows vocab and JSON terms', () => {
    expect(coreOnly.isVocabTerm('attributeName')).toBe(true);
    expect(coreOnly.isVocabTerm('vocab')).toBe(true);
    expect(coreOnly.isVocabTerm('observedAt')).toBe(false);
    expect(coreOnly.isJsonTerm('json')).toBe(true);
    expect(coreOnly.isJsonTerm('value')).toBe(false);
    expect(coreOnly.definitionOf('observedAt')?.type).toBe(`${NGSI}DateTime`);
    expect(coreOnly.definitionOf('coordinates')?.container).toEqual(['@list']);
    expect(coreOnly.vocab).toBe(DEF);
  });

  it('echoes the source and returns the same compaction twice', () => {
    const ctx = compileContext([CORE], 'https://example.org/ctx.jsonld');
    expect(ctx.source).toBe('https://example.org/ctx.jsonld');
    expect(ctx.compact(`${NGSI}Property`)).toBe(ctx.compact(`${NGSI}Property`));
  });
});

describe.each(SDM)('Smart Data Models $domain context', ({ context }) => {
  const ctx = compile(context);
  const terms = Object.keys(context).filter((t) => !t.startsWith('@'));

  it('has terms', () => {
    expect(terms.length).toBeGreaterThan(10);
  });

  it('round-trips every term: compact(expand(term)) === term', () => {
    const broken = terms.filter((t) => ctx.compact(ctx.expand(t)) !== t);
    expect(broken).toEqual([]);
  });

  it('expands its terms to the IRIs it defines (core terms keep their core IRI)', () => {
    for (const t of terms) {
      const def = context[t];
      const id = typeof def === 'string' ? def : (def as { '@id'?: string })['@id'];
      if (id !== undefined && !id.startsWith('@') && CORE.context?.[t] === undefined)
        expect(ctx.expand(t), t).toBe(id);
    }
  });

  it('leaves undefined terms in the default vocab', () => {
    expect(ctx.expand('notInAnyContext')).toBe(`${DEF}notInAnyContext`);
    expect(ctx.compact(`${DEF}notInAnyContext`)).toBe('notInAnyContext');
  });
});

describe('Smart Data Models terms', () => {
  const env = compile(SDM.find((s) => s.domain === 'dataModel.Environment')!.context);
  it.each([
    ['AirQualityObserved', 'https://smartdatamodels.org/dataModel.Environment/AirQualityObserved'],
    ['pm25', 'https://smartdatamodels.org/dataModel.Environment/pm25'],
    ['name', 'https://smartdatamodels.org/name'],
    ['location', `${NGSI}location`],
    ['Property', `${NGSI}Property`],
  ])('Environment expands %s', (term, iri) => {
    expect(env.expand(term)).toBe(iri);
    expect(env.compact(iri)).toBe(term);
  });
});

describe('protected core terms', () => {
  const hostile = compile({
    id: 'https://evil.example/id',
    type: 'https://evil.example/type',
    value: 'https://evil.example/value',
    Property: 'https://evil.example/Property',
    observedAt: { '@id': 'https://evil.example/observedAt', '@type': '@json' },
    location: { '@id': 'https://evil.example/location', '@protected': true },
    mine: 'https://example.org/mine',
  });
  it.each([
    ['id', '@id'],
    ['type', '@type'],
    ['value', `${NGSI}hasValue`],
    ['Property', `${NGSI}Property`],
    ['observedAt', `${NGSI}observedAt`],
    ['location', `${NGSI}location`],
    ['mine', 'https://example.org/mine'],
  ])('a user context cannot redefine %s', (term, iri) => {
    expect(hostile.expand(term)).toBe(iri);
  });
  it('keeps the core definition details and forgets the user IRIs', () => {
    expect(hostile.isJsonTerm('observedAt')).toBe(false);
    expect(hostile.compact('https://evil.example/Property')).toBe('https://evil.example/Property');
    expect(hostile.compact(`${NGSI}Property`)).toBe('Property');
  });
  it('applies the core context last even when given first', () => {
    const ctx = compileContext([CORE, { context: { Property: 'https://evil.example/Property' } }], null);
    expect(ctx.expand('Property')).toBe(`${NGSI}Property`);
  });
});

describe('user definitions building on core terms', () => {
  const ctx = compile({
    myProp: 'ngsi-ld:myProp',
    when: { '@id': 'https://e.org/when', '@type': 'DateTime' },
    shape: 'geojson:Shape',
  });
  it.each([
    ['myProp', `${NGSI}myProp`],
    ['shape', `${GEO}Shape`],
  ])('expands %s with a core prefix', (term, iri) => {
    expect(ctx.expand(term)).toBe(iri);
    expect(ctx.compact(iri)).toBe(term);
  });
  it('expands a core datatype term', () => {
    expect(ctx.definitionOf('when')?.type).toBe(`${NGSI}DateTime`);
  });
  it('keeps core prefixes after a null context', () => {
    expect(compile({ a: 'https://e.org/a' }, null, { b: 'ngsi-ld:b' }).expand('b')).toBe(`${NGSI}b`);
  });
});

describe('@vocab', () => {
  it('uses a user @vocab for undefined terms and compacts back to them', () => {
    const ctx = compile({ '@vocab': 'https://example.org/v#' });
    expect(ctx.expand('speed')).toBe('https://example.org/v#speed');
    expect(ctx.compact('https://example.org/v#speed')).toBe('speed');
    expect(ctx.expand('Property')).toBe(`${NGSI}Property`);
    expect(ctx.compact(`${DEF}speed`)).toBe('ngsi-ld:default-context/speed');
    expect(ctx.vocab).toBe('https://example.org/v#');
  });
  it.each([
    [[{ ex: 'https://example.org/', '@vocab': 'ex:vocab/' }], 'https://example.org/vocab/speed'],
    [[{ '@vocab': 'https://a.example/' }, { '@vocab': 'https://b.example/' }], 'https://b.example/speed'],
    [[{ '@vocab': 'https://a.example/' }, { '@vocab': null }], `${DEF}speed`],
  ])('%j', (locals, iri) => {
    expect(compile(...locals).expand('speed')).toBe(iri);
  });
});

describe('compact IRIs and term choice', () => {
  const ctx = compile({
    a: 'b:x', // defined before its prefix: resolved recursively
    b: 'c:y/',
    c: 'https://c.example/',
    ex: 'https://example.org/',
    exns: 'https://example.org/ns/',
    notPrefix: { '@id': 'https://np.example/' },
    isPrefix: { '@id': 'https://p.example/', '@prefix': true },
    noDelim: 'https://nd.example/x',
    'ex:special': { '@type': '@vocab' },
    chained: 'exns',
  });
  it.each([
    ['a', 'https://c.example/y/x'],
    ['b:z', 'https://c.example/y/z'],
    ['ex:thing', 'https://example.org/thing'],
    ['notPrefix:thing', 'notPrefix:thing'],
    ['isPrefix:thing', 'https://p.example/thing'],
    ['noDelim:thing', 'noDelim:thing'],
    ['ex:special', 'https://example.org/special'],
    ['chained', 'https://example.org/ns/'],
    ['ex://host/path', 'ex://host/path'],
  ])('expands %s', (term, iri) => {
    expect(ctx.expand(term)).toBe(iri);
  });
  it.each([
    ['https://example.org/ns/a', 'exns:a'],
    ['https://example.org/other', 'ex:other'],
    ['https://c.example/y/x', 'a'],
    ['https://c.example/y/q', 'b:q'],
    ['https://p.example/q', 'isPrefix:q'],
    ['https://np.example/q', 'https://np.example/q'],
  ])('compacts %s', (iri, term) => {
    expect(ctx.compact(iri)).toBe(term);
  });
  it('marks a compact-IRI term with @type @vocab', () => {
    expect(ctx.isVocabTerm('ex:special')).toBe(true);
  });
  it('picks the shortest, then lexicographically smallest term; user terms before core ones', () => {
    const x = 'https://example.org/x';
    expect(compile({ temp: x, u: x, t: x }).compact(x)).toBe('t');
    expect(compile({ bb: x, aa: x }).compact(x)).toBe('aa');
    expect(compile({ bb: x }, { aa: x }).compact(x)).toBe('aa');
    expect(compile({ prop: `${NGSI}Property` }).compact(`${NGSI}Property`)).toBe('prop');
    expect(
      compile({ desc: 'http://purl.org/dc/terms/description' }).compact(
        'http://purl.org/dc/terms/description',
      ),
    ).toBe('desc');
  });
  it('prefers core aliases of keywords', () => {
    const ctx2 = compile({ i: '@id', identifier: '@id' });
    expect(ctx2.compact('@id')).toBe('id');
    expect(ctx2.expand('i')).toBe('@id');
  });
});

describe('null, reset and protection', () => {
  it('treats a term defined as null as undefined (default vocab)', () => {
    const env = SDM.find((s) => s.domain === 'dataModel.Environment')!.context;
    expect(compile(env, { name: null }).expand('name')).toBe(`${DEF}name`);
    expect(compile(env, { name: { '@id': null } }).expand('name')).toBe(`${DEF}name`);
  });
  it('resets user definitions on a null context', () => {
    const ctx = compile({ foo: 'https://example.org/foo', '@vocab': 'https://v.example/' }, null);
    expect(ctx.expand('foo')).toBe(`${DEF}foo`);
  });
  it('accepts an identical redefinition of a protected term', () => {
    const p = { '@protected': true, foo: 'https://example.org/foo' };
    const ctx = compile(p, { foo: { '@id': 'https://example.org/foo' } });
    expect(ctx.expand('foo')).toBe('https://example.org/foo');
    expect(ctx.definitionOf('foo')?.protected).toBe(true);
  });
  it('ignores keyword-like values', () => {
    expect(compile({ foo: '@ignoreMe' }).expand('foo')).toBe(`${DEF}foo`);
  });
  it('expands datatype IRIs of @type', () => {
    const ctx = compile({
      xsd: 'http://www.w3.org/2001/XMLSchema#',
      when: { '@id': 'https://e.org/when', '@type': 'xsd:dateTime' },
    });
    expect(ctx.definitionOf('when')?.type).toBe('http://www.w3.org/2001/XMLSchema#dateTime');
  });
});

describe('invalid contexts', () => {
  it.each<[string, (LocalContext | null)[], RegExp]>([
    [
      'protected redefinition',
      [{ '@protected': true, foo: 'https://a.example/foo' }, { foo: 'https://b.example/foo' }],
      /protected/,
    ],
    ['null over protected terms', [{ '@protected': true, foo: 'https://a.example/foo' }, null], /protected/],
    ['@version 1.0', [{ '@version': 1.0 }], /@version/],
    ['cyclic IRI mapping', [{ a: 'b:x', b: 'a:y' }], /Cyclic/],
    ['self-referencing prefix', [{ a: 'a:x' }], /Cyclic/],
    ['number definition', [{ foo: 5 }], /Invalid definition/],
    ['array definition', [{ foo: ['x'] }], /Invalid definition/],
    ['non-string @id', [{ foo: { '@id': 5 } }], /@id/],
    ['keyword as @type', [{ foo: { '@id': 'https://e.org/foo', '@type': '@list' } }], /type mapping/],
    ['bad @container', [{ foo: { '@id': 'https://e.org/foo', '@container': 5 } }], /@container/],
    ['relative @vocab', [{ '@vocab': 'relative' }], /@vocab/],
    ['non-boolean @protected', [{ '@protected': 'yes' }], /@protected/],
    ['unresolved @import', [{ '@import': 'https://e.org/ctx.jsonld' }], /@import/],
    ['nested @context', [{ '@context': {} }], /@context/],
    ['alias of @context', [{ ctx: '@context' }], /@context/],
    ['empty term', [{ '': 'https://e.org/x' }], /empty/],
  ])('rejects %s', (_name, locals, message) => {
    expect(() => compile(...locals)).toThrow(InvalidContextError);
    expect(() => compile(...locals)).toThrow(message);
  });
});
