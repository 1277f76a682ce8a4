import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHub, JSON_CT, json } from '../support/test-hub.js';
import type { TestHub } from '../support/test-hub.js';

let hub: TestHub;
const E = '/ngsi-ld/v1/entities';
const ID = 'urn:ngsi-ld:Room:keep';
const enc = encodeURIComponent;

beforeAll(async () => {
  hub = await createTestHub();
  const res = await hub.request({
    method: 'POST',
    url: E,
    headers: JSON_CT,
    payload: JSON.stringify({ id: ID, type: 'Room', temperature: { type: 'Property', value: 20 } }),
  });
  expect(res.statusCode).toBe(201);
});
afterAll(async () => {
  await hub?.close();
});

async function snapshot() {
  const res = await hub.request({ method: 'GET', url: `${E}/${enc(ID)}?options=sysAttrs` });
  return res.body;
}

function expectProblem(
  res: { statusCode: number; body: string; headers: Record<string, unknown> },
  status: number,
  type: string,
) {
  expect(res.statusCode).toBe(status);
  expect(String(res.headers['content-type'])).toMatch(/application\/json/);
  const pd = json<Record<string, unknown>>(res as never);
  expect(pd.type).toBe(`https://uri.etsi.org/ngsi-ld/errors/${type}`);
  expect(pd.status).toBe(status);
  expect(typeof pd.detail).toBe('string');
  expect(res.body).not.toMatch(/at .*\.(ts|js):\d+/); // never a stack trace
}

