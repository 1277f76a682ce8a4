import { describe, expect, it } from 'vitest';
import { SENSOR_KINDS, distanceM, kindCounts, planCity } from '../../src/sim/city-plan.js';
import { KIND_MODELS, daylight, entityIdOf, readingOf, trafficDemand } from '../../src/sim/sensor-models.js';
import { createRandom } from '../../src/sim/random.js';
import { loadAirReplay } from '../../src/sim/air-replay.js';

const inside = (ring: [number, number][], [x, y]: [number, number]) => {
  let c = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i] as [number, number];
    const [xj, yj] = ring[j] as [number, number];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) c = !c;
  }
  return c;
};

describe('the demo city plan', () => {
  it('is the same for the same seed and different for another', () => {
    const a = planCity(7, 300);
    const b = planCity(7, 300);
    const c = planCity(8, 300);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(JSON.stringify(a.sensors.map((s) => s.location))).not.toBe(
      JSON.stringify(c.sensors.map((s) => s.location)),
    );
  });

  it('has nine districts tiling the city and a connected road grid with an expressway ring', () => {
    const plan = planCity(1, 0);
    expect(plan.districts).toHaveLength(9);
    expect(new Set(plan.districts.map((d) => d.name)).size).toBe(9);
    for (const d of plan.districts) expect(d.ring[0]).toEqual(d.ring[d.ring.length - 1]);
    const classes = new Set(plan.segments.map((s) => s.roadClass));
    expect(classes).toEqual(new Set(['expressway', 'arterial', 'street']));
    expect(new Set(plan.segments.map((s) => s.id)).size).toBe(plan.segments.length);
    for (const s of plan.segments) expect(s.lengthM).toBeGreaterThan(300);
    // Consecutive grid segments of one road share their end points.
    const jinshui = plan.segments.filter((s) => s.nameEn === 'Jinshui Rd');
    expect(jinshui.length).toBeGreaterThan(20);
    for (let i = 1; i < jinshui.length; i++)
      expect(jinshui[i]?.coordinates[0]).toEqual(jinshui[i - 1]?.coordinates[1]);
  });

  it('places every kind of sensor inside the city and in the district it names', () => {
    const plan = planCity(3, 2000);
    expect(plan.sensors).toHaveLength(2000);
    expect(new Set(plan.sensors.map((s) => s.deviceId)).size).toBe(2000);
    expect(new Set(plan.sensors.map((s) => s.kind))).toEqual(new Set(SENSOR_KINDS));
    const byId = new Map(plan.districts.map((d) => [d.id, d]));
    let outside = 0;
    for (const s of plan.sensors) {
      const d = byId.get(s.district);
      expect(d, s.deviceId).toBeDefined();
      const containing = plan.districts.find((x) => inside(x.ring, s.location));
      if (containing) expect(containing.id, s.deviceId).toBe(s.district);
      else outside++;
      expect(distanceM(s.location, plan.center)).toBeLessThan(13_000);
    }
    // Only sensors on the city's outer roads (the 3rd ring) sit on its edge, half of them just outside.
    expect(outside / plan.sensors.length).toBeLessThan(0.06);
    const traffic = plan.sensors.filter((s) => s.kind === 'traffic');
    const segments = new Set(plan.segments.map((s) => s.id));
    for (const s of traffic) expect(segments.has(s.segment ?? '')).toBe(true);
  });

  it('shares sensors among kinds, at least one each when there are enough, and scales to 100,000', () => {
    expect(Object.values(kindCounts(8))).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    expect(Object.values(kindCounts(3)).reduce((a, b) => a + b, 0)).toBe(3);
    for (const n of [0, 9, 500, 12_345])
      expect(Object.values(kindCounts(n)).reduce((a, b) => a + b, 0)).toBe(n);
    const big = planCity(5, 100_000);
    expect(big.sensors).toHaveLength(100_000);
    expect(new Set(big.sensors.map((s) => entityIdOf(s))).size).toBe(100_000);
    expect(() => planCity(5, 100_001)).toThrow(RangeError);
    expect(() => planCity(5, 1.5)).toThrow(RangeError);
  });
});

