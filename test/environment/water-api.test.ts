/**
 * POST /api/v1/environment/water-class: the GB 3838-2002 class of a sample as a plain API; bad
 * input is a 400 ProblemDetails naming the field.
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

const classify = (body: unknown) =>
  hub.request({
    method: 'POST',
    url: '/api/v1/environment/water-class',
    headers: JSON_CT,
    payload: JSON.stringify(body),
  });

describe('the water-class calculator', () => {
  it('answers the class, its items, the items that decide it and its names', async () => {
    const res = await classify({
      waterBody: 'river',
      values: {
        pH: 7.8,
        dissolvedOxygen: 5.5,
        permanganateIndex: 3.2,
        ammoniaNitrogen: 1.2,
        totalPhosphorus: 0.18,
      },
    });
    expect(res.statusCode, res.body).toBe(200);
    // DO 5.5 ≥ 5 → III; CODMn 3.2 ≤ 4 → II; NH3-N 1.2 ≤ 1.5 → IV; TP 0.18 ≤ 0.2 → III (river)
    expect(json(res)).toEqual({
      standard: 'GB 3838-2002',
      waterBody: 'river',
      class: 'IV',
      classNumber: 4,
      label: { zh: 'IV类', en: 'Class IV' },
      items: {
        pH: { value: 7.8, class: 'I', classNumber: 1, limit: [6, 9], kind: 'range' },
        dissolvedOxygen: { value: 5.5, class: 'III', classNumber: 3, limit: 5, kind: 'min' },
        permanganateIndex: { value: 3.2, class: 'II', classNumber: 2, limit: 4, kind: 'max' },
        ammoniaNitrogen: { value: 1.2, class: 'IV', classNumber: 4, limit: 1.5, kind: 'max' },
        totalPhosphorus: { value: 0.18, class: 'III', classNumber: 3, limit: 0.2, kind: 'max' },
      },
      decisive: ['ammoniaNitrogen'],
      notAssessed: [],
    });
  });

  it('reads a lake by the lake limits, with total nitrogen; leaves out items not measured', async () => {
    const res = await classify({
      waterBody: 'lake',
      values: { totalPhosphorus: 0.18, totalNitrogen: 2.4, cod: null },
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(json(res)).toMatchObject({
      class: '劣V',
      classNumber: 6,
      label: { zh: '劣V类', en: 'Worse than Class V' },
      decisive: ['totalNitrogen'],
      items: { totalPhosphorus: { class: 'V' } },
    });
  });

  it.each([
    ['not an object', 'river', /request body must be a JSON object/],
    ['no water body', { values: { pH: 7 } }, /^waterBody: must be "river" or "lake"/],
    ['an unknown water body', { waterBody: 'sea', values: { pH: 7 } }, /^waterBody:/],
    ['no values', { waterBody: 'river' }, /^values: must be an object/],
    ['no item', { waterBody: 'river', values: {} }, /^values: at least one item/],
    [
      'only TN in a river',
      { waterBody: 'river', values: { totalNitrogen: 1 } },
      /^values: at least one item/,
    ],
    ['an unknown item', { waterBody: 'river', values: { lead: 0.01 } }, /^values\.lead: not an item/],
    ['a negative value', { waterBody: 'lake', values: { cod: -1 } }, /^values\.cod: must be a concentration/],
    ['a text', { waterBody: 'lake', values: { bod5: '3' } }, /^values\.bod5: must be a concentration/],
    ['a pH above 14', { waterBody: 'lake', values: { pH: 15 } }, /^values\.pH: must be a pH from 0 to 14/],
    ['an unknown member', { waterBody: 'lake', values: { pH: 7 }, unit: 'mg/L' }, /^unit: not a member/],
  ])('refuses %s with a 400 naming the field', async (_what, body, message) => {
    const res = await classify(body);
    expect(res.statusCode, res.body).toBe(400);
    const problem = json<{ type: string; detail: string }>(res);
    expect(problem.type).toMatch(/BadRequestData|InvalidRequest/);
    expect(problem.detail).toMatch(message);
  });
});