describe('bad input answers ProblemDetails and changes nothing', () => {
  const cases: { name: string; req: Parameters<TestHub['request']>[0]; status: number; type: string }[] = [
    {
      name: 'malformed JSON',
      req: { method: 'POST', url: E, headers: JSON_CT, payload: '{"id": "urn:x:1", "type": ' },
      status: 400,
      type: 'InvalidRequest',
    },
    {
      name: 'empty body',
      req: { method: 'POST', url: E, headers: JSON_CT, payload: '' },
      status: 400,
      type: 'InvalidRequest',
    },
    {
      name: 'a JSON array as entity',
      req: { method: 'POST', url: E, headers: JSON_CT, payload: '[]' },
      status: 400,
      type: 'InvalidRequest',
    },
    {
      name: 'id that is not a URI',
      req: {
        method: 'POST',
        url: E,
        headers: JSON_CT,
        payload: JSON.stringify({ id: 'no uri', type: 'Room' }),
      },
      status: 400,
      type: 'BadRequestData',
    },
    {
      name: 'no type',
      req: { method: 'POST', url: E, headers: JSON_CT, payload: JSON.stringify({ id: 'urn:x:2' }) },
      status: 400,
      type: 'BadRequestData',
    },
    {
      name: 'Property without value',
      req: {
        method: 'POST',
        url: E,
        headers: JSON_CT,
        payload: JSON.stringify({ id: 'urn:x:3', type: 'T', a: { type: 'Property' } }),
      },
      status: 400,
      type: 'BadRequestData',
    },
    {
      name: 'Relationship to a non-URI',
      req: {
        method: 'POST',
        url: E,
        headers: JSON_CT,
        payload: JSON.stringify({ id: 'urn:x:4', type: 'T', a: { type: 'Relationship', object: 'x y' } }),
      },
      status: 400,
      type: 'BadRequestData',
    },
    {
      name: 'invalid geometry',
      req: {
        method: 'POST',
        url: E,
        headers: JSON_CT,
        payload: JSON.stringify({
          id: 'urn:x:5',
          type: 'T',
          location: { type: 'GeoProperty', value: { type: 'Point', coordinates: [500, 1] } },
        }),
      },
      status: 400,
      type: 'BadRequestData',
    },
    {
      name: 'wrong content type',
      req: { method: 'POST', url: E, headers: { 'content-type': 'text/plain' }, payload: 'hello' },
      status: 415,
      type: 'UnsupportedMediaType',
    },
    {
      name: 'an unacceptable Accept',
      req: { method: 'GET', url: `${E}/${enc(ID)}`, headers: { accept: 'text/html' } },
      status: 406,
      type: 'NotAcceptable',
    },
    {
      name: 'oversized body',
      req: {
        method: 'POST',
        url: E,
        headers: JSON_CT,
        payload: JSON.stringify({ id: 'urn:x:6', type: 'T', big: 'x'.repeat(9 * 1024 * 1024) }),
      },
      status: 413,
      type: 'PayloadTooLarge',
    },
    {
      name: 'bad q syntax',
      req: { method: 'GET', url: `${E}?type=Room&q=${enc('temperature>>')}` },
      status: 400,
      type: 'BadRequestData',
    },
    {
      name: 'bad geo syntax',
      req: { method: 'GET', url: `${E}?type=Room&georel=near&geometry=Point&coordinates=${enc('[1,')}` },
      status: 400,
      type: 'BadRequestData',
    },
    {
      name: 'unknown georel',
      req: { method: 'GET', url: `${E}?type=Room&georel=around&geometry=Point&coordinates=${enc('[1,2]')}` },
      status: 400,
      type: 'BadRequestData',
    },
    {
      name: 'a query without any filter',
      req: { method: 'GET', url: E },
      status: 400,
      type: 'BadRequestData',
    },
    {
      name: 'ld+json without @context',
      req: {
        method: 'POST',
        url: E,
        headers: { 'content-type': 'application/ld+json' },
        payload: JSON.stringify({ id: 'urn:x:7', type: 'T' }),
      },
      status: 400,
      type: 'BadRequestData',
    },
    {
      name: 'json with @context in the body',
      req: {
        method: 'POST',
        url: E,
        headers: JSON_CT,
        payload: JSON.stringify({
          id: 'urn:x:8',
          type: 'T',
          '@context': 'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld',
        }),
      },
      status: 400,
      type: 'BadRequestData',
    },
    {
      name: 'replace with a bad attribute',
      req: {
        method: 'PUT',
        url: `${E}/${enc(ID)}`,
        headers: JSON_CT,
        payload: JSON.stringify({ type: 'Room', temperature: { type: 'Property' } }),
      },
      status: 400,
      type: 'BadRequestData',
    },
    {
      name: 'merge with a bad attribute',
      req: {
        method: 'PATCH',
        url: `${E}/${enc(ID)}`,
        headers: JSON_CT,
        payload: JSON.stringify({ temperature: { type: 'Relationship', object: 'nope nope' } }),
      },
      status: 400,
      type: 'BadRequestData',
    },
    {
      name: 'append with a bad attribute',
      req: {
        method: 'POST',
        url: `${E}/${enc(ID)}/attrs`,
        headers: JSON_CT,
        payload: JSON.stringify({ temperature: 1, 'bad name(': 2 }),
      },
      status: 400,
      type: 'BadRequestData',
    },
    {
      name: 'limit above the maximum',
      req: { method: 'GET', url: `${E}?type=Room&limit=5000` },
      status: 403,
      type: 'TooManyResults',
    },
    {
      name: 'a negative offset',
      req: { method: 'GET', url: `${E}?type=Room&offset=-1` },
      status: 400,
      type: 'BadRequestData',
    },
    {
      name: 'an unknown query parameter',
      req: { method: 'GET', url: `${E}/${enc(ID)}?foo=1` },
      status: 400,
      type: 'InvalidRequest',
    },
    {
      name: 'an unknown option',
      req: { method: 'GET', url: `${E}/${enc(ID)}?options=fast` },
      status: 400,
      type: 'InvalidRequest',
    },
    {
      name: 'an option of another operation',
      req: { method: 'GET', url: `${E}/${enc(ID)}?options=noOverwrite` },
      status: 400,
      type: 'InvalidRequest',
    },
    {
      name: 'an unknown format',
      req: { method: 'GET', url: `${E}/${enc(ID)}?format=xml` },
      status: 400,
      type: 'InvalidRequest',
    },
    {
      name: 'pick with attrs',
      req: { method: 'GET', url: `${E}/${enc(ID)}?pick=a&attrs=b` },
      status: 400,
      type: 'BadRequestData',
    },
    {
      name: 'a type that is a JSON-LD keyword',
      req: {
        method: 'POST',
        url: E,
        headers: JSON_CT,
        payload: JSON.stringify({ id: 'urn:x:9', type: '@id' }),
      },
      status: 400,
      type: 'BadRequestData',
    },
    {
      name: 'an empty id in the path',
      req: { method: 'PATCH', url: `${E}/`, headers: JSON_CT, payload: '{}' },
      status: 400,
      type: 'BadRequestData',
    },
    {
      name: 'a parameter of a feature not built yet',
      req: { method: 'GET', url: `${E}/${enc(ID)}?entityMap=true` },
      status: 422,
      type: 'OperationNotSupported',
    },
    {
      name: 'DELETE of attrs without a name',
      req: { method: 'DELETE', url: `${E}/${enc(ID)}/attrs/` },
      status: 405,
      type: 'MethodNotAllowed',
    },
    {
      name: 'a projection that leaves nothing',
      req: { method: 'GET', url: `${E}/${enc(ID)}?omit=id,type,temperature` },
      status: 404,
      type: 'ResourceNotFound',
    },
    {
      name: 'a malformed orderBy',
      req: { method: 'GET', url: `${E}?type=Room&orderBy=${enc('temperature;sideways')}` },
      status: 400,
      type: 'BadRequestData',
    },
    {
      name: 'an unknown route',
      req: { method: 'GET', url: '/ngsi-ld/v1/nothing' },
      status: 404,
      type: 'ResourceNotFound',
    },
  ];

  for (const c of cases) {
    it(`${c.name} → ${c.status} ${c.type}`, async () => {
      const before = await snapshot();
      const res = await hub.request(c.req);
      expectProblem(res, c.status, c.type);
      expect(await snapshot()).toBe(before);
    });
  }

  it('leaves no half-created entity behind', async () => {
    const ids = ['urn:x:1', 'urn:x:3', 'urn:x:4', 'urn:x:5', 'urn:x:6', 'urn:x:7', 'urn:x:8'];
    const res = await hub.request({ method: 'GET', url: `${E}?id=${ids.join(',')}&local=true` });
    expect(json(res)).toEqual([]);
  });
});

