/**
 * Each noise sensor's GB 3096-2008 assessment follows its readings through the change feed: the
 * hour's and the period's equivalent levels (day 06–22, night 22–06 in city time, UTC+8), the
 * limit of its zone (class 2 by default) and the exceedance, written back as LAeqHourly,
 * LAeqDay/LAeqNight, noiseLimit, noiseExceedance and noiseAssessment (kept in history); the
 * module's own writes do not come back to it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHub, json, link, LD, type TestHub } from '../support/test-hub.js';
import { noiseConsumer } from '../../src/environment/noise-consumer.js';

const ENV_CONTEXT = 'https://smart-data-models.github.io/dataModel.Environment/context.jsonld';
const E = '/ngsi-ld/v1/entities';
const ID = 'urn:ngsi-ld:NoiseLevelObserved:noise-1';
let hub: TestHub;

async function until(what: string, ok: () => Promise<boolean>) {
  const end = Date.now() + 20_000;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  hub = await createTestHub();
  // A new consumer's cursor starts at the feed's end: the first reading must come after it.
  await until('the consumer holds its cursor', async () =>
    (await hub.store.feed.consumers()).some((c) => c.name === 'environment.noise'),
  );
});
afterAll(async () => {
  await hub?.close();
});

type Stored = Record<string, { value?: unknown; json?: Record<string, unknown>; observedAt?: string }>;
const sensor = async () =>
  json<Stored>(await hub.request({ url: `${E}/${encodeURIComponent(ID)}`, headers: link(ENV_CONTEXT) }));
const dB = (value: number, observedAt: string) => ({ type: 'Property', value, observedAt, unitCode: '2N' });

const send = async (method: 'POST' | 'PATCH', url: string, body: unknown) => {
  const res = await hub.request({
    method,
    url,
    headers: { 'content-type': LD },
    payload: JSON.stringify({ ...(body as object), '@context': ENV_CONTEXT }),
  });
  expect(res.statusCode, res.body).toBeLessThan(300);
};
const patch = (body: unknown) => send('PATCH', `${E}/${encodeURIComponent(ID)}/attrs`, body);
const hourlyIs = (v: number, at: string) =>
  until(`LAeqHourly ${v} at ${at}`, async () => {
    const h = (await sensor()).LAeqHourly;
    return h?.value === v && h.observedAt === at;
  });

describe('noise assessment from the change feed', () => {
  it('follows the hour and the day, then the night in the sensor zone', async () => {
    // 10:10 and 10:40 city time (UTC+8): day
    await send('POST', E, {
      id: ID,
      type: 'NoiseLevelObserved',
      LAeq: dB(60, '2026-12-07T02:10:00Z'),
      LAmax: dB(72, '2026-12-07T02:10:00Z'),
    });
    await patch({ LAeq: dB(70, '2026-12-07T02:40:00Z') });
    // 10·log10((10^6 + 10^7) / 2) = 67.4; zone 2 (the default) by day: 60
    await hourlyIs(67.4, '2026-12-07T02:40:00.000Z');
    let s = await sensor();
    expect(s.LAeqDay).toMatchObject({ value: 67.4, observedAt: '2026-12-07T02:40:00.000Z' });
    expect(s.noiseLimit?.value).toBe(60);
    expect(s.noiseExceedance?.value).toBe(7.4);
    expect(s.LAeqNight).toBeUndefined();
    expect(s.noiseAssessment?.json).toMatchObject({
      standard: 'GB 3096-2008',
      zone: '2',
      zoneSource: 'default',
      period: 'day',
      periodStart: '2026-12-06T22:00:00.000Z',
      periodEnd: '2026-12-07T14:00:00.000Z',
      hour: '2026-12-07T02:00:00.000Z',
      LAeqHourly: 67.4,
      LAeqPeriod: 67.4,
      limit: 60,
      exceedance: 7.4,
      exceeds: true,
      readings: 2,
      hours: { '2026-12-07T02:00:00.000Z': { LAeq: 67.4, readings: 2, LAmax: 72 } },
    });
    // By day the maximum level is not limited
    expect(s.noiseAssessment?.json).not.toHaveProperty('LAmax');

    // 11:05: a new hour; the day so far: (2·10^6.74 + 10^6.6) / 3 → 67.0
    await patch({ LAeq: dB(66, '2026-12-07T03:05:00Z') });
    await hourlyIs(66, '2026-12-07T03:05:00.000Z');
    s = await sensor();
    expect(s.LAeqDay?.value).toBe(67);
    expect(s.noiseExceedance?.value).toBe(7);
    expect(s.noiseAssessment?.json).toMatchObject({ hourlyExceedance: 6, readings: 3 });
    expect(Object.keys(s.noiseAssessment?.json?.hours ?? {})).toEqual([
      '2026-12-07T02:00:00.000Z',
      '2026-12-07T03:00:00.000Z',
    ]);

    // 12:10: a third hour; 10:00 now comes from the last assessment, not the history:
    // (2·10^6.74 + 10^6.6 + 10^6.2) / 4 → 66.2
    // (Taken out of the history to show it: the result is the same.)
    const gone = await hub.pool.query(
      `DELETE FROM attribute_history WHERE entity_id = $1 AND attr = $2 AND ts < $3`,
      [ID, 'https://smartdatamodels.org/dataModel.Environment/LAeq', '2026-12-07T03:00:00Z'],
    );
    expect(gone.rowCount).toBe(2);
    await patch({ LAeq: dB(62, '2026-12-07T04:10:00Z') });
    await hourlyIs(62, '2026-12-07T04:10:00.000Z');
    s = await sensor();
    expect(s.LAeqDay?.value).toBe(66.2);
    expect(s.noiseAssessment?.json).toMatchObject({ LAeqPeriod: 66.2, exceedance: 6.2, readings: 4 });

    // 23:00: night, beside an arterial road (zone 4a: 55 at night, LAmax at most 70)
    await patch({
      noiseZone: { type: 'Property', value: '4a' },
      LAeq: dB(58, '2026-12-07T15:00:00Z'),
      LAmax: dB(72, '2026-12-07T15:00:00Z'),
    });
    await hourlyIs(58, '2026-12-07T15:00:00.000Z');
    s = await sensor();
    expect(s.LAeqNight).toMatchObject({ value: 58, observedAt: '2026-12-07T15:00:00.000Z' });
    expect(s.LAeqDay?.value).toBe(66.2); // the day's final level stays
    expect(s.noiseLimit?.value).toBe(55);
    expect(s.noiseExceedance?.value).toBe(3);
    expect(s.noiseAssessment?.json).toMatchObject({
      zone: '4a',
      zoneSource: 'entity',
      period: 'night',
      periodStart: '2026-12-07T14:00:00.000Z',
      readings: 1,
      LAmax: { LAmax: 72, limit: 70, exceedance: 2, exceeds: true },
    });

    // Kept in history: one instance per result.
    const t = json<Record<string, { value?: number }[]>>(
      await hub.request({
        url: `/ngsi-ld/v1/temporal/entities/${encodeURIComponent(ID)}?attrs=LAeqHourly,noiseAssessment`,
        headers: link(ENV_CONTEXT),
      }),
    );
    const hourly = t.LAeqHourly?.map((i) => i.value) ?? [];
    expect(hourly.slice(-4)).toEqual([67.4, 66, 62, 58]);
    expect(hourly.length).toBeLessThanOrEqual(5); // 60 first, when the two readings came apart
    expect(t.noiseAssessment).toHaveLength(hourly.length);
  });

  it('does not come back to its own writes, and ignores changes that touch no level', async () => {
    const count = async () =>
      Number(
        (await hub.pool.query('SELECT count(*) FROM change_feed_changes WHERE entity_id = $1', [ID])).rows[0]
          .count,
      );
    await patch({ name: { type: 'Property', value: 'Road 1 noise' } });
    await until('the consumer caught up', async () =>
      (await hub.store.feed.consumers()).some((c) => c.name === 'environment.noise' && c.lagChanges === 0),
    );
    const settled = await count();
    await new Promise((r) => setTimeout(r, 800));
    expect(await count()).toBe(settled);
    // The same change handled again: the result is already written, nothing is.
    const again = noiseConsumer({
      history: hub.store.history,
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
        types: ['https://smartdatamodels.org/dataModel.Environment/NoiseLevelObserved'],
        attributes: ['https://smartdatamodels.org/dataModel.Environment/LAeq'],
        at: '',
      },
    ]);
    expect((await sensor()).LAeqNight?.value).toBe(58);
  });
});
