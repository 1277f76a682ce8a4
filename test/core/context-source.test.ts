import { describe, expect, it } from 'vitest';
import {
  InvalidContextError,
  checkContextUrl,
  contextCacheKey,
  contextUrls,
  mergeImport,
  remoteContextOf,
  validateContextValue,
} from '../../src/core/context/context-source.js';
import {
  CORE_CONTEXT_URL,
  CORE_CONTEXT_URLS,
  isCoreContextUrl,
} from '../../src/core/context/core-context.js';
import { HubError } from '../../src/core/errors.js';

const SDM = 'https://smart-data-models.github.io/dataModel.Environment/context.jsonld';

describe('validateContextValue', () => {
  it.each<[string, unknown]>([
    ['a URL', SDM],
    ['an object', { speed: 'https://example.org/speed' }],
    ['null', null],
    ['an empty array', []],
    ['a mixed array', [SDM, { speed: 'https://example.org/speed' }, null, CORE_CONTEXT_URL]],
    ['an @import', { '@import': SDM, x: 'https://e.org/x' }],
    ['a URN', 'urn:example:context'],
  ])('accepts %s', (_name, value) => {
    expect(validateContextValue(value)).toEqual(value);
  });

  it.each<[string, unknown, RegExp]>([
    ['a number', 42, /got number/],
    ['a boolean', true, /got boolean/],
    ['undefined', undefined, /no value/],
    ['a relative URL', 'context.jsonld', /not an absolute URL/],
    ['an empty string', '', /not an absolute URL/],
    ['a URL with spaces', 'https://exa mple.org/c.jsonld', /white space/],
    ['a padded URL', ' https://example.org/c.jsonld', /white space/],
    ['a broken URL', 'https://[bad/c.jsonld', /not a valid absolute URL/],
    ['a nested array', [[SDM]], /@context\[0\].*nested array/],
    ['a number in an array', [SDM, 1], /@context\[1\]: expected/],
    ['a relative URL in an array', [SDM, 'ctx.jsonld'], /@context\[1\].*absolute/],
    ['an object with @context', { '@context': {} }, /must not contain an @context/],
    ['a non-string @import', { '@import': 5 }, /@import must be a URL/],
    ['a relative @import', { '@import': 'ctx.jsonld' }, /@import.*absolute/],
  ])('rejects %s', (_name, value, message) => {
    expect(() => validateContextValue(value)).toThrow(InvalidContextError);
    expect(() => validateContextValue(value)).toThrow(message);
  });

  it('gives a BadRequestData HubError', () => {
    try {
      validateContextValue(42);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(HubError);
      expect((err as HubError).code).toBe('BadRequestData');
    }
  });

  it('names where the bad URL was found', () => {
    expect(() => checkContextUrl('x', 'Link header')).toThrow(/^Link header: "x"/);
  });
});

describe('contextUrls', () => {
  it.each<[unknown, string[]]>([
    [SDM, [SDM]],
    [null, []],
    [{ a: 'https://e.org/a' }, []],
    [
      [SDM, { '@import': 'https://e.org/i.jsonld' }, SDM, CORE_CONTEXT_URL],
      [SDM, 'https://e.org/i.jsonld', CORE_CONTEXT_URL],
    ],
  ])('%j → %j', (value, urls) => {
    expect(contextUrls(validateContextValue(value))).toEqual(urls);
  });
});

describe('contextCacheKey', () => {
  it('ignores member order but not array order', () => {
    expect(contextCacheKey({ a: 'x', b: { c: 1, d: 2 } })).toBe(
      contextCacheKey({ b: { d: 2, c: 1 }, a: 'x' }),
    );
    expect(contextCacheKey([SDM, CORE_CONTEXT_URL])).not.toBe(contextCacheKey([CORE_CONTEXT_URL, SDM]));
  });
  it.each<[unknown, unknown]>([
    [SDM, [SDM]],
    [SDM, { [SDM]: true }],
    [null, 'null'],
    [{ a: null }, { a: 'null' }],
    [undefined, null],
  ])('keeps %j and %j apart', (a, b) => {
    expect(contextCacheKey(a)).not.toBe(contextCacheKey(b));
  });
  it('gives the empty key for no context', () => {
    expect(contextCacheKey(undefined)).toBe('');
  });
});

describe('remote documents and @import', () => {
  it.each<[unknown, unknown]>([
    [{ '@context': { a: 'https://e.org/a' } }, { a: 'https://e.org/a' }],
    [{ '@context': SDM }, SDM],
    [{ '@context': null }, null],
    [{ a: 1 }, undefined],
    [[{ '@context': {} }], undefined],
    ['text', undefined],
  ])('remoteContextOf(%j)', (doc, ctx) => {
    expect(remoteContextOf(doc)).toEqual(ctx);
  });

  it('merges an import under the importing context', () => {
    const merged = mergeImport(
      { '@import': SDM, a: 'https://mine/a' },
      { a: 'https://theirs/a', b: 'https://theirs/b' },
      SDM,
    );
    expect(merged).toEqual({ a: 'https://mine/a', b: 'https://theirs/b' });
  });
  it.each<[unknown, RegExp]>([
    [SDM, /single object/],
    [[{ a: 'x' }], /single object/],
    [{ '@import': SDM }, /must not itself use @import/],
  ])('rejects importing %j', (imported, message) => {
    expect(() => mergeImport({ '@import': SDM }, imported, SDM)).toThrow(message);
  });
});

describe('isCoreContextUrl', () => {
  it.each([
    ...CORE_CONTEXT_URLS,
    CORE_CONTEXT_URL,
    'http://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld',
    'http://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.3.jsonld',
    'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.3.1.jsonld',
    'https://forge.etsi.org/rep/NGSI-LD/NGSI-LD/raw/master/coreContext/ngsi-ld-core-context.jsonld',
  ])('%s is the core context', (url) => {
    expect(isCoreContextUrl(url)).toBe(true);
  });
  it.each([
    'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld?x=1',
    'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v2.0.jsonld',
    'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.10x.jsonld',
    'https://evil.example/ngsi-ld/v1/ngsi-ld-core-context.jsonld',
    'https://uri.etsi.org/ngsi-ld/default-context/',
    SDM,
  ])('%s is not', (url) => {
    expect(isCoreContextUrl(url)).toBe(false);
  });
  it('lists v1.0 to v1.9 and the canonical v1.8 URL', () => {
    expect(CORE_CONTEXT_URLS).toHaveLength(11);
    expect(CORE_CONTEXT_URL).toBe('https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld');
  });
});
