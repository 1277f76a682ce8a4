import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHub, JSON_CT, json } from '../support/test-hub.js';
import type { TestHub } from '../support/test-hub.js';

let hub: TestHub;
beforeAll(async () => {
  hub = await createTestHub();
});
afterAll(async () => {
  await hub?.close();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- response bodies are loose JSON, checked by the assertions
type J = Record<string, any>;

const E = '/ngsi-ld/v1/entities';
const enc = encodeURIComponent;

function room(id: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    type: 'Room',
    temperature: { type: 'Property', value: 21.5, unitCode: 'CEL', observedAt: '2026-01-01T10:00:00Z' },
    name: { type: 'Property', value: 'Kitchen' },
    isIn: { type: 'Relationship', object: 'urn:ngsi-ld:Building:1' },
    location: { type: 'GeoProperty', value: { type: 'Point', coordinates: [113.6, 34.7] } },
    ...extra,
  };
}

async function create(body: unknown, headers: Record<string, string> = JSON_CT) {
  return hub.request({ method: 'POST', url: E, headers, payload: JSON.stringify(body) });
}

async function get(id: string, query = '', headers: Record<string, string> = {}) {
  return hub.request({ method: 'GET', url: `${E}/${enc(id)}${query}`, headers });
}

describe('create and retrieve', () => {
  it('creates an entity and answers 201 with its Location', async () => {
    const res = await create(room('urn:ngsi-ld:Room:c1'));
    expect(res.statusCode).toBe(201);
    expect(res.headers.location).toBe(`${E}/urn:ngsi-ld:Room:c1`);
    const got = json<J>(await get('urn:ngsi-ld:Room:c1'));
    expect(got.id).toBe('urn:ngsi-ld:Room:c1');
    expect(got.type).toBe('Room');
    expect(got.temperature).toEqual({
      type: 'Property',
      value: 21.5,
      unitCode: 'CEL',
      observedAt: '2026-01-01T10:00:00.000Z',
    });
    expect(got.isIn).toEqual({ type: 'Relationship', object: 'urn:ngsi-ld:Building:1' });
    expect(got.location.value).toEqual({ type: 'Point', coordinates: [113.6, 34.7] });
    expect(got.temperature.createdAt).toBeUndefined();
  });

  it('refuses a second entity with the same id with 409 AlreadyExists', async () => {
    const res = await create(room('urn:ngsi-ld:Room:c1'));
    expect(res.statusCode).toBe(409);
    expect(json<J>(res).type).toBe('https://uri.etsi.org/ngsi-ld/errors/AlreadyExists');
  });

  it('shows system attributes with options=sysAttrs', async () => {
    const got = json<J>(await get('urn:ngsi-ld:Room:c1', '?options=sysAttrs'));
    expect(got.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(got.modifiedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(got.temperature.createdAt).toMatch(/^\d{4}-/);
  });

  it('renders keyValues and concise', async () => {
    const kv = json<J>(await get('urn:ngsi-ld:Room:c1', '?options=keyValues'));
    expect(kv).toMatchObject({
      id: 'urn:ngsi-ld:Room:c1',
      type: 'Room',
      temperature: 21.5,
      name: 'Kitchen',
      isIn: 'urn:ngsi-ld:Building:1',
    });
    expect(kv.location).toEqual({ type: 'Point', coordinates: [113.6, 34.7] });
    const concise = json<J>(await get('urn:ngsi-ld:Room:c1', '?format=concise'));
    expect(concise.name).toBe('Kitchen');
    expect(concise.temperature).toEqual({
      value: 21.5,
      unitCode: 'CEL',
      observedAt: '2026-01-01T10:00:00.000Z',
    });
    expect(concise.isIn).toEqual({ object: 'urn:ngsi-ld:Building:1' });
    expect(concise.location).toEqual({ type: 'Point', coordinates: [113.6, 34.7] });
  });

  it('accepts the concise form on create', async () => {
    const res = await create({
      id: 'urn:ngsi-ld:Room:concise',
      type: 'Room',
      temperature: 19,
      tag: { value: [1, 2] },
      owner: { object: 'urn:ngsi-ld:Person:1' },
    });
    expect(res.statusCode).toBe(201);
    const got = json<J>(await get('urn:ngsi-ld:Room:concise'));
    expect(got.temperature).toEqual({ type: 'Property', value: 19 });
    expect(got.tag).toEqual({ type: 'Property', value: [1, 2] });
    expect(got.owner).toEqual({ type: 'Relationship', object: 'urn:ngsi-ld:Person:1' });
  });

  it('returns attrs and pick/omit subsets', async () => {
    const only = json<J>(await get('urn:ngsi-ld:Room:c1', '?attrs=name'));
    expect(Object.keys(only).sort()).toEqual(['id', 'name', 'type']);
    const picked = json<J>(await get('urn:ngsi-ld:Room:c1', '?pick=id,temperature'));
    expect(Object.keys(picked).sort()).toEqual(['id', 'temperature']);
    const omitted = json<J>(await get('urn:ngsi-ld:Room:c1', '?omit=location,type'));
    expect(Object.keys(omitted).sort()).toEqual(['id', 'isIn', 'name', 'temperature']);
  });

  it('answers application/ld+json with @context in the body and JSON with a Link header', async () => {
    const ld = await get('urn:ngsi-ld:Room:c1', '', { accept: 'application/ld+json' });
    expect(ld.headers['content-type']).toMatch(/application\/ld\+json/);
    expect(json<J>(ld)['@context']).toBeDefined();
    const plain = await get('urn:ngsi-ld:Room:c1');
    expect(plain.headers.link).toMatch(/rel="http:\/\/www.w3.org\/ns\/json-ld#context"/);
  });

  it('answers GeoJSON for Accept application/geo+json', async () => {
    const res = await get('urn:ngsi-ld:Room:c1', '', { accept: 'application/geo+json' });
    expect(res.statusCode).toBe(200);
    const f = json<J>(res);
    expect(f.type).toBe('Feature');
    expect(f.geometry).toEqual({ type: 'Point', coordinates: [113.6, 34.7] });
    expect(f.properties.type).toBe('Room');
  });

  it('answers 404 ResourceNotFound for an unknown id and 400 for an id that is not a URI', async () => {
    const nf = await get('urn:ngsi-ld:Room:none');
    expect(nf.statusCode).toBe(404);
    expect(json<J>(nf).type).toBe('https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound');
    const bad = await get('not a uri');
    expect(bad.statusCode).toBe(400);
  });

  it('keeps multi-attributes apart by datasetId', async () => {
    const res = await create({
      id: 'urn:ngsi-ld:Room:multi',
      type: 'Room',
      temperature: [
        { type: 'Property', value: 20 },
        { type: 'Property', value: 22, datasetId: 'urn:ngsi-ld:Dataset:sensorB' },
      ],
    });
    expect(res.statusCode).toBe(201);
    const got = json<J>(await get('urn:ngsi-ld:Room:multi'));
    expect(got.temperature).toHaveLength(2);
    const onlyB = json<J>(
      await get('urn:ngsi-ld:Room:multi', `?datasetId=${enc('urn:ngsi-ld:Dataset:sensorB')}`),
    );
    expect(onlyB.temperature).toEqual({
      type: 'Property',
      value: 22,
      datasetId: 'urn:ngsi-ld:Dataset:sensorB',
    });
    const onlyDefault = json<J>(await get('urn:ngsi-ld:Room:multi', '?datasetId=@none'));
    expect(onlyDefault.temperature).toEqual({ type: 'Property', value: 20 });
    const del = await hub.request({
      method: 'DELETE',
      url: `${E}/${enc('urn:ngsi-ld:Room:multi')}/attrs/temperature?datasetId=${enc('urn:ngsi-ld:Dataset:sensorB')}`,
    });
    expect(del.statusCode).toBe(204);
    const after = json<J>(await get('urn:ngsi-ld:Room:multi'));
    expect(after.temperature).toEqual({ type: 'Property', value: 20 });
  });

  it('stores every attribute kind', async () => {
    const body = {
      id: 'urn:ngsi-ld:Thing:kinds',
      type: 'Thing',
      label: { type: 'LanguageProperty', languageMap: { en: 'Bridge', zh: '桥' } },
      category: { type: 'VocabProperty', vocab: 'Bridge' },
      raw: { type: 'JsonProperty', json: { any: ['thing', 1] } },
      readings: { type: 'ListProperty', valueList: [1, 2, 3] },
      route: {
        type: 'ListRelationship',
        objectList: [{ object: 'urn:ngsi-ld:Stop:1' }, { object: 'urn:ngsi-ld:Stop:2' }],
      },
      speed: { type: 'Property', value: 3, accuracy: { type: 'Property', value: 0.1 } },
    };
    expect((await create(body)).statusCode).toBe(201);
    const got = json<J>(await get('urn:ngsi-ld:Thing:kinds'));
    expect(got.label).toEqual({ type: 'LanguageProperty', languageMap: { en: 'Bridge', zh: '桥' } });
    expect(got.category).toEqual({ type: 'VocabProperty', vocab: 'Bridge' });
    expect(got.raw).toEqual({ type: 'JsonProperty', json: { any: ['thing', 1] } });
    expect(got.readings).toEqual({ type: 'ListProperty', valueList: [1, 2, 3] });
    expect(got.route).toEqual({
      type: 'ListRelationship',
      objectList: ['urn:ngsi-ld:Stop:1', 'urn:ngsi-ld:Stop:2'],
    });
    expect(got.speed.accuracy).toEqual({ type: 'Property', value: 0.1 });
    const zh = json<J>(await get('urn:ngsi-ld:Thing:kinds', '?lang=zh'));
    expect(zh.label).toEqual({ type: 'Property', value: '桥', lang: 'zh' });
  });

  it('reads a concise GeoProperty with metadata back as a GeoProperty, whatever its name', async () => {
    await create({
      id: 'urn:ngsi-ld:T:g',
      type: 'T',
      position: {
        type: 'GeoProperty',
        value: { type: 'Point', coordinates: [1, 2] },
        observedAt: '2026-01-01T00:00:00Z',
      },
    });
    const concise = json<J>(await get('urn:ngsi-ld:T:g', '?format=concise'));
    const again = await create({ ...concise, id: 'urn:ngsi-ld:T:g2' });
    expect(again.statusCode, again.body).toBe(201);
    expect(json<J>(await get('urn:ngsi-ld:T:g2')).position).toMatchObject({ type: 'GeoProperty' });
  });
});

describe('replace, merge and delete', () => {
  it('replaces an entity with PUT, keeping createdAt', async () => {
    await create(room('urn:ngsi-ld:Room:r1'));
    const before = json<J>(await get('urn:ngsi-ld:Room:r1', '?options=sysAttrs'));
    const res = await hub.request({
      method: 'PUT',
      url: `${E}/${enc('urn:ngsi-ld:Room:r1')}`,
      headers: JSON_CT,
      payload: JSON.stringify({ type: 'Room', humidity: { type: 'Property', value: 40 } }),
    });
    expect(res.statusCode).toBe(204);
    const after = json<J>(await get('urn:ngsi-ld:Room:r1', '?options=sysAttrs'));
    expect(after.temperature).toBeUndefined();
    expect(after.humidity.value).toBe(40);
    expect(after.createdAt).toBe(before.createdAt);
  });

  it('merge-patches an entity: values change, nulls delete, other attributes stay', async () => {
    await create(room('urn:ngsi-ld:Room:m1'));
    const res = await hub.request({
      method: 'PATCH',
      url: `${E}/${enc('urn:ngsi-ld:Room:m1')}`,
      headers: { 'content-type': 'application/merge-patch+json' },
      payload: JSON.stringify({
        temperature: { type: 'Property', value: 30 },
        name: 'urn:ngsi-ld:null',
        extra: 5,
      }),
    });
    expect(res.statusCode).toBe(204);
    const got = json<J>(await get('urn:ngsi-ld:Room:m1'));
    expect(got.temperature).toEqual({
      type: 'Property',
      value: 30,
      unitCode: 'CEL',
      observedAt: '2026-01-01T10:00:00.000Z',
    });
    expect(got.name).toBeUndefined();
    expect(got.extra).toEqual({ type: 'Property', value: 5 });
    expect(got.isIn.object).toBe('urn:ngsi-ld:Building:1');
  });

  it('merges a concise fragment without a value into the held attribute, keeping its value', async () => {
    await create({
      id: 'urn:ngsi-ld:T:m',
      type: 'T',
      temperature: { type: 'Property', value: 20, accuracy: { type: 'Property', value: 1 } },
    });
    let res = await hub.request({
      method: 'PATCH',
      url: `${E}/urn:ngsi-ld:T:m`,
      headers: JSON_CT,
      payload: JSON.stringify({
        temperature: { observedAt: '2026-01-01T00:00:00Z', precision: { type: 'Property', value: 0.5 } },
      }),
    });
    expect(res.statusCode, res.body).toBe(204);
    let got = json<J>(await get('urn:ngsi-ld:T:m'));
    expect(got.temperature).toMatchObject({
      type: 'Property',
      value: 20,
      observedAt: '2026-01-01T00:00:00.000Z',
      precision: { value: 0.5 },
      accuracy: { value: 1 },
    });
    res = await hub.request({
      method: 'PATCH',
      url: `${E}/urn:ngsi-ld:T:m`,
      headers: JSON_CT,
      payload: JSON.stringify({ temperature: { accuracy: null } }),
    });
    expect(res.statusCode).toBe(204);
    got = json<J>(await get('urn:ngsi-ld:T:m'));
    expect(got.temperature).toMatchObject({ value: 20 });
    expect(got.temperature.accuracy).toBeUndefined();
  });

  it('refuses a merge whose observedAt parameter is not a date (400), changing nothing', async () => {
    await create({ id: 'urn:ngsi-ld:T:o', type: 'T', x: 1 });
    const res = await hub.request({
      method: 'PATCH',
      url: `${E}/urn:ngsi-ld:T:o?observedAt=notadate`,
      headers: JSON_CT,
      payload: '{"x":2}',
    });
    expect(res.statusCode).toBe(400);
    expect(json<J>(await get('urn:ngsi-ld:T:o')).x).toEqual({ type: 'Property', value: 1 });
  });

  it('deletes an entity', async () => {
    await create(room('urn:ngsi-ld:Room:d1'));
    expect(
      (await hub.request({ method: 'DELETE', url: `${E}/${enc('urn:ngsi-ld:Room:d1')}` })).statusCode,
    ).toBe(204);
    expect((await get('urn:ngsi-ld:Room:d1')).statusCode).toBe(404);
    expect(
      (await hub.request({ method: 'DELETE', url: `${E}/${enc('urn:ngsi-ld:Room:d1')}` })).statusCode,
    ).toBe(404);
  });
});

describe('attributes', () => {
  const id = 'urn:ngsi-ld:Room:a1';
  const attrs = `${E}/${enc(id)}/attrs`;
  beforeAll(async () => {
    await create(room(id));
  });

  it('appends attributes and overwrites unless noOverwrite', async () => {
    let res = await hub.request({
      method: 'POST',
      url: attrs,
      headers: JSON_CT,
      payload: JSON.stringify({ humidity: { type: 'Property', value: 50 } }),
    });
    expect(res.statusCode).toBe(204);
    res = await hub.request({
      method: 'POST',
      url: `${attrs}?options=noOverwrite`,
      headers: JSON_CT,
      payload: JSON.stringify({
        humidity: { type: 'Property', value: 99 },
        pressure: { type: 'Property', value: 1000 },
      }),
    });
    expect(res.statusCode).toBe(207);
    // UpdateResult names attributes by their expanded IRIs, as the ETSI suite expects.
    expect(json<J>(res)).toEqual({
      updated: ['https://uri.etsi.org/ngsi-ld/default-context/pressure'],
      notUpdated: [
        {
          attributeName: 'https://uri.etsi.org/ngsi-ld/default-context/humidity',
          reason: expect.any(String),
        },
      ],
    });
    const got = json<J>(await get(id));
    expect(got.humidity.value).toBe(50);
    expect(got.pressure.value).toBe(1000);
  });

  it('updates attributes: replaces, adds, deletes with NGSI-LD Null, adds types', async () => {
    const res = await hub.request({
      method: 'PATCH',
      url: attrs,
      headers: JSON_CT,
      payload: JSON.stringify({
        type: 'Kitchen',
        humidity: { type: 'Property', value: 55 },
        added: { type: 'Property', value: 1 },
        name: { type: 'Property', value: 'urn:ngsi-ld:null' },
      }),
    });
    expect(res.statusCode, res.body).toBe(204);
    const got = json<J>(await get(id));
    expect(got.type).toEqual(['Room', 'Kitchen']);
    expect(got.humidity.value).toBe(55);
    expect(got.added.value).toBe(1);
    expect(got.name).toBeUndefined();
  });

  it('does not add a scope through an update to an entity without one (207)', async () => {
    const res = await hub.request({
      method: 'PATCH',
      url: attrs,
      headers: JSON_CT,
      payload: JSON.stringify({ scope: '/Zhengzhou' }),
    });
    expect(res.statusCode).toBe(207);
    expect(json<J>(await get(id)).scope).toBeUndefined();
  });

  it('partially updates a sub-attribute of a Relationship', async () => {
    const res = await hub.request({
      method: 'PATCH',
      url: `${attrs}/isIn`,
      headers: JSON_CT,
      payload: JSON.stringify({ providedBy: { type: 'Relationship', object: 'urn:ngsi-ld:Person:Bob' } }),
    });
    expect(res.statusCode, res.body).toBe(204);
    const got = json<J>(await get(id));
    expect(got.isIn).toEqual({
      type: 'Relationship',
      object: 'urn:ngsi-ld:Building:1',
      providedBy: { type: 'Relationship', object: 'urn:ngsi-ld:Person:Bob' },
    });
    const kind = await hub.request({
      method: 'PATCH',
      url: `${attrs}/isIn`,
      headers: JSON_CT,
      payload: JSON.stringify({ type: 'Property', value: 1 }),
    });
    expect(kind.statusCode).toBe(400);
  });

  it('partially updates one attribute, keeping its other members', async () => {
    const res = await hub.request({
      method: 'PATCH',
      url: `${attrs}/temperature`,
      headers: JSON_CT,
      payload: JSON.stringify({ value: 25 }),
    });
    expect(res.statusCode).toBe(204);
    const got = json<J>(await get(id));
    expect(got.temperature).toEqual({
      type: 'Property',
      value: 25,
      unitCode: 'CEL',
      observedAt: '2026-01-01T10:00:00.000Z',
    });
    const missing = await hub.request({
      method: 'PATCH',
      url: `${attrs}/nope`,
      headers: JSON_CT,
      payload: JSON.stringify({ value: 1 }),
    });
    expect(missing.statusCode).toBe(404);
  });

  it('replaces one attribute', async () => {
    const res = await hub.request({
      method: 'PUT',
      url: `${attrs}/temperature`,
      headers: JSON_CT,
      payload: JSON.stringify({ type: 'Property', value: 18 }),
    });
    expect(res.statusCode).toBe(204);
    expect(json<J>(await get(id)).temperature).toEqual({ type: 'Property', value: 18 });
  });

  it('deletes one attribute, then 404 for it', async () => {
    expect((await hub.request({ method: 'DELETE', url: `${attrs}/pressure` })).statusCode).toBe(204);
    expect(json<J>(await get(id)).pressure).toBeUndefined();
    expect((await hub.request({ method: 'DELETE', url: `${attrs}/pressure` })).statusCode).toBe(404);
  });
});

describe('tenants', () => {
  it('keeps tenants apart and creates them on first write', async () => {
    const h = { ...JSON_CT, 'ngsild-tenant': 'zhengzhou' };
    expect((await get('urn:ngsi-ld:Room:t1', '', { 'ngsild-tenant': 'zhengzhou' })).statusCode).toBe(404);
    expect(json<J>(await get('urn:ngsi-ld:Room:t1', '', { 'ngsild-tenant': 'zhengzhou' })).type).toMatch(
      /NonexistentTenant/,
    );
    expect((await create(room('urn:ngsi-ld:Room:t1'), h)).statusCode).toBe(201);
    expect((await get('urn:ngsi-ld:Room:t1', '', { 'ngsild-tenant': 'zhengzhou' })).statusCode).toBe(200);
    expect((await get('urn:ngsi-ld:Room:t1')).statusCode).toBe(404);
    expect((await get('urn:ngsi-ld:Room:t1', '', { 'ngsild-tenant': 'bad tenant!' })).statusCode).toBe(400);
  });
});
