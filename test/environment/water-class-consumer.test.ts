/**
 * Each water quality station's GB 3838-2002 class follows its readings through the change feed:
 * the Smart Data Models attributes (written with the SDM WaterQuality context, as the demo's
 * devices are) are mapped to the Table 1 items, the latest value of each is classed, and the
 * station gets waterQualityClass and waterQualityClassDetails, kept in history; the module's own
 * writes do not come back to it and a result already written is not written again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHub, json, link, LD, type TestHub } from '../support/test-hub.js';
import { waterClassConsumer } from '../../src/environment/water-class-consumer.js';

const WQ_CONTEXT = 'https://smart-data-models.github.io/dataModel.WaterQuality/context.jsonld';
const E = '/ngsi-ld/v1/entities';
const ID = 'urn:ngsi-ld:WaterQualityObserved:wq-1';
const AT = '2026-12-07T08:00:00Z';
let hub: TestHub;

beforeAll(async () => {
  hub = await createTestHub();
  // A new consumer's cursor starts at the feed's end: the first reading must come after it.
  await until('the consumer holds its cursor', async () =>
    (await hub.store.feed.consumers()).some((c) => c.name === 'environment.water-class'),
  );
});
afterAll(async () => {
  await hub?.close();
});

type Stored = Record<string, { value?: unknown; json?: Record<string, unknown>; observedAt?: string }>;
const station = async () =>
  json<Stored>(await hub.request({ url: `${E}/${encodeURIComponent(ID)}`, headers: link(WQ_CONTEXT) }));
const mgl = (value: number, observedAt = AT) => ({ type: 'Property', value, observedAt, unitCode: 'M1' });

async function until(what: string, ok: () => Promise<boolean>) {
  const end = Date.now() + 20_000;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const classIs = (c: string) =>
  until(`class ${c}`, async () => (await station()).waterQualityClass?.value === c);

const send = async (method: 'POST' | 'PATCH', url: string, body: unknown) => {
  const res = await hub.request({
    method,
    url,
    headers: { 'content-type': LD },
    payload: JSON.stringify({ ...(body as object), '@context': WQ_CONTEXT }),
  });
  expect(res.statusCode, res.body).toBeLessThan(300);
};
const patch = (body: unknown) => send('PATCH', `${E}/${encodeURIComponent(ID)}/attrs`, body);

describe('water class from the change feed', () => {
  it('classes the latest value of each item and follows readings and the water body', async () => {
    await send('POST', E, {
      id: ID,
      type: 'WaterQualityObserved',
      pH: { type: 'Property', value: 7.6, observedAt: AT },
      O2: mgl(6.5),
      NH4: mgl(0.8),
      'P-TOT': mgl(0.15),
      permanganateIndex: mgl(4.5),
      // Phosphate is not total phosphorus: not read
      PO4: mgl(3),
      temperature: { type: 'Property', value: 12, observedAt: AT },
    });
    // DO 6.5 → II; CODMn 4.5 → III; NH3-N 0.8 → III; TP 0.15 → III (river, the default)
    await classIs('III');
    const s = await station();
    expect(s.waterQualityClass).toMatchObject({ value: 'III', observedAt: '2026-12-07T08:00:00.000Z' });
    expect(s.waterQualityClassDetails?.json).toEqual({
      standard: 'GB 3838-2002',
      basis: 'latest value of each item',
      waterBody: 'river',
      waterBodySource: 'default',
      class: 'III',
      classNumber: 3,
      label: { zh: 'III类', en: 'Class III' },
      decisive: ['permanganateIndex', 'ammoniaNitrogen', 'totalPhosphorus'],
      items: {
        pH: {
          value: 7.6,
          class: 'I',
          classNumber: 1,
          limit: [6, 9],
          kind: 'range',
          attribute: 'pH',
          observedAt: '2026-12-07T08:00:00.000Z',
        },
        dissolvedOxygen: {
          value: 6.5,
          class: 'II',
          classNumber: 2,
          limit: 6,
          kind: 'min',
          attribute: 'O2',
          observedAt: '2026-12-07T08:00:00.000Z',
        },
        permanganateIndex: {
          value: 4.5,
          class: 'III',
          classNumber: 3,
          limit: 6,
          kind: 'max',
          attribute: 'permanganateIndex',
          observedAt: '2026-12-07T08:00:00.000Z',
        },
        ammoniaNitrogen: {
          value: 0.8,
          class: 'III',
          classNumber: 3,
          limit: 1,
          kind: 'max',
          attribute: 'NH4',
          observedAt: '2026-12-07T08:00:00.000Z',
        },
        totalPhosphorus: {
          value: 0.15,
          class: 'III',
          classNumber: 3,
          limit: 0.2,
          kind: 'max',
          attribute: 'P-TOT',
          observedAt: '2026-12-07T08:00:00.000Z',
        },
      },
      notAssessed: [],
    });

    // A lake: TP 0.15 is class V by the lake limits (0.1 < 0.15 ≤ 0.2).
    await patch({ waterBody: { type: 'Property', value: 'lake' } });
    await classIs('V');
    expect((await station()).waterQualityClassDetails?.json).toMatchObject({
      waterBody: 'lake',
      waterBodySource: 'entity',
      decisive: ['totalPhosphorus'],
    });

    // A new NH3-N reading beyond class V (2.0): 劣V, observed at the newest reading.
    await patch({ NH4: mgl(2.3, '2026-12-07T12:00:00Z'), O2: { ...mgl(90), unitCode: 'P1' } });
    await classIs('劣V');
    const worse = await station();
    expect(worse.waterQualityClass?.observedAt).toBe('2026-12-07T12:00:00.000Z');
    expect(worse.waterQualityClassDetails?.json).toMatchObject({
      classNumber: 6,
      label: { zh: '劣V类', en: 'Worse than Class V' },
      decisive: ['ammoniaNitrogen'],
    });
    // DO in percent saturation is not a mg/L reading: left out
    expect(worse.waterQualityClassDetails?.json?.items).not.toHaveProperty('dissolvedOxygen');

    // The class's history: one instance per result, details alongside.
    const t = json<Record<string, { value?: string }[]>>(
      await hub.request({
        url: `/ngsi-ld/v1/temporal/entities/${encodeURIComponent(ID)}?attrs=waterQualityClass,waterQualityClassDetails`,
        headers: link(WQ_CONTEXT),
      }),
    );
    // (III and V share the observedAt of 08:00: the water body changed, not the readings.)
    const classes = t.waterQualityClass?.map((i) => i.value) ?? [];
    expect(classes).toHaveLength(3);
    expect(classes[2]).toBe('劣V');
    expect(classes.slice(0, 2).sort()).toEqual(['III', 'V']);
    expect(t.waterQualityClassDetails).toHaveLength(3);
  });

  it('does not come back to its own writes, and ignores changes that touch no item', async () => {
    const count = async () =>
      Number(
        (await hub.pool.query('SELECT count(*) FROM change_feed_changes WHERE entity_id = $1', [ID])).rows[0]
          .count,
      );
    await patch({ temperature: { type: 'Property', value: 13, observedAt: '2026-12-07T12:30:00Z' } });
    await until('the consumer caught up', async () =>
      (await hub.store.feed.consumers()).some(
        (c) => c.name === 'environment.water-class' && c.lagChanges === 0,
      ),
    );
    const settled = await count();
    await new Promise((r) => setTimeout(r, 800));
    expect(await count()).toBe(settled);
    // The same change handled again: the result is already written, nothing is.
    const again = waterClassConsumer({
      getEntity: (t, id) => hub.store.getEntity(t, id),
      merge: () => Promise.reject(new Error('wrote again')),
      coreContext: () => Promise.reject(new Error('wrote again')),
    });
    await again.handle([
      {
        position: '0.0',
        tenant: '',
        id: ID,
        kind: 'updated',
        types: ['https://smartdatamodels.org/dataModel.WaterQuality/WaterQualityObserved'],
        attributes: ['https://smartdatamodels.org/dataModel.WaterQuality/NH4'],
        at: '',
      },
    ]);
    expect((await station()).waterQualityClass?.value).toBe('劣V');
  });
});
