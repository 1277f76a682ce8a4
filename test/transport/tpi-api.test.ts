/**
 * POST /api/v1/traffic/tpi: each link's DTP, TPI and level and the network's (GB/T 33171-2016),
 * and 400 ProblemDetails naming the field that is wrong.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHub, json, JSON_CT, type TestHub } from '../support/test-hub.js';

let hub: TestHub;
beforeAll(async () => {
  hub = await createTestHub();
});
afterAll(async () => {
  await hub?.close();
});

const post = (payload: unknown) =>
  hub.request({
    method: 'POST',
    url: '/api/v1/traffic/tpi',
    headers: JSON_CT,
    payload: JSON.stringify(payload),
  });

describe('POST /api/v1/traffic/tpi', () => {
  it('indexes the links and their network weighted by vehicle-kilometres', async () => {
    const res = await post({
      links: [
        { id: 'a', speed: 40, freeFlowSpeed: 50, length: 2, vehicles: 1000 },
        { id: 'b', speed: 10, freeFlowSpeed: 50, length: 1, vehicles: 500 },
        { id: 'c', speed: 70, freeFlowSpeed: 60, length: 0, vehicles: 0 },
      ],
    });
    expect(res.statusCode, res.body).toBe(200);
    // a: DTP 0.2 → 2 × 0.2 / 0.3 = 1.33; b: 0.8 → 8 + 2 × 0.1 / 0.3 = 8.67 (8.66 rounded down);
    // c: faster than free flow, DTP 0. Network: (0.2 × 2000 + 0.8 × 500) / 2500 = 0.32 → 2.2.
    expect(json(res)).toEqual({
      links: [
        { id: 'a', dtp: 0.2, tpi: 1.33, level: 1, name: { zh: '畅通', en: 'Smooth' } },
        { id: 'b', dtp: 0.8, tpi: 8.66, level: 5, name: { zh: '严重拥堵', en: 'Severely congested' } },
        { id: 'c', dtp: 0, tpi: 0, level: 1, name: { zh: '畅通', en: 'Smooth' } },
      ],
      network: {
        dtp: 0.32,
        tpi: 2.2,
        level: 2,
        name: { zh: '基本畅通', en: 'Basically smooth' },
        vehicleKilometres: 2500,
        speed: 25,
        weighting: 'vehicle-kilometres',
      },
    });
  });

  const bad: [string, unknown, string][] = [
    ['an empty list', { links: [] }, 'links:'],
    ['no list', {}, 'links:'],
    [
      'a negative speed',
      {
        links: [
          { id: 'a', speed: 1, freeFlowSpeed: 50, length: 1, vehicles: 1 },
          { id: 'b', speed: 1, freeFlowSpeed: 50, length: 1, vehicles: 1 },
          { id: 'c', speed: -3, freeFlowSpeed: 50, length: 1, vehicles: 1 },
        ],
      },
      'links[2].speed',
    ],
    [
      'a speed as text',
      { links: [{ id: 'a', speed: '30', freeFlowSpeed: 50, length: 1, vehicles: 1 }] },
      'links[0].speed',
    ],
    ['no id', { links: [{ speed: 30, freeFlowSpeed: 50, length: 1, vehicles: 1 }] }, 'links[0].id'],
    [
      'a free-flow speed of 0',
      { links: [{ id: 'a', speed: 30, freeFlowSpeed: 0, length: 1, vehicles: 1 }] },
      'links[0].freeFlowSpeed',
    ],
    ['no length', { links: [{ id: 'a', speed: 30, freeFlowSpeed: 50, vehicles: 1 }] }, 'links[0].length'],
    [
      'negative vehicles',
      { links: [{ id: 'a', speed: 30, freeFlowSpeed: 50, length: 1, vehicles: -1 }] },
      'links[0].vehicles',
    ],
    [
      'an unknown member',
      { links: [{ id: 'a', speed: 30, freeFlowSpeed: 50, length: 1, vehicles: 1, lanes: 2 }] },
      'links[0].lanes',
    ],
    [
      'an id given twice',
      {
        links: [
          { id: 'a', speed: 30, freeFlowSpeed: 50, length: 1, vehicles: 1 },
          { id: 'a', speed: 30, freeFlowSpeed: 50, length: 1, vehicles: 1 },
        ],
      },
      'links[1].id',
    ],
  ];
  it.each(bad)('answers 400 naming the field for %s', async (_what, body, field) => {
    const res = await post(body);
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/application\/(problem\+)?json/);
    expect(json<{ detail: string }>(res).detail.startsWith(field)).toBe(true);
  });
});