describe('out-of-range values and pathological queries: a 4xx, never a 500', () => {
  it.each([
    ['a number too large for a double', '{"id":"urn:q:1","type":"T","x":1e400}'],
    [
      'an impossible date',
      JSON.stringify({
        id: 'urn:q:2',
        type: 'T',
        x: { type: 'Property', value: 1, observedAt: '2026-02-30T00:00:00Z' },
      }),
    ],
    ['a NUL character in a value', JSON.stringify({ id: 'urn:q:3', type: 'T', x: 'a\u0000b' })],
    ['a NUL character in the id', JSON.stringify({ id: 'urn:q:\u0000', type: 'T' })],
  ])('refuses %s with 400 and stores nothing', async (_name, payload) => {
    const res = await hub.request({ method: 'POST', url: E, headers: JSON_CT, payload });
    expect(res.statusCode, res.body).toBe(400);
    const any = await hub.request({
      method: 'GET',
      url: `${E}?type=T&idPattern=${encodeURIComponent('^urn:q:')}`,
    });
    expect(json(any)).toEqual([]);
  });

  it.each([
    ['a huge offset', `${E}?type=T&offset=99999999999999999999`],
    ['deeply nested q', `${E}?type=T&q=${'('.repeat(5000)}a==1${')'.repeat(5000)}`],
    ['deeply nested type', `${E}?type=${'('.repeat(5000)}T${')'.repeat(5000)}`],
    ['a NUL character in q', `${E}?type=T&q=${encodeURIComponent('a=="\u0000"')}`],
  ])('answers %s with a 4xx, not a 500', async (_name, url) => {
    const res = await hub.request({ method: 'GET', url });
    expect(res.statusCode, res.body).toBeGreaterThanOrEqual(400);
    expect(res.statusCode, res.body).toBeLessThan(500);
  });
});
