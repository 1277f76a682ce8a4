/**
 * GB 3838-2002 Table 1 classes, worked by hand: both sides of every limit of every item (a value on
 * the limit is in the class, DO "at least"), TP for rivers and for lakes, TN for lakes only, and the
 * worst item deciding the sample's class.
 */
import { describe, expect, it } from 'vitest';
import { itemClass, waterClass, type WaterBody, type WaterItem } from '../../src/environment/water-class.js';

const cls = (item: WaterItem, value: number, body: WaterBody = 'river') => itemClass(item, value, body).class;

describe('each item against its limits (GB 3838-2002 Table 1)', () => {
  // [item, water body, value, class]: on each limit, then just beyond it.
  const cases: [WaterItem, WaterBody, number, string][] = [
    ['permanganateIndex', 'river', 2, 'I'],
    ['permanganateIndex', 'river', 2.01, 'II'],
    ['permanganateIndex', 'river', 4, 'II'],
    ['permanganateIndex', 'river', 4.01, 'III'],
    ['permanganateIndex', 'river', 6, 'III'],
    ['permanganateIndex', 'river', 6.01, 'IV'],
    ['permanganateIndex', 'river', 10, 'IV'],
    ['permanganateIndex', 'river', 10.01, 'V'],
    ['permanganateIndex', 'river', 15, 'V'],
    ['permanganateIndex', 'river', 15.01, '劣V'],
    // COD: I and II share 15, the better class is given
    ['cod', 'river', 0, 'I'],
    ['cod', 'river', 15, 'I'],
    ['cod', 'river', 15.1, 'III'],
    ['cod', 'river', 20, 'III'],
    ['cod', 'river', 20.1, 'IV'],
    ['cod', 'river', 30, 'IV'],
    ['cod', 'river', 30.1, 'V'],
    ['cod', 'river', 40, 'V'],
    ['cod', 'river', 40.1, '劣V'],
    // BOD5: I and II share 3
    ['bod5', 'river', 3, 'I'],
    ['bod5', 'river', 3.1, 'III'],
    ['bod5', 'river', 4, 'III'],
    ['bod5', 'river', 4.1, 'IV'],
    ['bod5', 'river', 6, 'IV'],
    ['bod5', 'river', 6.1, 'V'],
    ['bod5', 'river', 10, 'V'],
    ['bod5', 'river', 10.1, '劣V'],
    ['ammoniaNitrogen', 'river', 0.15, 'I'],
    ['ammoniaNitrogen', 'river', 0.151, 'II'],
    ['ammoniaNitrogen', 'river', 0.5, 'II'],
    ['ammoniaNitrogen', 'river', 0.501, 'III'],
    ['ammoniaNitrogen', 'river', 1.0, 'III'],
    ['ammoniaNitrogen', 'river', 1.001, 'IV'],
    ['ammoniaNitrogen', 'river', 1.5, 'IV'],
    ['ammoniaNitrogen', 'river', 1.501, 'V'],
    ['ammoniaNitrogen', 'river', 2.0, 'V'],
    ['ammoniaNitrogen', 'river', 2.001, '劣V'],
    // TP, rivers: 0.02 / 0.1 / 0.2 / 0.3 / 0.4
    ['totalPhosphorus', 'river', 0.02, 'I'],
    ['totalPhosphorus', 'river', 0.021, 'II'],
    ['totalPhosphorus', 'river', 0.1, 'II'],
    ['totalPhosphorus', 'river', 0.101, 'III'],
    ['totalPhosphorus', 'river', 0.2, 'III'],
    ['totalPhosphorus', 'river', 0.201, 'IV'],
    ['totalPhosphorus', 'river', 0.3, 'IV'],
    ['totalPhosphorus', 'river', 0.301, 'V'],
    ['totalPhosphorus', 'river', 0.4, 'V'],
    ['totalPhosphorus', 'river', 0.401, '劣V'],
    // TP, lakes and reservoirs: 0.01 / 0.025 / 0.05 / 0.1 / 0.2
    ['totalPhosphorus', 'lake', 0.01, 'I'],
    ['totalPhosphorus', 'lake', 0.011, 'II'],
    ['totalPhosphorus', 'lake', 0.025, 'II'],
    ['totalPhosphorus', 'lake', 0.026, 'III'],
    ['totalPhosphorus', 'lake', 0.05, 'III'],
    ['totalPhosphorus', 'lake', 0.051, 'IV'],
    ['totalPhosphorus', 'lake', 0.1, 'IV'],
    ['totalPhosphorus', 'lake', 0.101, 'V'],
    ['totalPhosphorus', 'lake', 0.2, 'V'],
    ['totalPhosphorus', 'lake', 0.201, '劣V'],
    ['totalNitrogen', 'lake', 0.2, 'I'],
    ['totalNitrogen', 'lake', 0.201, 'II'],
    ['totalNitrogen', 'lake', 0.5, 'II'],
    ['totalNitrogen', 'lake', 0.501, 'III'],
    ['totalNitrogen', 'lake', 1.0, 'III'],
    ['totalNitrogen', 'lake', 1.001, 'IV'],
    ['totalNitrogen', 'lake', 1.5, 'IV'],
    ['totalNitrogen', 'lake', 1.501, 'V'],
    ['totalNitrogen', 'lake', 2.0, 'V'],
    ['totalNitrogen', 'lake', 2.001, '劣V'],
    // DO, higher is better: ≥ 7.5 / 6 / 5 / 3 / 2
    ['dissolvedOxygen', 'river', 9, 'I'],
    ['dissolvedOxygen', 'river', 7.5, 'I'],
    ['dissolvedOxygen', 'river', 7.49, 'II'],
    ['dissolvedOxygen', 'river', 6, 'II'],
    ['dissolvedOxygen', 'river', 5.99, 'III'],
    ['dissolvedOxygen', 'river', 5, 'III'],
    ['dissolvedOxygen', 'river', 4.99, 'IV'],
    ['dissolvedOxygen', 'river', 3, 'IV'],
    ['dissolvedOxygen', 'river', 2.99, 'V'],
    ['dissolvedOxygen', 'river', 2, 'V'],
    ['dissolvedOxygen', 'river', 1.99, '劣V'],
    ['dissolvedOxygen', 'lake', 0, '劣V'],
    // pH 6–9 for all classes
    ['pH', 'river', 5.99, '劣V'],
    ['pH', 'river', 6, 'I'],
    ['pH', 'river', 9, 'I'],
    ['pH', 'river', 9.01, '劣V'],
  ];
  it.each(cases)('%s (%s) %d → %s', (item, body, value, expected) => {
    expect(cls(item, value, body)).toBe(expected);
  });

  it('gives the limit met, or the class V limit passed', () => {
    expect(itemClass('ammoniaNitrogen', 0.8, 'river')).toEqual({
      value: 0.8,
      class: 'III',
      classNumber: 3,
      limit: 1.0,
      kind: 'max',
    });
    expect(itemClass('dissolvedOxygen', 1.5, 'river')).toMatchObject({ class: '劣V', limit: 2, kind: 'min' });
    expect(itemClass('pH', 7, 'lake')).toMatchObject({ limit: [6, 9], kind: 'range' });
  });
});

