/**
 * History storage: rollups agree with aggregation over the raw points (also after instances are
 * changed or deleted), retention drops expired partitions and bulk-deletes narrower expiries,
 * reads leave out what a policy has expired before the job deletes it, and back-filled rows are
 * filed from the default partition into their month.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JSON_CT, createTestHub, json } from '../support/test-hub.js';
import type { TestHub } from '../support/test-hub.js';
import type { AggregateRow, InstanceSelection } from '../../src/core/history-store.js';
import type { AggrMethod } from '../../src/core/temporal/temporal-query.js';

const T = '/ngsi-ld/v1/temporal/entities';
const NS = 'https://uri.etsi.org/ngsi-ld/default-context/';
let hub: TestHub;

beforeAll(async () => {
  hub = await createTestHub();
});
afterAll(async () => {
  await hub.close();
});

/** n points every `stepS` seconds from `start`, values from a fixed sequence (repeatable). */
function points(start: number, n: number, stepS: number) {
  return Array.from({ length: n }, (_, i) => ({
    type: 'Property',
    value: ((i * 37) % 101) - 20 + (i % 3) * 0.25,
    observedAt: new Date(start + i * stepS * 1000).toISOString(),
  }));
}

const byKey = (rows: AggregateRow[]) =>
  Object.fromEntries(rows.map((r) => [`${r.entityId}|${r.attr}|${r.period}`, r]));

describe('rollups', () => {
  const id = 'urn:ngsi-ld:Sensor:roll1';
  const start = Date.UTC(2026, 0, 1, 0, 0, 0);
  const methods: AggrMethod[] = ['totalCount', 'sum', 'avg', 'min', 'max', 'sumsq', 'stddev'];
  const sel: InstanceSelection = { timeproperty: 'observedAt', attrs: [`${NS}temp`] };

  beforeAll(async () => {
    const r = await hub.request({
      method: 'POST',
      url: T,
      headers: JSON_CT,
      payload: { id, type: 'Sensor', temp: points(start + 7_000, 600, 37) },
    });
    expect(r.statusCode).toBe(201);
  });

  const compare = async (bounds: number[], grain: 'hour' | 'minute') => {
    const raw = byKey(await hub.store.history.aggregate('', [id], sel, bounds, methods));
    const rolled = byKey(await hub.store.history.aggregate('', [id], sel, bounds, methods, grain));
    expect(Object.keys(rolled).sort()).toEqual(Object.keys(raw).sort());
    expect(Object.keys(raw).length).toBeGreaterThan(1);
    for (const [k, r] of Object.entries(raw)) {
      const o = rolled[k] as AggregateRow;
      expect(o.count).toBe(r.count);
      expect(o.numCount).toBe(r.numCount);
      expect(o.sum).toBeCloseTo(r.sum, 6);
      expect(o.sumsq).toBeCloseTo(r.sumsq, 4);
      expect(o.min).toBe(r.min);
      expect(o.max).toBe(r.max);
    }
  };

  it('per hour and per minute agree with the raw points', async () => {
    const hours = Array.from({ length: 8 }, (_, i) => start + i * 3_600_000);
    await compare(hours, 'hour');
    const tenMinutes = Array.from({ length: 40 }, (_, i) => start + i * 600_000);
    await compare(tenMinutes, 'minute');
  });

  it('stay in step when instances are replaced, modified and deleted', async () => {
    // Same observedAt again: replaces the held instance.
    const again = points(start + 7_000, 3, 37).map((p) => ({ ...p, value: 1000 }));
    await hub.request({
      method: 'POST',
      url: `${T}/${id}/attrs`,
      headers: JSON_CT,
      payload: { temp: again },
    });
    const list = json<{ temp: { instanceId: string }[] }>(
      await hub.request({ method: 'GET', url: `${T}/${id}?lastN=5` }),
    ).temp;
    const [a, b] = list;
    await hub.request({
      method: 'PATCH',
      url: `${T}/${id}/attrs/temp/${a?.instanceId}`,
      headers: JSON_CT,
      payload: { value: -500 },
    });
    await hub.request({ method: 'DELETE', url: `${T}/${id}/attrs/temp/${b?.instanceId}` });
    await compare(
      Array.from({ length: 8 }, (_, i) => start + i * 3_600_000),
      'hour',
    );
  });

  it('serve aggregation queries: the API answer equals the raw aggregation', async () => {
    const url = `${T}/${id}?options=aggregatedValues&aggrMethods=sum,max&aggrPeriodDuration=PT1H&timerel=between&timeAt=2026-01-01T00:00:00Z&endTimeAt=2026-01-01T08:00:00Z`;
    const r = await hub.request({ method: 'GET', url });
    expect(r.statusCode, r.body).toBe(200);
    const body = json<{ temp: { sum: [number, string, string][]; max: [number, string, string][] } }>(r);
    const raw = await hub.store.history.aggregate(
      '',
      [id],
      sel,
      Array.from({ length: 9 }, (_, i) => start + i * 3_600_000),
      ['sum', 'max'],
    );
    const sums = raw.sort((x, y) => x.period - y.period).map((x) => x.sum);
    expect(body.temp.sum.map((s) => s[0])).toHaveLength(sums.length);
    body.temp.sum.forEach((s, i) => expect(s[0]).toBeCloseTo(sums[i] as number, 6));
    const stats = await hub.store.history.maintenance.rollupStats();
    expect(stats.find((s) => s.grain === 'hour')?.rows).toBeGreaterThan(0);
    // A rebuild from scratch gives the same rollups.
    const before = await hub.store.history.aggregate(
      '',
      [id],
      sel,
      [start, start + 8 * 3_600_000],
      methods,
      'hour',
    );
    await hub.store.history.maintenance.rebuildRollups();
    const after = await hub.store.history.aggregate(
      '',
      [id],
      sel,
      [start, start + 8 * 3_600_000],
      methods,
      'hour',
    );
    expect(after).toEqual(before);
  });
});

