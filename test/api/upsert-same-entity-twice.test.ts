/**
 * Regression: an upsert batch naming the same entity twice failed with 500, because the history
 * writer upserted both changes of that entity in one INSERT … ON CONFLICT (ETSI 004_07_01).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestHub, json, type TestHub } from '../support/test-hub.js';

let hub: TestHub;
beforeAll(async () => {
  hub = await createTestHub();
});
afterAll(async () => hub.close());

it('upserts a batch that names one entity twice, and keeps both changes in its history', async () => {
  const a = 'urn:ngsi-ld:Building:twice-a';
  const res = await hub.request({
    method: 'POST',
    url: '/ngsi-ld/v1/entityOperations/upsert',
    payload: [
      { id: a, type: 'Building', floors: { type: 'Property', value: 1, observedAt: '2026-11-01T00:00:00Z' } },
      { id: 'urn:ngsi-ld:Building:twice-b', type: 'Building' },
      { id: a, type: 'Building', floors: { type: 'Property', value: 2, observedAt: '2026-11-02T00:00:00Z' } },
    ],
  });
  expect(res.statusCode, res.body).toBeLessThan(300);
  const now = json<{ floors: { value: number } }>(await hub.request({ url: `/ngsi-ld/v1/entities/${a}` }));
  expect(now.floors.value).toBe(2);
  const hist = json<{ floors: { value: number }[] }>(
    await hub.request({ url: `/ngsi-ld/v1/temporal/entities/${a}` }),
  );
  expect(hist.floors.map((i) => i.value).sort()).toEqual([1, 2]);
});
