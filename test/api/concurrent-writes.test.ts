/**
 * Concurrent writers never lose each other's changes: attribute writes to one entity serialise on
 * its row lock, and concurrent creates of one id give exactly one entity. Writes arriving together
 * share a transaction (group commit), and each still gets its own outcome.
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

  it('shares transactions between concurrent writes, each with its own outcome', async () => {
    for (let i = 0; i < 5; i++)
      await hub.request({
        method: 'POST',
        url: E,
        headers: JSON_CT,
        payload: { id: `urn:ngsi-ld:Bin:${i}`, type: 'Bin', fill: 0 },
      });
    const before = hub.entities.writeGroups();
    const results = await Promise.all([
      ...Array.from({ length: 40 }, (_, k) =>
        hub.request({
          method: 'PATCH',
          url: `${E}/urn:ngsi-ld:Bin:${k % 5}/attrs/fill`,
          headers: JSON_CT,
          payload: { value: k },
        }),
      ),
      hub.request({
        method: 'PATCH',
        url: `${E}/urn:ngsi-ld:Bin:none/attrs/fill`,
        headers: JSON_CT,
        payload: { value: 1 },
      }),
      hub.request({
        method: 'PATCH',
        url: `${E}/urn:ngsi-ld:Bin:0/attrs/level`,
        headers: JSON_CT,
        payload: { value: 1 },
      }),
    ]);
    expect(results.map((r) => r.statusCode)).toEqual([...Array(40).fill(204), 404, 404]);
    const after = hub.entities.writeGroups();
    expect(after.grouped - before.grouped).toBeGreaterThan(20);
    expect(after.fallbacks).toBe(before.fallbacks);
    // Each entity got its writes in arrival order: the last one wins.
    for (let i = 0; i < 5; i++) {
      const bin = json<{ fill: number }>(
        await hub.request({ method: 'GET', url: `${E}/urn:ngsi-ld:Bin:${i}?options=keyValues` }),
      );
      expect(bin.fill).toBe(35 + i);
    }
    const history = json<{ fill: unknown[] }>(
      await hub.request({ method: 'GET', url: `/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:Bin:2?lastN=100` }),
    );
    expect(history.fill).toHaveLength(9); // the first value and the eight PATCHes
  });

  it('writes a group again one by one when the database refuses it, so one bad write fails alone', async () => {
    await hub.request({
      method: 'POST',
      url: E,
      headers: JSON_CT,
      payload: { id: 'urn:ngsi-ld:Bin:nul', type: 'Bin', note: 'a' },
    });
    const before = hub.entities.writeGroups();
    const results = await Promise.all([
      ...Array.from({ length: 10 }, (_, k) =>
        hub.request({
          method: 'PATCH',
          url: `${E}/urn:ngsi-ld:Bin:nul/attrs`,
          headers: JSON_CT,
          payload: { [`n${k}`]: k },
        }),
      ),
      // PostgreSQL cannot store NUL in jsonb text: the whole group's transaction fails.
      hub.request({
        method: 'PATCH',
        url: `${E}/urn:ngsi-ld:Bin:nul/attrs`,
        headers: JSON_CT,
        payload: { note: 'a\u0000b' },
      }),
    ]);
    expect(results.map((r) => r.statusCode)).toEqual([...Array(10).fill(204), 400]);
    expect(hub.entities.writeGroups().fallbacks).toBeGreaterThan(before.fallbacks);
    const bin = json<Record<string, unknown>>(
      await hub.request({ method: 'GET', url: `${E}/urn:ngsi-ld:Bin:nul?options=keyValues` }),
    );
    expect(bin.note).toBe('a');
    for (let k = 0; k < 10; k++) expect(bin[`n${k}`]).toBe(k);
  });

  it('moves, keeps and drops geometry of writes that share a transaction', async () => {
    const at = (x: number) => ({ type: 'GeoProperty', value: { type: 'Point', coordinates: [x, 30] } });
    for (let i = 0; i < 6; i++)
      await hub.request({
        method: 'POST',
        url: E,
        headers: JSON_CT,
        payload: { id: `urn:ngsi-ld:Pole:${i}`, type: 'Pole', height: 1, location: at(100 + i) },
      });
    const near = async (x: number) =>
      json<{ id: string }[]>(
        await hub.request({
          method: 'GET',
          url: `${E}?type=Pole&georel=near;maxDistance==1000&geometry=Point&coordinates=[${x},30]`,
        }),
      ).map((e) => e.id);
    const results = await Promise.all([
      ...[0, 1, 2, 3].map((i) =>
        hub.request({
          method: 'PATCH',
          url: `${E}/urn:ngsi-ld:Pole:${i}/attrs`,
          headers: JSON_CT,
          payload: { height: 2 },
        }),
      ),
      hub.request({
        method: 'PATCH',
        url: `${E}/urn:ngsi-ld:Pole:4/attrs`,
        headers: JSON_CT,
        payload: { location: at(120) },
      }),
      hub.request({ method: 'DELETE', url: `${E}/urn:ngsi-ld:Pole:5/attrs/location` }),
    ]);
    expect(results.map((r) => r.statusCode)).toEqual(Array(6).fill(204));
    for (const i of [0, 1, 2, 3]) expect(await near(100 + i)).toEqual([`urn:ngsi-ld:Pole:${i}`]);
    expect(await near(104)).toEqual([]);
    expect(await near(120)).toEqual(['urn:ngsi-ld:Pole:4']);
    expect(await near(105)).toEqual([]);
  });
});