describe('the sensor models', () => {
  const plan = planCity(11, 200);
  const segments = new Map(plan.segments.map((s) => [s.id, s]));
  const at = (iso: string) => new Date(iso);
  const ctx = (date: Date, effects = { speedFactor: () => 1, pollutionFactor: () => 1 }) => ({
    at: date,
    elapsedH: 0.01,
    rng: createRandom(1),
    effects,
    plan,
    segments,
    ordinal: 0,
  });
  const detector = plan.sensors.find(
    (s) => s.kind === 'traffic' && segments.get(s.segment ?? '')?.roadClass === 'arterial',
  );

  it('has rush hours: more traffic and slower at 08:00 than at 03:00 on a weekday', () => {
    expect(trafficDemand(8, false)).toBeGreaterThan(0.9);
    expect(trafficDemand(3, false)).toBeLessThan(0.15);
    if (!detector) throw new Error('no arterial detector');
    // 2026-12-02 is a Wednesday; the city runs on UTC+8.
    const rush = readingOf(detector, {}, ctx(at('2026-12-02T00:00:00Z')));
    const night = readingOf(detector, {}, ctx(at('2026-12-01T19:00:00Z')));
    expect(rush.q as number).toBeGreaterThan((night.q as number) * 3);
    expect(rush.v as number).toBeLessThan(night.v as number);
  });

  it('slows a jammed segment to a crawl and marks it congested', () => {
    if (!detector) throw new Error('no arterial detector');
    const jam = readingOf(
      detector,
      {},
      ctx(at('2026-12-02T06:00:00Z'), { speedFactor: () => 0.15, pollutionFactor: () => 1 }),
    );
    expect(jam.v as number).toBeLessThan(15);
    expect(jam.cg).toBe(true);
  });

  it('lights streetlights at night only, and dims them after midnight', () => {
    const light = plan.sensors.find((s) => s.kind === 'streetlight');
    if (!light) throw new Error('no streetlight');
    const { sunrise, sunset } = daylight(336);
    expect(sunset).toBeGreaterThan(17);
    expect(sunrise).toBeLessThan(7.5);
    expect(readingOf(light, {}, ctx(at('2026-12-02T04:00:00Z'))).ps).toBe('off'); // 12:00 local
    expect(readingOf(light, {}, ctx(at('2026-12-02T12:00:00Z')))).toMatchObject({ ps: 'on', lvl: 1 }); // 20:00
    expect(readingOf(light, {}, ctx(at('2026-12-02T19:00:00Z')))).toMatchObject({ ps: 'on', lvl: 0.5 }); // 03:00
  });

  it('maps every measure a model produces to an attribute of its config group', () => {
    for (const kind of SENSOR_KINDS) {
      const s = plan.sensors.find((x) => x.kind === kind);
      if (!s) throw new Error(`no ${kind}`);
      const ids = new Set(KIND_MODELS[kind].attributes.map((a) => a.object_id));
      for (const k of Object.keys(readingOf(s, {}, ctx(at('2026-12-02T02:00:00Z')))))
        expect(ids.has(k), `${kind}.${k}`).toBe(true);
    }
  });

  it('replays the real Beijing hours, time-shifted to the same month, day and hour', async () => {
    const air = await loadAirReplay();
    expect(air.sites).toEqual(['Aotizhongxin', 'Dongsi']);
    // Station 0 reads Aotizhongxin in 2016: 2026-12-02 14:00 UTC+8 is the data set's row
    // `32943,2016,12,2,14,46,48,17,57,1000,34,10.6,1023.4,-8.7,0,"SSE",1.4,"Aotizhongxin"`.
    const r = air.reading(0, new Date('2026-12-02T06:00:00Z'));
    expect(r).toMatchObject({ pm25: 46, pm10: 48, so2: 17, no2: 57, co: 1000, o3: 34, temperature: 10.6 });
    expect(r.windDirection).toBe(157.5);
    const again = air.reading(0, new Date('2026-12-02T06:00:00Z'));
    expect(again).toEqual(r);
    // Two stations of different sites differ.
    expect(air.reading(1, new Date('2026-12-02T06:00:00Z'))).not.toEqual(r);
  });
});