describe('the class of a sample', () => {
  it('is the worst of its items, with the items that decide it', () => {
    const r = waterClass(
      { pH: 7.6, dissolvedOxygen: 6.5, permanganateIndex: 4.5, ammoniaNitrogen: 0.8, totalPhosphorus: 0.15 },
      { waterBody: 'river' },
    );
    // DO 6.5 → II; CODMn 4.5 → III; NH3-N 0.8 → III; TP 0.15 → III (river)
    expect(r.class).toBe('III');
    expect(r.classNumber).toBe(3);
    expect(r.label).toEqual({ zh: 'III类', en: 'Class III' });
    expect(r.decisive).toEqual(['permanganateIndex', 'ammoniaNitrogen', 'totalPhosphorus']);
    expect(r.items.dissolvedOxygen?.class).toBe('II');
    expect(r.items.pH?.class).toBe('I');
  });

  it('reads TP by the lake limits in a lake and assesses TN there only', () => {
    const sample = { dissolvedOxygen: 8, totalPhosphorus: 0.15, totalNitrogen: 2.5 };
    const lake = waterClass(sample, { waterBody: 'lake' });
    // TP 0.15 > 0.1 → V (lake); TN 2.5 > 2.0 → 劣V
    expect(lake.items.totalPhosphorus?.class).toBe('V');
    expect(lake).toMatchObject({
      class: '劣V',
      classNumber: 6,
      decisive: ['totalNitrogen'],
      notAssessed: [],
    });
    expect(lake.label).toEqual({ zh: '劣V类', en: 'Worse than Class V' });
    const river = waterClass(sample, { waterBody: 'river' });
    expect(river).toMatchObject({
      class: 'III',
      decisive: ['totalPhosphorus'],
      notAssessed: ['totalNitrogen'],
    });
    expect(river.items.totalNitrogen).toBeUndefined();
  });

  it('is class I when every item is', () => {
    expect(waterClass({ pH: 7, dissolvedOxygen: 8 }, { waterBody: 'river' })).toMatchObject({
      class: 'I',
      decisive: ['pH', 'dissolvedOxygen'],
    });
  });

  it('needs an item it can assess', () => {
    expect(() => waterClass({}, { waterBody: 'river' })).toThrow(RangeError);
    expect(() => waterClass({ totalNitrogen: 1 }, { waterBody: 'river' })).toThrow(RangeError);
  });
});
