/**
 * GB/T 33171-2016: delay time proportion, the Appendix C table (both ends of every band, linear
 * inside), and the network index weighted by vehicle-kilometres, worked by hand.
 */
import { describe, expect, it } from 'vitest';
import { delayTimeProportion, levelName, linkTpi, networkTpi, tpiOfDtp } from '../../src/transport/tpi.js';

describe('delay time proportion (GB/T 33171-2016 §7.2.2.2)', () => {
  it('is 1 − v / v_free', () => {
    expect(delayTimeProportion(40, 50)).toBe(0.2);
    expect(delayTimeProportion(0, 50)).toBe(1);
    expect(delayTimeProportion(50, 50)).toBe(0);
  });
  it('caps a speed above free flow at DTP 0 rather than refusing it', () => {
    expect(delayTimeProportion(65, 50)).toBe(0);
  });
  it('settles float noise on a band edge: 70 of 100 km/h is DTP 0.3 exactly', () => {
    expect(delayTimeProportion(70, 100)).toBe(0.3);
    expect(linkTpi(70, 100)).toMatchObject({ tpi: 2, level: 2 });
  });
  it('refuses a free-flow speed of 0 or less and a negative speed', () => {
    expect(() => delayTimeProportion(10, 0)).toThrow(RangeError);
    expect(() => delayTimeProportion(-1, 50)).toThrow(RangeError);
  });
});

describe('DTP → TPI and level (GB/T 33171-2016 Appendix C)', () => {
  // [DTP, TPI, level]: each band's lower edge, middle and last value below the next edge.
  const cases: [number, number, number][] = [
    [0, 0, 1],
    [0.15, 1, 1], // 2 × 0.15 / 0.3
    [0.2999, 1.99, 1], // 1.9993 rounded down: never shows level 2's TPI
    [0.3, 2, 2],
    [0.4, 3, 2], // 2 + 2 × 0.1 / 0.2
    [0.4999, 3.99, 2], // 3.999
    [0.5, 4, 3],
    [0.55, 5, 3], // 4 + 2 × 0.05 / 0.1
    [0.5999, 5.99, 3], // 5.998
    [0.6, 6, 4],
    [0.65, 7, 4],
    [0.6999, 7.99, 4], // 7.998
    [0.7, 8, 5],
    [0.85, 9, 5], // 8 + 2 × 0.15 / 0.3
    [1, 10, 5],
  ];
  it.each(cases)('DTP %s → TPI %s, level %s', (dtp, tpi, level) => {
    expect(tpiOfDtp(dtp)).toMatchObject({ tpi, level });
  });
  it('reads speeds: 35 of 50 km/h is DTP 0.3 (level 2), 15 of 50 is 0.7 (level 5)', () => {
    expect(linkTpi(35, 50)).toMatchObject({ dtp: 0.3, tpi: 2, level: 2 });
    expect(linkTpi(25, 50)).toMatchObject({ dtp: 0.5, tpi: 4, level: 3 });
    expect(linkTpi(20, 50)).toMatchObject({ dtp: 0.6, tpi: 6, level: 4 });
    expect(linkTpi(15, 50)).toMatchObject({ dtp: 0.7, tpi: 8, level: 5 });
  });
  it('names the five levels in Chinese and English', () => {
    expect([1, 2, 3, 4, 5].map((l) => levelName(l as 1).zh)).toEqual([
      '畅通',
      '基本畅通',
      '轻度拥堵',
      '中度拥堵',
      '严重拥堵',
    ]);
    expect(levelName(5).en).toBe('Severely congested');
  });
});

describe('network TPI weighted by vehicle-kilometres', () => {
  it('is the TPI of the VKT-weighted DTP, not the mean of the links’ TPIs', () => {
    // A: DTP 0.2, 1000 veh × 2 km = 2000 VKT; B: DTP 0.8, 500 veh × 1 km = 500 VKT.
    // DTP = (0.2 × 2000 + 0.8 × 500) / 2500 = 0.32 → TPI 2 + 2 × 0.02 / 0.2 = 2.2, level 2.
    // (The weighted mean of the TPIs, 1.33 and 8.67, would be 2.8.)
    // Travel speed: 2500 km over 2000/40 + 500/10 = 100 h = 25 km/h.
    const n = networkTpi([
      { dtp: 0.2, vehicles: 1000, length: 2, speed: 40 },
      { dtp: 0.8, vehicles: 500, length: 1, speed: 10 },
    ]);
    expect(n).toMatchObject({ tpi: 2.2, level: 2, vehicleKilometres: 2500, weighting: 'vehicle-kilometres' });
    expect(n?.dtp).toBeCloseTo(0.32, 9);
    expect(n?.speed).toBeCloseTo(25, 9);
  });
  it('weights by length when no link carried a vehicle, equally without lengths', () => {
    // (0.2 × 3 + 0.8 × 1) / 4 = 0.35 → 2 + 2 × 0.05 / 0.2 = 2.5
    expect(
      networkTpi([
        { dtp: 0.2, vehicles: 0, length: 3 },
        { dtp: 0.8, vehicles: 0, length: 1 },
      ]),
    ).toMatchObject({ tpi: 2.5, weighting: 'length' });
    // (0.2 + 0.8) / 2 = 0.5 → 4
    expect(
      networkTpi([
        { dtp: 0.2, vehicles: 0, length: 0 },
        { dtp: 0.8, vehicles: 0, length: 0 },
      ]),
    ).toMatchObject({ tpi: 4, level: 3, weighting: 'equal' });
  });
  it('has no index for no link', () => {
    expect(networkTpi([])).toBeUndefined();
  });
});
