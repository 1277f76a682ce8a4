/**
 * Concurrent writers never lose each other's changes: attribute writes to one entity serialise on
 * its row lock, and concurrent creates of one id give exactly one entity.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHub, JSON_CT, json } from '../support/test-hub.js';
import type { TestHub } from '../support/test-hub.js';

let hub: TestHub;
const E = '/ngsi-ld/v1/entities';

beforeAll(async () => {
  hub = await createTestHub();
});
afterAll(async () => {
  await hub?.close();
});

describe('concurrent writes', () => {
  it('keeps every one of 20 concurrent appends to one entity', async () => {
    const id = 'urn:ngsi-ld:Counter:1';
    expect(
      (
        await hub.request({
          method: 'POST',
          url: E,
          headers: JSON_CT,
          payload: JSON.stringify({ id, type: 'Counter' }),
        })
      ).statusCode,
    ).toBe(201);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        hub.request({
          method: 'POST',
          url: `${E}/${id}/attrs`,
          headers: JSON_CT,
          payload: JSON.stringify({ [`a${i}`]: i }),
        }),
      ),
    );
    expect(results.map((r) => r.statusCode)).toEqual(Array(20).fill(204));
    const got = json<Record<string, unknown>>(
      await hub.request({ method: 'GET', url: `${E}/${id}?options=keyValues` }),
    );
    for (let i = 0; i < 20; i++) expect(got[`a${i}`]).toBe(i);
  });

  it('creates one entity when 10 clients create the same id at once', async () => {
    const body = JSON.stringify({ id: 'urn:ngsi-ld:Race:1', type: 'Race' });
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        hub.request({ method: 'POST', url: E, headers: JSON_CT, payload: body }),
      ),
    );
    const codes = results.map((r) => r.statusCode).sort();
    expect(codes).toEqual([201, ...Array(9).fill(409)]);
  });

  it('lets concurrent batch upserts of overlapping entities all succeed', async () => {
    const batch = (n: number) =>
      JSON.stringify(
        Array.from({ length: 50 }, (_, i) => ({ id: `urn:ngsi-ld:Lamp:${i}`, type: 'Lamp', [`w${n}`]: n })),
      );
    const results = await Promise.all(
      [1, 2, 3, 4].map((n) =>
        hub.request({
          method: 'POST',
          url: '/ngsi-ld/v1/entityOperations/upsert?options=update',
          headers: JSON_CT,
          payload: batch(n),
        }),
      ),
    );
    for (const r of results) expect([201, 204]).toContain(r.statusCode);
    const lamp = json<Record<string, unknown>>(
      await hub.request({ method: 'GET', url: `${E}/urn:ngsi-ld:Lamp:7?options=keyValues` }),
    );
    expect([lamp.w1, lamp.w2, lamp.w3, lamp.w4]).toEqual([1, 2, 3, 4]);
  });
});
