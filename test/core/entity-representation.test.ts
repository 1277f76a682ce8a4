/**
 * Entity input (normalized and concise) to the stored form and back to each representation,
 * with the real core context and a Smart Data Models context. Pure: no database.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createContextResolver } from '../../src/broker/context-resolver.js';
import type { ActiveContext } from '../../src/core/context/active-context.js';
import { parseEntity, parseFragment } from '../../src/core/entity-input.js';
import { pickLanguage, renderEntity } from '../../src/core/entity-output.js';
import { HubError } from '../../src/core/errors.js';
import { loadBundledContexts } from '../../src/server/bundled-contexts.js';

let core: ActiveContext;
let env: ActiveContext;
const NOW = '2026-11-23T00:00:00.000Z';
const DEFAULT = 'https://uri.etsi.org/ngsi-ld/default-context/';

beforeAll(async () => {
  const resolver = createContextResolver({
    bundled: await loadBundledContexts(),
    fetchDocument: () => Promise.reject(new Error('no network in unit tests')),
  });
  core = await resolver.resolve(undefined);
  env = await resolver.resolve('https://smart-data-models.github.io/dataModel.Environment/context.jsonld');
});

describe('parseEntity', () => {
  it('expands names and types and stamps timestamps', () => {
    const e = parseEntity(
      {
        id: 'urn:ngsi-ld:AirQualityObserved:1',
        type: 'AirQualityObserved',
        pm25: { type: 'Property', value: 3 },
      },
      env,
      { now: NOW },
    );
    expect(e.types).toEqual(['https://smartdatamodels.org/dataModel.Environment/AirQualityObserved']);
    const key = Object.keys(e.attrs)[0] ?? '';
    expect(key).toMatch(/^https:\/\//);
    expect(e.attrs[key]).toEqual([{ type: 'Property', value: 3, createdAt: NOW, modifiedAt: NOW }]);
  });

  it('uses the default vocabulary for unknown terms', () => {
    const e = parseEntity({ id: 'urn:x:1', type: 'Thing', foo: 1 }, core, { now: NOW });
    expect(e.types).toEqual([`${DEFAULT}Thing`]);
    expect(Object.keys(e.attrs)).toEqual([`${DEFAULT}foo`]);
  });

  it('infers kinds in the concise form', () => {
    const e = parseEntity(
      {
        id: 'urn:x:1',
        type: 'T',
        n: 1,
        s: 'text',
        r: { object: 'urn:x:2' },
        l: { languageMap: { en: 'a' } },
        j: { json: { a: 1 } },
        v: { vocab: 'Thing' },
        vl: { valueList: [1] },
        ol: { objectList: ['urn:x:3'] },
        location: { type: 'Point', coordinates: [1, 2] },
        o: { value: { nested: true }, unitCode: 'MTR' },
      },
      core,
      { now: NOW },
    );
    const kind = (name: string) =>
      e.attrs[`${DEFAULT}${name}`]?.[0]?.type ?? e.attrs[core.expand(name)]?.[0]?.type;
    expect(['n', 's', 'r', 'l', 'j', 'v', 'vl', 'ol', 'location', 'o'].map(kind)).toEqual([
      'Property',
      'Property',
      'Relationship',
      'LanguageProperty',
      'JsonProperty',
      'VocabProperty',
      'ListProperty',
      'ListRelationship',
      'GeoProperty',
      'Property',
    ]);
  });

  it.each([
    [{ id: 'urn:x:1', type: 'T', a: { type: 'Weird', value: 1 } }, /not an NGSI-LD attribute type/],
    [{ id: 'urn:x:1', type: 'T', a: { type: 'Property', value: 1, observedAt: 'yesterday' } }, /observedAt/],
    [
      {
        id: 'urn:x:1',
        type: 'T',
        a: [
          { type: 'Property', value: 1 },
          { type: 'Property', value: 2 },
        ],
      },
      /same datasetId/,
    ],
    [{ id: 'urn:x:1', type: 'T', a: { type: 'Property', value: 1, datasetId: 'not a uri' } }, /datasetId/],
    [
      { id: 'urn:x:1', type: 'T', a: { type: 'LanguageProperty', languageMap: { 'not a tag!': 'x' } } },
      /languageMap/,
    ],
    [{ id: 'urn:x:1', type: 'T', a: { type: 'ListProperty', valueList: 3 } }, /valueList/],
    [{ id: 'urn:x:1', type: 'T', a: null }, /null/],
    [{ id: 'urn:x:1', type: [] }, /empty/],
    [{ id: 'urn:x:1', type: 'T', scope: 'no-slash' }, /scope/],
    [{ id: 'urn:x:1', type: 'T', 'a=b': 1 }, /Invalid attribute name/],
    [
      {
        id: 'urn:x:1',
        type: 'T',
        a: { type: 'Property', value: 1, sub: { type: 'Property', value: 1, datasetId: 'urn:d:1' } },
      },
      /cannot have a datasetId/,
    ],
  ])('refuses %j', (body, message) => {
    expect(() => parseEntity(body, core, { now: NOW })).toThrow(HubError);
    expect(() => parseEntity(body, core, { now: NOW })).toThrow(message);
  });

  it('lets merge fragments carry null to delete', () => {
    const f = parseFragment({ a: null, b: 1 }, core, { now: NOW, allowNull: true });
    expect(f.attrs[`${DEFAULT}a`]).toBeNull();
    expect(() => parseFragment({ a: null }, core, { now: NOW })).toThrow(/null/);
  });
});

describe('renderEntity', () => {
  const e = () =>
    parseEntity(
      {
        id: 'urn:x:1',
        type: 'T',
        temp: { type: 'Property', value: 20, unitCode: 'CEL', accuracy: { type: 'Property', value: 0.5 } },
        name: { type: 'LanguageProperty', languageMap: { en: 'Bridge', 'zh-CN': '桥' } },
        owner: { type: 'Relationship', object: 'urn:x:2' },
      },
      core,
      { now: NOW },
    );

  it('renders normalized with and without sysAttrs', () => {
    const out = renderEntity(e(), core, { format: 'normalized' });
    expect(out.temp).toEqual({
      type: 'Property',
      value: 20,
      unitCode: 'CEL',
      accuracy: { type: 'Property', value: 0.5 },
    });
    const sys = renderEntity({ ...e(), createdAt: NOW, modifiedAt: NOW }, core, {
      format: 'normalized',
      sysAttrs: true,
    });
    expect(sys.createdAt).toBe(NOW);
    expect((sys.temp as Record<string, unknown>).modifiedAt).toBe(NOW);
  });

  it('renders concise and keyValues', () => {
    const concise = renderEntity(e(), core, { format: 'concise' });
    expect(concise.temp).toEqual({ value: 20, unitCode: 'CEL', accuracy: 0.5 });
    expect(concise.owner).toEqual({ object: 'urn:x:2' });
    const kv = renderEntity(e(), core, { format: 'keyValues' });
    expect(kv).toEqual({
      id: 'urn:x:1',
      type: 'T',
      temp: 20,
      name: { languageMap: { en: 'Bridge', 'zh-CN': '桥' } },
      owner: 'urn:x:2',
    });
  });

  it('renders a multi-attribute in keyValues keyed by datasetId (NGSI-LD §4.5.5)', () => {
    const m = parseEntity(
      {
        id: 'urn:x:3',
        type: 'T',
        name: [
          { type: 'Property', value: 'Eiffel Tower' },
          { type: 'Property', value: 'Eiffelturm', datasetId: 'urn:ngsi-ld:Dataset:de' },
        ],
      },
      core,
      { now: NOW },
    );
    expect(renderEntity(m, core, { format: 'keyValues' }).name).toEqual({
      dataset: { '@none': 'Eiffel Tower', 'urn:ngsi-ld:Dataset:de': 'Eiffelturm' },
    });
    // one instance selected: the plain value again
    expect(renderEntity(m, core, { format: 'keyValues', datasetIds: new Set(['@none']) }).name).toBe(
      'Eiffel Tower',
    );
  });

  it('picks languages with lang', () => {
    expect(renderEntity(e(), core, { format: 'keyValues', lang: 'zh' }).name).toBe('桥');
    expect(pickLanguage({ en: 'a', fr: 'b' }, 'de,fr;q=0.5')).toEqual(['fr', 'b']);
    expect(pickLanguage({ en: 'a', '@none': 'n' }, 'de')).toEqual(['@none', 'n']);
    expect(pickLanguage({ en: 'a' }, '*')).toEqual(['en', 'a']);
  });

  it('round-trips the concise form', () => {
    const concise = renderEntity(e(), core, { format: 'concise' });
    const back = parseEntity(concise, core, { now: NOW });
    expect(renderEntity(back, core, { format: 'normalized' })).toEqual(
      renderEntity(e(), core, { format: 'normalized' }),
    );
  });
});
