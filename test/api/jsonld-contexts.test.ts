import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHub, JSON_CT, json, link } from '../support/test-hub.js';
import type { TestHub } from '../support/test-hub.js';

let hub: TestHub;
beforeAll(async () => {
  hub = await createTestHub();
});
afterAll(async () => {
  await hub?.close();
});

const E = '/ngsi-ld/v1/entities';
const C = '/ngsi-ld/v1/jsonldContexts';
const ENV_IO = 'https://smart-data-models.github.io/dataModel.Environment/context.jsonld';
const ENV_RAW =
  'https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/context.jsonld';

describe('@context handling', () => {
  it('expands with one published URL and compacts with the other', async () => {
    const res = await hub.request({
      method: 'POST',
      url: E,
      headers: { ...JSON_CT, ...link(ENV_IO) },
      payload: JSON.stringify({
        id: 'urn:ngsi-ld:AirQualityObserved:1',
        type: 'AirQualityObserved',
        pm25: { type: 'Property', value: 7 },
      }),
    });
    expect(res.statusCode).toBe(201);
    const withRaw = json<Record<string, unknown>>(
      await hub.request({
        method: 'GET',
        url: `${E}/urn:ngsi-ld:AirQualityObserved:1`,
        headers: link(ENV_RAW),
      }),
    );
    expect(withRaw.type).toBe('AirQualityObserved');
    expect(withRaw.pm25).toEqual({ type: 'Property', value: 7 });
    const coreOnly = json<Record<string, unknown>>(
      await hub.request({ method: 'GET', url: `${E}/urn:ngsi-ld:AirQualityObserved:1` }),
    );
    expect(coreOnly.type).toBe('https://smartdatamodels.org/dataModel.Environment/AirQualityObserved');
    const q = await hub.request({
      method: 'GET',
      url: `${E}?type=AirQualityObserved&q=pm25==7`,
      headers: link(ENV_RAW),
    });
    expect(json<unknown[]>(q)).toHaveLength(1);
    const noCtx = await hub.request({ method: 'GET', url: `${E}?type=AirQualityObserved` });
    expect(json<unknown[]>(noCtx)).toHaveLength(0);
  });

  it('resolves every core context version without network', async () => {
    for (const v of ['', '-v1.3', '-v1.6', '-v1.7', '-v1.8']) {
      const url = `https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context${v}.jsonld`;
      const res = await hub.request({ method: 'GET', url: '/ngsi-ld/v1/types', headers: link(url) });
      expect(res.statusCode, url).toBe(200);
    }
  });

  it('accepts an inline @context object and array in application/ld+json', async () => {
    const res = await hub.request({
      method: 'POST',
      url: E,
      headers: { 'content-type': 'application/ld+json' },
      payload: JSON.stringify({
        '@context': [
          { speed: 'https://example.org/vocab/speed' },
          'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld',
        ],
        id: 'urn:ngsi-ld:Car:1',
        type: 'Car',
        speed: { type: 'Property', value: 80 },
      }),
    });
    expect(res.statusCode, res.body).toBe(201);
    const got = json<Record<string, unknown>>(
      await hub.request({ method: 'GET', url: `${E}/urn:ngsi-ld:Car:1` }),
    );
    expect(got['https://example.org/vocab/speed']).toEqual({ type: 'Property', value: 80 });
  });

  it('answers 503 LdContextNotAvailable for a context it cannot load', async () => {
    const res = await hub.request({
      method: 'GET',
      url: '/ngsi-ld/v1/types',
      headers: link('https://example.invalid/ctx.jsonld'),
    });
    expect(res.statusCode).toBe(503);
    expect(json<{ type: string }>(res).type).toMatch(/LdContextNotAvailable/);
  });

  it('hosts, serves, uses, lists and deletes a context', async () => {
    const add = await hub.request({
      method: 'POST',
      url: C,
      headers: JSON_CT,
      payload: JSON.stringify({ '@context': { lux: 'https://example.org/vocab/illuminance' } }),
    });
    expect(add.statusCode).toBe(201);
    const location = String(add.headers.location);
    expect(location).toMatch(/^\/ngsi-ld\/v1\/jsonldContexts\/.+/);
    const served = await hub.request({ method: 'GET', url: location });
    expect(json(served)).toEqual({ '@context': { lux: 'https://example.org/vocab/illuminance' } });

    const hostedUrl = `http://localhost:80${location}`;
    const create = await hub.request({
      method: 'POST',
      url: E,
      headers: { ...JSON_CT, ...link(hostedUrl) },
      payload: JSON.stringify({ id: 'urn:ngsi-ld:Lamp:1', type: 'Lamp', lux: 300 }),
    });
    expect(create.statusCode, create.body).toBe(201);
    const got = json<Record<string, unknown>>(
      await hub.request({ method: 'GET', url: `${E}/urn:ngsi-ld:Lamp:1` }),
    );
    expect(got['https://example.org/vocab/illuminance']).toEqual({ type: 'Property', value: 300 });

    const list = json<string[]>(await hub.request({ method: 'GET', url: C }));
    expect(list.some((u) => u.includes('ngsi-ld-core-context'))).toBe(true);
    const details = json<{ kind: string; localId: string }[]>(
      await hub.request({ method: 'GET', url: `${C}?details=true&kind=Hosted` }),
    );
    expect(details).toHaveLength(1);
    expect((await hub.request({ method: 'DELETE', url: location })).statusCode).toBe(204);
    expect((await hub.request({ method: 'GET', url: location })).statusCode).toBe(404);
    expect((await hub.request({ method: 'DELETE', url: `${C}/ngsi-ld-core-context` })).statusCode).toBe(400);
    expect(
      (await hub.request({ method: 'POST', url: C, headers: JSON_CT, payload: '{"x":1}' })).statusCode,
    ).toBe(400);
  });

  it('uses a context preloaded into the store (citypivot contexts add)', async () => {
    await hub.store.contexts.put(
      'https://city.example/ctx.jsonld',
      { '@context': { noise: 'https://city.example/noise' } },
      'preloaded',
    );
    const res = await hub.request({
      method: 'POST',
      url: E,
      headers: { ...JSON_CT, ...link('https://city.example/ctx.jsonld') },
      payload: JSON.stringify({ id: 'urn:ngsi-ld:Meter:1', type: 'Meter', noise: 55 }),
    });
    expect(res.statusCode, res.body).toBe(201);
    const got = json<Record<string, unknown>>(
      await hub.request({
        method: 'GET',
        url: `${E}/urn:ngsi-ld:Meter:1`,
        headers: link('https://city.example/ctx.jsonld'),
      }),
    );
    expect(got.noise).toEqual({ type: 'Property', value: 55 });
  });
});
