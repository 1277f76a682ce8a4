import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHub, JSON_CT, json } from '../support/test-hub.js';
import type { TestHub } from '../support/test-hub.js';

let hub: TestHub;
const OPS = '/ngsi-ld/v1/entityOperations';
const E = '/ngsi-ld/v1/entities';
const enc = encodeURIComponent;

beforeAll(async () => {
  hub = await createTestHub();
});
afterAll(async () => {
  await hub?.close();
});

const lamp = (n: number, extra: Record<string, unknown> = {}) => ({
  id: `urn:ngsi-ld:Streetlight:${n}`,
  type: 'Streetlight',
  powerState: { type: 'Property', value: 'on' },
  ...extra,
});

async function post(op: string, body: unknown, query = '') {
  return hub.request({
    method: 'POST',
    url: `${OPS}/${op}${query}`,
    headers: JSON_CT,
    payload: JSON.stringify(body),
  });
}
async function get(n: number) {
  return hub.request({ method: 'GET', url: `${E}/${enc(`urn:ngsi-ld:Streetlight:${n}`)}` });
}

describe('batch operations', () => {
  it('creates all and answers 201 with the ids', async () => {
    const res = await post('create', [lamp(1), lamp(2), lamp(3)]);
    expect(res.statusCode).toBe(201);
    expect(json(res)).toEqual([
      'urn:ngsi-ld:Streetlight:1',
      'urn:ngsi-ld:Streetlight:2',
      'urn:ngsi-ld:Streetlight:3',
    ]);
  });

  it('reports per item: existing ids and invalid items fail, the others are created', async () => {
    const res = await post('create', [lamp(1), lamp(4), { id: 'bad id', type: 'Streetlight' }, lamp(4)]);
    expect(res.statusCode).toBe(207);
    const r = json<{ success: string[]; errors: { entityId: string; error: { type: string } }[] }>(res);
    expect(r.success).toEqual(['urn:ngsi-ld:Streetlight:4']);
    expect(r.errors.map((e) => [e.entityId, e.error.type.split('/').pop()])).toEqual([
      ['urn:ngsi-ld:Streetlight:1', 'AlreadyExists'],
      ['bad id', 'BadRequestData'],
      ['urn:ngsi-ld:Streetlight:4', 'AlreadyExists'],
    ]);
    expect((await get(4)).statusCode).toBe(200);
  });

  it('upserts: replace by default, update with options=update', async () => {
    let res = await post('upsert', [
      lamp(1, { powerState: undefined, dimLevel: { type: 'Property', value: 50 } }),
      lamp(5),
    ]);
    expect(res.statusCode).toBe(201);
    expect(json(res)).toEqual(['urn:ngsi-ld:Streetlight:5']);
    const replaced = json<Record<string, unknown>>(await get(1));
    expect(replaced.powerState).toBeUndefined();
    expect(replaced.dimLevel).toEqual({ type: 'Property', value: 50 });

    res = await post(
      'upsert',
      [{ id: 'urn:ngsi-ld:Streetlight:2', type: 'Streetlight', dimLevel: { type: 'Property', value: 10 } }],
      '?options=update',
    );
    expect(res.statusCode).toBe(204);
    const updated = json<Record<string, unknown>>(await get(2));
    expect(updated.powerState).toEqual({ type: 'Property', value: 'on' });
    expect(updated.dimLevel).toEqual({ type: 'Property', value: 10 });
  });

  it('updates existing entities, honouring noOverwrite, and reports missing ones', async () => {
    const res = await post(
      'update',
      [
        {
          id: 'urn:ngsi-ld:Streetlight:3',
          type: 'Streetlight',
          powerState: { type: 'Property', value: 'off' },
          note: { type: 'Property', value: 'x' },
        },
        lamp(99),
      ],
      '?options=noOverwrite',
    );
    expect(res.statusCode).toBe(207);
    const r = json<{ success: string[]; errors: { entityId: string }[] }>(res);
    // Entity 3 kept its powerState (reported), got the new note; 99 does not exist.
    expect(r.success).toEqual([]);
    expect(r.errors.map((e) => e.entityId)).toEqual([
      'urn:ngsi-ld:Streetlight:3',
      'urn:ngsi-ld:Streetlight:99',
    ]);
    const got = json<Record<string, { value: unknown }>>(await get(3));
    expect(got.powerState?.value).toBe('on');
    expect(got.note?.value).toBe('x');
  });

  it('merges', async () => {
    const res = await post('merge', [
      { id: 'urn:ngsi-ld:Streetlight:3', type: 'Streetlight', powerState: 'off', note: 'urn:ngsi-ld:null' },
    ]);
    expect(res.statusCode).toBe(204);
    const got = json<Record<string, { value: unknown } | undefined>>(await get(3));
    expect(got.powerState?.value).toBe('off');
    expect(got.note).toBeUndefined();
  });

  it('refuses JSON null in a batch merge item (NGSI-LD Null is urn:ngsi-ld:null)', async () => {
    const res = await post('merge', [
      { id: 'urn:ngsi-ld:Streetlight:3', type: 'Streetlight', powerState: null },
      {
        id: 'urn:ngsi-ld:Streetlight:404',
        type: 'Streetlight',
        powerState: { type: 'Property', value: null },
      },
    ]);
    expect(res.statusCode).toBe(207);
    const r = json<{ errors: { error: { type: string } }[] }>(res);
    // Invalid items are refused as such, before anyone asks whether the entity exists.
    expect(r.errors.map((e) => e.error.type.split('/').pop())).toEqual(['BadRequestData', 'BadRequestData']);
    expect(json<Record<string, { value: unknown }>>(await get(3)).powerState?.value).toBe('off');
  });

  it('deletes and reports ids that do not exist', async () => {
    const res = await post('delete', ['urn:ngsi-ld:Streetlight:4', 'urn:ngsi-ld:Streetlight:404']);
    expect(res.statusCode).toBe(207);
    const r = json<{ success: string[]; errors: { entityId: string; error: { status: number } }[] }>(res);
    expect(r.success).toEqual(['urn:ngsi-ld:Streetlight:4']);
    expect(r.errors[0]?.error.status).toBe(404);
    expect((await get(4)).statusCode).toBe(404);
    expect((await post('delete', ['urn:ngsi-ld:Streetlight:5'])).statusCode).toBe(204);
  });

  it('refuses a body that is not a non-empty array', async () => {
    expect((await post('create', {})).statusCode).toBe(400);
    expect((await post('create', [])).statusCode).toBe(400);
  });
});
