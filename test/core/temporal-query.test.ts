/** Pure temporal parsing: ISO 8601 durations, period bounds, timerel/aggregation parameters. */
import { describe, expect, it } from 'vitest';
import { addDuration, fixedMs, parseDuration, periodBounds } from '../../src/core/temporal/duration.js';
import {
  TemporalSyntaxError,
  formatInstant,
  parseTemporalSpec,
} from '../../src/core/temporal/temporal-query.js';

describe('parseDuration', () => {
  it.each([
    ['PT1H', 3_600_000],
    ['P1D', 86_400_000],
    ['P2W', 14 * 86_400_000],
    ['PT1M30S', 90_000],
    ['PT0.5S', 500],
  ])('%s is %d ms', (s, ms) => expect(fixedMs(parseDuration(s))).toBe(ms));

  it.each(['P', 'PT', '1H', 'PT1X', 'P1H', 'P0D', 'PT-1H', 'P1.5D', ''])('refuses %j', (s) => {
    expect(() => parseDuration(s)).toThrow();
  });

  it('adds months in calendar terms, clamping to the month end', () => {
    const jan31 = Date.UTC(2026, 0, 31);
    expect(new Date(addDuration(jan31, parseDuration('P1M'))).toISOString()).toBe('2026-02-28T00:00:00.000Z');
    const b = periodBounds(jan31, Date.UTC(2026, 3, 1), parseDuration('P1M'), 100);
    expect(b.map((x) => new Date(x).toISOString().slice(0, 10))).toEqual([
      '2026-01-31',
      '2026-02-28',
      '2026-03-31',
      '2026-04-30',
    ]);
  });

  it('caps the number of periods', () => {
    expect(() => periodBounds(0, 10_000_000, parseDuration('PT1S'), 100)).toThrow(RangeError);
  });
});

describe('parseTemporalSpec', () => {
  it('defaults to observedAt and the normalized representation', () => {
    expect(parseTemporalSpec({})).toEqual({
      timeproperty: 'observedAt',
      format: 'normalized',
      sysAttrs: false,
    });
  });

  it('reads between, lastN and aggregation', () => {
    const s = parseTemporalSpec({
      timerel: 'between',
      timeAt: '2020-01-01T00:00:00Z',
      endTimeAt: '2020-01-02T00:00:00Z',
      lastN: '5',
      options: ['aggregatedValues'],
      aggrMethods: 'sum,avg,sum',
      aggrPeriodDuration: 'PT1H',
    });
    expect(s.time).toEqual({
      timerel: 'between',
      timeAt: Date.UTC(2020, 0, 1),
      endTimeAt: Date.UTC(2020, 0, 2),
    });
    expect(s.aggrMethods).toEqual(['sum', 'avg']);
    expect(s.lastN).toBe(5);
  });

  it.each([
    [{ timerel: 'between', timeAt: '2020-01-02T00:00:00Z', endTimeAt: '2020-01-01T00:00:00Z' }, 'data'],
    [{ timeAt: '2020-01-01T00:00:00Z' }, 'data'],
    [{ timerel: 'before', timeAt: '2020-01-01T00:00:00Z', endTimeAt: '2020-01-02T00:00:00Z' }, 'data'],
    [{ options: ['aggregatedValues'], aggrMethods: 'avg,mode' }, 'data'],
    [{ options: ['aggregatedValues'], aggrMethods: 'avg', aggrPeriodDuration: 'PT1Y' }, 'data'],
    [{ options: ['bogus'] }, 'request'],
    [{ format: 'keyValues' }, 'request'],
  ] as const)('refuses %j (%s)', (input, kind) => {
    try {
      parseTemporalSpec({ ...input, options: 'options' in input ? [...input.options] : [] });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(TemporalSyntaxError);
      expect((err as TemporalSyntaxError).kind).toBe(kind);
    }
  });

  it('format wins over options', () => {
    expect(parseTemporalSpec({ format: 'temporalValues', options: ['aggregatedValues'] }).format).toBe(
      'temporalValues',
    );
  });

  it('formats instants without zero milliseconds', () => {
    expect(formatInstant(Date.UTC(2020, 7, 1, 12, 3))).toBe('2020-08-01T12:03:00Z');
    expect(formatInstant(Date.UTC(2020, 7, 1, 12, 3, 0, 5))).toBe('2020-08-01T12:03:00.005Z');
  });
});