describe('partitions and retention', () => {
  it('files back-filled rows into their month and drops expired partitions', async () => {
    const old = 'urn:ngsi-ld:Sensor:old';
    const r = await hub.request({
      method: 'POST',
      url: T,
      headers: JSON_CT,
      payload: { id: old, type: 'Sensor', temp: points(Date.UTC(2020, 7, 1), 10, 60) },
    });
    expect(r.statusCode).toBe(201);
    const m = hub.store.history.maintenance;
    const now = new Date(Date.UTC(2026, 5, 15));
    const created = await m.ensurePartitions(now, 1, 2);
    expect(created).toContain('attribute_history_p2020_08');
    expect(created).toContain('attribute_history_p2026_08');
    const parts = await m.listPartitions();
    expect(parts.find((p) => p.name === 'attribute_history_p2020_08')?.rows).toBe(10);
    expect(parts.find((p) => p.name === 'attribute_history_default')?.rows).toBe(0);

    await m.setRetention({
      tenant: '*',
      entityType: '*',
      attr: '*',
      keep: 'P365D',
      keepSeconds: 365 * 86_400,
    });
    const res = await m.applyRetention(now);
    expect(res.droppedPartitions).toContain('attribute_history_p2020_08');
    const after = json<{ temp?: unknown[] }>(await hub.request({ method: 'GET', url: `${T}/${old}` }));
    expect(after.temp).toBeUndefined();
    // The 2026 rollup series survives; only what the policy expired is gone.
    expect((await m.listPartitions()).some((p) => p.name === 'attribute_history_p2026_01')).toBe(true);
    expect(await m.removeRetention('*', '*', '*')).toBe(true);
  });

  it('a narrower policy hides its expired rows at once, and the job deletes only those', async () => {
    const m = hub.store.history.maintenance;
    const a = 'urn:ngsi-ld:Meter:a';
    const b = 'urn:ngsi-ld:Other:b';
    const DAY = 86_400_000;
    // Days -4.5 .. -0.5 from now: with a 2-day policy the first three are expired.
    const start = Date.now() - 4.5 * DAY;
    for (const [id, type] of [
      [a, 'Meter'],
      [b, 'Other'],
    ] as const) {
      const r = await hub.request({
        method: 'POST',
        url: T,
        headers: JSON_CT,
        payload: { id, type, temp: points(start, 5, 86_400) },
      });
      expect(r.statusCode).toBe(201);
    }
    const policy = { tenant: '', entityType: `${NS}Meter`, attr: '*', keep: 'P2D', keepSeconds: 2 * 86_400 };
    const left = (id: string) =>
      hub
        .request({ method: 'GET', url: `${T}/${id}` })
        .then((r) => (json<{ temp?: unknown[] }>(r).temp ?? []).length);
    // Hour-aligned bounds would use the rollups, which cannot leave out expired rows: raw it is.
    const from = Math.floor((start - DAY) / 3_600_000) * 3_600_000;
    const counted = async (id: string) => {
      const url = `${T}/${id}?options=aggregatedValues&aggrMethods=totalCount&aggrPeriodDuration=P1D&timerel=between&timeAt=${new Date(from).toISOString()}&endTimeAt=${new Date(from + 7 * DAY).toISOString()}`;
      const body = json<{ temp: { totalCount: [number, string, string][] } }>(
        await hub.request({ method: 'GET', url }),
      );
      return body.temp.totalCount.reduce((n, p) => n + p[0], 0);
    };

    await m.setRetention(policy);
    // Before the job runs, reads already leave the expired rows out; other types keep theirs.
    expect(await left(a)).toBe(2);
    expect(await counted(a)).toBe(2);
    expect(await left(b)).toBe(5);
    expect(await counted(b)).toBe(5);
    // Hidden, not deleted: without the policy they are back.
    expect(await m.removeRetention('', `${NS}Meter`, '*')).toBe(true);
    expect(await left(a)).toBe(5);

    await m.setRetention(policy);
    const res = await m.applyRetention(new Date());
    expect(res.deletedRows).toBe(3);
    expect(await m.removeRetention('', `${NS}Meter`, '*')).toBe(true);
    expect(await left(a)).toBe(2);
    expect(await counted(a)).toBe(2);
    expect(await left(b)).toBe(5);
  });
});
