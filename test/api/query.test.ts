import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHub, JSON_CT, json } from '../support/test-hub.js';
import type { TestHub } from '../support/test-hub.js';

let hub: TestHub;
const E = '/ngsi-ld/v1/entities';
const enc = encodeURIComponent;

const stations = [
  {
    id: 'urn:ngsi-ld:Station:1',
    type: 'AirStation',
    pm25: 35,
    name: 'Jinshui',
    status: 'ok',
    loc: [113.66, 34.76],
    scope: '/Zhengzhou/Jinshui',
  },
  {
    id: 'urn:ngsi-ld:Station:2',
    type: 'AirStation',
    pm25: 80,
    name: 'Erqi',
    status: 'ok',
    loc: [113.62, 34.72],
    scope: '/Zhengzhou/Erqi',
  },
  {
    id: 'urn:ngsi-ld:Station:3',
    type: 'AirStation',
    pm25: 150,
    name: 'Zhongyuan',
    status: 'broken',
    loc: [113.6, 34.75],
    scope: '/Zhengzhou/Zhongyuan',
  },
  {
    id: 'urn:ngsi-ld:Station:4',
    type: 'AirStation',
    pm25: 12,
    name: 'Kaifeng',
    status: 'ok',
    loc: [114.3, 34.8],
    scope: '/Kaifeng',
  },
  {
    id: 'urn:ngsi-ld:Meter:1',
    type: 'NoiseMeter',
    pm25: 0,
    name: 'Noise',
    status: 'ok',
    loc: [113.65, 34.75],
    scope: '/Zhengzhou/Jinshui',
  },
];

beforeAll(async () => {
  hub = await createTestHub();
  for (const s of stations) {
    const res = await hub.request({
      method: 'POST',
      url: E,
      headers: JSON_CT,
      payload: JSON.stringify({
        id: s.id,
        type: s.type,
        scope: s.scope,
        pm25: { type: 'Property', value: s.pm25, observedAt: '2026-11-01T08:00:00Z' },
        name: { type: 'Property', value: s.name },
        status: { type: 'Property', value: s.status },
        address: {
          type: 'Property',
          value: { city: s.name === 'Kaifeng' ? 'Kaifeng' : 'Zhengzhou', district: s.name },
        },
        operator: {
          type: 'Relationship',
          object: s.name === 'Kaifeng' ? 'urn:ngsi-ld:Org:kf' : 'urn:ngsi-ld:Org:zz',
        },
        location: { type: 'GeoProperty', value: { type: 'Point', coordinates: s.loc } },
      }),
    });
    expect(res.statusCode).toBe(201);
  }
});
afterAll(async () => {
  await hub?.close();
});

async function ids(query: string, headers: Record<string, string> = {}): Promise<string[]> {
  const res = await hub.request({ method: 'GET', url: `${E}?${query}`, headers });
  expect(res.statusCode, res.body).toBe(200);
  return json<{ id: string }[]>(res)
    .map((e) => e.id)
    .sort();
}

const S = (...n: number[]) => n.map((i) => `urn:ngsi-ld:Station:${i}`);

