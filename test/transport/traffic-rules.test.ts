/**
 * The traffic rules that need no database: the DiDi free flow (the 4 fastest hours, once enough
 * hours exist) and how a segment combines its detectors.
 */
import { describe, expect, it } from 'vitest';
import { freeFlowFromHours } from '../../src/transport/traffic-free-flow.js';
import { combineReadings } from '../../src/transport/traffic-segments.js';

const hour = (mean: number, count = 60) => ({ sum: mean * count, count });

describe('free flow from hourly speeds (DiDi: the fastest cumulative 4 h)', () => {
  it('is the sample-weighted mean of the 4 fastest hours', () => {
    const hours = [
      ...Array.from({ length: 20 }, () => hour(30)),
      hour(70, 60),
      hour(72, 60),
      hour(74, 30),
      hour(76, 30),
    ];
    // (70 × 60 + 72 × 60 + 74 × 30 + 76 × 30) / 180 = 72.33
    expect(freeFlowFromHours(hours, 24)).toBeCloseTo(72.333, 3);
  });
  it('waits for enough hours with readings (empty hours do not count)', () => {
    const hours = [...Array.from({ length: 23 }, () => hour(50)), hour(0, 0)];
    expect(freeFlowFromHours(hours, 24)).toBeUndefined();
    expect(freeFlowFromHours([...hours, hour(60)], 24)).toBe(52.5); // (60 + 3 × 50) / 4
  });
});

describe('a segment from its detectors', () => {
  it('takes the flow-weighted speed and the mean flow', () => {
    expect(
      combineReadings(
        [
          { speed: 40, intensity: 300, at: 1000 },
          { speed: 20, intensity: 100, at: 2000 },
        ],
        60_000,
      ),
    ).toEqual({ speed: 35, intensity: 200, at: 2000, detectors: 2 });
  });
  it('takes the plain mean speed when no vehicle passed, and leaves a stale detector out', () => {
    expect(
      combineReadings(
        [
          { speed: 40, intensity: 0, at: 0 },
          { speed: 20, intensity: 0, at: 1_000_000 },
          { speed: 30, intensity: 0, at: 1_000_000 },
        ],
        900_000,
      ),
    ).toEqual({ speed: 25, intensity: 0, at: 1_000_000, detectors: 2 });
  });
});
