import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHub, JSON_CT, json } from '../support/test-hub.js';
import type { TestHub } from '../support/test-hub.js';

let hub: TestHub;

beforeAll(async () => {
  hub = await createTestHub();
  const body = [
    {
      id: 'urn:ngsi-ld:Park:1',
      type: 'Park',
      area: { type: 'Property', value: 3 },
      manager: { type: 'Relationship', object: 'urn:ngsi-ld:Org:1' },
    },
    { id: 'urn:ngsi-ld:Park:2', type: 'Park', area: { type: 'Property', value: 5 } },
    {
      id: 'urn:ngsi-ld:Lake:1',
      type: 'Lake',
      area: { type: 'Property', value: 9 },
      depth: { type: 'Property', value: 2 },
    },
  ];
  const res = await hub.request({
    method: 'POST',
    url: '/ngsi-ld/v1/entityOperations/create',
    headers: JSON_CT,
    payload: JSON.stringify(body),
  });
  expect(res.statusCode).toBe(201);
});
afterAll(async () => {
  await hub?.close();
});

const get = (url: string) => hub.request({ method: 'GET', url: `/ngsi-ld/v1/${url}` });

describe('discovery', () => {
  it('lists types', async () => {
    const res = json<{ type: string; typeList: string[] }>(await get('types'));
    expect(res.type).toBe('EntityTypeList');
    expect(res.typeList.sort()).toEqual(['Lake', 'Park']);
  });

  it('lists types with details', async () => {
    const res = json<{ typeName: string; attributeNames: string[] }[]>(await get('types?details=true'));
    const park = res.find((t) => t.typeName === 'Park');
    expect(park?.attributeNames.sort()).toEqual(['area', 'manager']);
  });

  it('describes one type', async () => {
    const res = json<{
      entityCount: number;
      attributeDetails: { attributeName: string; attributeTypes: string[] }[];
    }>(await get('types/Park'));
    expect(res.entityCount).toBe(2);
    expect(res.attributeDetails.find((a) => a.attributeName === 'manager')?.attributeTypes).toEqual([
      'Relationship',
    ]);
    expect((await get('types/Nothing')).statusCode).toBe(404);
  });

  it('lists attributes, with details, and describes one', async () => {
    const list = json<{ attributeList: string[] }>(await get('attributes'));
    expect(list.attributeList.sort()).toEqual(['area', 'depth', 'manager']);
    const details = json<{ attributeName: string; typeNames: string[] }[]>(
      await get('attributes?details=true'),
    );
    const area = details.find((a) => a.attributeName === 'area');
    expect(area?.typeNames.sort()).toEqual(['Lake', 'Park']);
    const one = json<{ attributeTypes: string[]; attributeCount: number }>(await get('attributes/depth'));
    expect(one.attributeCount).toBe(1);
    expect(one.attributeTypes).toEqual(['Property']);
    expect((await get('attributes/nothing')).statusCode).toBe(404);
  });

  it('forgets a type once its last entity is gone', async () => {
    await hub.request({
      method: 'DELETE',
      url: `/ngsi-ld/v1/entities/${encodeURIComponent('urn:ngsi-ld:Lake:1')}`,
    });
    const res = json<{ typeList: string[] }>(await get('types'));
    expect(res.typeList).toEqual(['Park']);
  });
});