describe('entity query', () => {
  it('selects by type and type expressions', async () => {
    expect(await ids('type=AirStation')).toEqual(S(1, 2, 3, 4));
    expect(await ids('type=AirStation,NoiseMeter')).toHaveLength(5);
    expect(await ids('type=AirStation|NoiseMeter')).toHaveLength(5);
    expect(await ids(`type=${enc('(AirStation;NoiseMeter)')}`)).toEqual([]);
  });

  it('selects by id list and idPattern', async () => {
    expect(await ids(`type=AirStation&id=${S(1, 3).join(',')}`)).toEqual(S(1, 3));
    expect(await ids(`type=AirStation&idPattern=${enc('^urn:ngsi-ld:Station:[12]$')}`)).toEqual(S(1, 2));
    // ids alone do not narrow a query enough (NGSI-LD §6.4.3.2)
    expect((await hub.request({ method: 'GET', url: `${E}?id=${S(1).join(',')}` })).statusCode).toBe(400);
  });

  const qCases: [string, string[]][] = [
    ['pm25>50', S(2, 3)],
    ['pm25>=80', S(2, 3)],
    ['pm25<35', S(4)],
    ['pm25<=35', S(1, 4)],
    ['pm25==80', S(2)],
    ['pm25!=80', S(1, 3, 4)],
    ['pm25==30..100', S(1, 2)],
    ['pm25==12,150', S(3, 4)],
    ['name=="Erqi"', S(2)],
    ['name=="Erqi","Jinshui"', S(1, 2)],
    ['name~="^Zh"', S(3)],
    ['status=="ok";pm25>20', S(1, 2)],
    ['status=="broken"|pm25<20', S(3, 4)],
    ['(status=="broken"|pm25<20);name=="Kaifeng"', S(4)],
    ['address[city]=="Kaifeng"', S(4)],
    ['address[district]=="Erqi"', S(2)],
    ['operator==urn:ngsi-ld:Org:kf', S(4)],
    ['pm25.observedAt>=2026-11-01T00:00:00Z', S(1, 2, 3, 4)],
    ['pm25.observedAt<2026-01-01T00:00:00Z', []],
    ['name', S(1, 2, 3, 4)],
    ['nothing', []],
  ];
  for (const [q, expected] of qCases) {
    it(`q=${q}`, async () => {
      expect(await ids(`type=AirStation&q=${enc(q)}`)).toEqual(expected);
    });
  }

  it('follows relationships in q (linked entities)', async () => {
    for (const [id, rating] of [
      ['urn:ngsi-ld:Org:kf', 5],
      ['urn:ngsi-ld:Org:zz', 2],
    ] as const) {
      const res = await hub.request({
        method: 'POST',
        url: E,
        headers: JSON_CT,
        payload: JSON.stringify({ id, type: 'Org', rating }),
      });
      expect(res.statusCode).toBe(201);
    }
    expect(await ids(`type=AirStation&q=${enc('operator{rating}>3')}`)).toEqual(S(4));
    expect(await ids(`type=AirStation&q=${enc('operator{Org:rating}==2')}`)).toEqual(S(1, 2, 3));
  });

  it('retrieves linked entities inline and flat (join, joinLevel)', async () => {
    const one = await hub.request({
      method: 'GET',
      url: `${E}/urn:ngsi-ld:Station:4?join=inline&options=keyValues&attrs=operator`,
    });
    expect(json(one)).toEqual({
      id: 'urn:ngsi-ld:Station:4',
      type: 'AirStation',
      operator: { id: 'urn:ngsi-ld:Org:kf', type: 'Org', rating: 5 },
    });
    const normalized = json<{ operator: { entity: { id: string } } }>(
      await hub.request({ method: 'GET', url: `${E}/urn:ngsi-ld:Station:4?join=inline` }),
    );
    expect(normalized.operator.entity.id).toBe('urn:ngsi-ld:Org:kf');
    const flat = await hub.request({
      method: 'GET',
      url: `${E}?type=AirStation&q=${enc('pm25<40')}&join=flat&options=keyValues&attrs=operator`,
    });
    // roots first, then what they link to, in the order it is reached
    expect(json<{ id: string }[]>(flat).map((e) => e.id)).toEqual([
      ...S(1, 4),
      'urn:ngsi-ld:Org:zz',
      'urn:ngsi-ld:Org:kf',
    ]);
    const projected = await hub.request({
      method: 'GET',
      url: `${E}/urn:ngsi-ld:Station:4?join=inline&options=keyValues&pick=${enc('id,operator{rating}')}`,
    });
    expect(json(projected)).toEqual({ id: 'urn:ngsi-ld:Station:4', operator: { rating: 5 } });
    const notFollowed = await hub.request({
      method: 'GET',
      url: `${E}/urn:ngsi-ld:Station:4?join=flat&options=keyValues&pick=id,name`,
    });
    expect(json(notFollowed)).toEqual({ id: 'urn:ngsi-ld:Station:4', name: 'Kaifeng' });
    expect(
      (
        await hub.request({
          method: 'GET',
          url: `${E}/urn:ngsi-ld:Station:4?pick=${enc('id,operator{rating')}`,
        })
      ).statusCode,
    ).toBe(400);
    expect(
      (await hub.request({ method: 'GET', url: `${E}/urn:ngsi-ld:Station:4?join=deep` })).statusCode,
    ).toBe(400);
  });

  it('orders by attribute values, sub-attributes and columns (orderBy)', async () => {
    expect(
      json<{ id: string }[]>(
        await hub.request({ method: 'GET', url: `${E}?type=AirStation&orderBy=pm25` }),
      ).map((e) => e.id),
    ).toEqual(S(4, 1, 2, 3));
    expect(
      json<{ id: string }[]>(
        await hub.request({ method: 'GET', url: `${E}?type=AirStation&orderBy=${enc('pm25;desc')}&limit=2` }),
      ).map((e) => e.id),
    ).toEqual(S(3, 2));
    expect(
      json<{ id: string }[]>(
        await hub.request({ method: 'GET', url: `${E}?type=AirStation&orderBy=${enc('status;desc,name')}` }),
      ).map((e) => e.id),
    ).toEqual(S(2, 1, 4, 3));
    expect(
      json<{ id: string }[]>(
        await hub.request({ method: 'GET', url: `${E}?type=AirStation&orderBy=${enc('id;desc')}` }),
      ).map((e) => e.id),
    ).toEqual(S(4, 3, 2, 1));
  });

  it('filters by scopeQ', async () => {
    expect(await ids(`type=AirStation&scopeQ=${enc('/Zhengzhou/#')}`)).toEqual(S(1, 2, 3));
    expect(await ids(`type=AirStation&scopeQ=${enc('/Kaifeng')}`)).toEqual(S(4));
    expect(await ids(`type=AirStation&scopeQ=${enc('/Zhengzhou/+')}`)).toEqual(S(1, 2, 3));
  });

  it('filters by geometry: near, within, intersects, disjoint', async () => {
    const near = await ids(
      `type=AirStation&georel=${enc('near;maxDistance==5000')}&geometry=Point&coordinates=${enc('[113.65,34.75]')}`,
    );
    expect(near).toEqual(S(1, 2, 3));
    const far = await ids(
      `type=AirStation&georel=${enc('near;minDistance==20000')}&geometry=Point&coordinates=${enc('[113.65,34.75]')}`,
    );
    expect(far).toEqual(S(4));
    const box = '[[[113.5,34.7],[113.7,34.7],[113.7,34.8],[113.5,34.8],[113.5,34.7]]]';
    expect(await ids(`type=AirStation&georel=within&geometry=Polygon&coordinates=${enc(box)}`)).toEqual(
      S(1, 2, 3),
    );
    expect(await ids(`type=AirStation&georel=intersects&geometry=Polygon&coordinates=${enc(box)}`)).toEqual(
      S(1, 2, 3),
    );
    expect(await ids(`type=AirStation&georel=disjoint&geometry=Polygon&coordinates=${enc(box)}`)).toEqual(
      S(4),
    );
    expect(
      await ids(`type=AirStation&georel=equals&geometry=Point&coordinates=${enc('[114.3,34.8]')}`),
    ).toEqual(S(4));
  });

  it('pages with limit and offset, counts with count=true', async () => {
    const res = await hub.request({ method: 'GET', url: `${E}?type=AirStation&limit=2&offset=1&count=true` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['ngsild-results-count']).toBe('4');
    expect(json<{ id: string }[]>(res).map((e) => e.id)).toEqual(S(2, 3));
    expect(String(res.headers.link)).toMatch(/rel="next"/);
    const countOnly = await hub.request({ method: 'GET', url: `${E}?type=AirStation&limit=0&count=true` });
    expect(countOnly.headers['ngsild-results-count']).toBe('4');
    expect(json(countOnly)).toEqual([]);
    const geoPage = await hub.request({
      method: 'GET',
      url: `${E}?type=AirStation&georel=${enc('near;maxDistance==5000')}&geometry=Point&coordinates=${enc('[113.65,34.75]')}&limit=1&offset=1&count=true`,
    });
    expect(geoPage.headers['ngsild-results-count']).toBe('3');
    expect(json<{ id: string }[]>(geoPage).map((e) => e.id)).toEqual(S(2));
  });

  it('keeps only entities with one of attrs, and renders just those', async () => {
    const res = await hub.request({
      method: 'GET',
      url: `${E}?type=AirStation&attrs=pm25&options=keyValues&limit=1`,
    });
    expect(json(res)).toEqual([{ id: 'urn:ngsi-ld:Station:1', type: 'AirStation', pm25: 35 }]);
  });

  it('answers POST /entityOperations/query the same as GET', async () => {
    const res = await hub.request({
      method: 'POST',
      url: '/ngsi-ld/v1/entityOperations/query',
      headers: JSON_CT,
      payload: JSON.stringify({
        type: 'Query',
        entities: [{ type: 'AirStation' }],
        q: 'pm25>50',
        geoQ: { georel: 'near;maxDistance==5000', geometry: 'Point', coordinates: [113.65, 34.75] },
      }),
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(
      json<{ id: string }[]>(res)
        .map((e) => e.id)
        .sort(),
    ).toEqual(S(2, 3));
  });

  it('matches any of several entity selectors in POST /entityOperations/query', async () => {
    const res = await hub.request({
      method: 'POST',
      url: '/ngsi-ld/v1/entityOperations/query',
      headers: JSON_CT,
      payload: JSON.stringify({
        type: 'Query',
        entities: [
          { type: 'NoiseMeter' },
          { id: 'urn:ngsi-ld:Station:4', type: 'AirStation' },
          { idPattern: 'Station:1$' },
        ],
      }),
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(
      json<{ id: string }[]>(res)
        .map((e) => e.id)
        .sort(),
    ).toEqual(['urn:ngsi-ld:Meter:1', ...S(1, 4)]);
  });

  it('answers a GeoJSON FeatureCollection', async () => {
    const res = await hub.request({
      method: 'GET',
      url: `${E}?type=AirStation`,
      headers: { accept: 'application/geo+json' },
    });
    const fc = json<{ type: string; features: { geometry: unknown }[] }>(res);
    expect(fc.type).toBe('FeatureCollection');
    expect(fc.features).toHaveLength(4);
  });

  it('purges attributes with drop and keep, leaving the entities', async () => {
    let res = await hub.request({ method: 'DELETE', url: `${E}?type=NoiseMeter&drop=status` });
    expect(res.statusCode).toBe(204);
    const meter =
      json<Record<string, unknown>[]>(await hub.request({ method: 'GET', url: `${E}?type=NoiseMeter` }))[0] ??
      {};
    expect(meter.status).toBeUndefined();
    expect(meter.name).toBeDefined();
    res = await hub.request({ method: 'DELETE', url: `${E}?type=NoiseMeter&keep=name` });
    expect(res.statusCode).toBe(204);
    const kept =
      json<Record<string, unknown>[]>(await hub.request({ method: 'GET', url: `${E}?type=NoiseMeter` }))[0] ??
      {};
    expect(Object.keys(kept).sort()).toEqual(['id', 'name', 'scope', 'type']);
    expect(
      (await hub.request({ method: 'DELETE', url: `${E}?type=NoiseMeter&keep=name&drop=pm25` })).statusCode,
    ).toBe(400);
  });

  it('purges by type and q', async () => {
    const res = await hub.request({ method: 'DELETE', url: `${E}?type=AirStation&q=${enc('pm25>100')}` });
    expect(res.statusCode).toBe(204);
    expect(await ids('type=AirStation')).toEqual(S(1, 2, 4));
    expect(await ids('type=NoiseMeter')).toHaveLength(1);
    expect((await hub.request({ method: 'DELETE', url: E })).statusCode).toBe(400);
  });

  it('purges with drop every match, even past the first page', async () => {
    const items = Array.from({ length: 1200 }, (_, i) => ({ id: `urn:ngsi-ld:PG:${i}`, type: 'PG', t: i }));
    const res = await hub.request({
      method: 'POST',
      url: '/ngsi-ld/v1/entityOperations/create',
      headers: JSON_CT,
      payload: JSON.stringify(items),
    });
    expect(res.statusCode).toBe(201);
    expect((await hub.request({ method: 'DELETE', url: `${E}?type=PG&q=t&drop=t` })).statusCode).toBe(204);
    const left = await hub.request({ method: 'GET', url: `${E}?type=PG&q=t&count=true&limit=0` });
    expect(left.headers['ngsild-results-count']).toBe('0');
    const all = await hub.request({ method: 'GET', url: `${E}?type=PG&count=true&limit=0` });
    expect(all.headers['ngsild-results-count']).toBe('1200');
  });
});
