/**
 * The road graph's pure parts: the travel time of a segment (live speed while fresh, else BPR
 * from the flow, else free flow; DOMAIN.md §3.3), the lane capacities by class (CJJ 37-2012 §4.4),
 * node snapping, one-way segments and the fastest path, worked by hand.
 */
import { describe, expect, it } from 'vitest';
import type { StoredEntity } from '../../src/core/entity-model.js';
import {
  DEFAULT_LANE_CAPACITY_PCU_H,
  FRESH_MS,
  SNAP_TOLERANCE_M,
  bprTimeS,
  buildRoadNetwork,
  capacityVph,
  fastestPath,
  nearestNode,
  roadSegmentOf,
  segmentCosts,
  travelTimeS,
  type RoadSegmentData,
} from '../../src/transport/road-graph.js';

const T = 'https://smartdatamodels.org/dataModel.Transportation/';
const NOW = Date.parse('2026-12-07T08:00:00Z');
const seg = (over: Partial<RoadSegmentData> = {}): RoadSegmentData => ({
  id: 'urn:ngsi-ld:RoadSegment:s',
  coordinates: [
    [113.6, 34.7],
    [113.61, 34.7],
  ],
  lengthM: 1000,
  freeFlowKmh: 50,
  oneWay: false,
  ...over,
});

describe('travel time of a segment', () => {
  it('is free flow without live values: 1,000 m at 50 km/h is 72 s', () => {
    expect(travelTimeS(seg(), NOW)).toEqual({ timeS: 72, basis: 'freeFlow' });
  });

  it('uses the live speed while it is at most 15 minutes old, at both ends of the window', () => {
    const at = (ms: number) => seg({ liveSpeed: { kmh: 10, at: ms } });
    // 1,000 m at 10 km/h = 360 s
    expect(travelTimeS(at(NOW), NOW)).toEqual({ timeS: 360, basis: 'live' });
    expect(travelTimeS(at(NOW - FRESH_MS), NOW)).toEqual({ timeS: 360, basis: 'live' });
    expect(travelTimeS(at(NOW - FRESH_MS - 1), NOW).basis).toBe('freeFlow');
    // A standing queue (0 km/h) counts as 1 km/h: 3,600 s, not infinite
    expect(travelTimeS(seg({ liveSpeed: { kmh: 0, at: NOW } }), NOW).timeS).toBe(3600);
  });

  it('falls back to BPR from a fresh intensity: t0·(1 + 0.15·(v/c)^4)', () => {
    // arterial, 2 lanes: c = 2 × 1,400 = 2,800 veh/h
    const s = seg({ roadClass: 'arterial', lanes: 2, intensity: { vph: 2800, at: NOW } });
    expect(capacityVph(s)).toBe(2800);
    // v/c = 1: 72 × 1.15 = 82.8 s
    expect(travelTimeS(s, NOW).timeS).toBeCloseTo(82.8, 9);
    expect(travelTimeS(s, NOW).basis).toBe('bpr');
    // v/c = 1.5: 72 × (1 + 0.15 × 5.0625) = 126.675 s
    expect(bprTimeS(72, 4200, 2800)).toBeCloseTo(126.675, 9);
    // v/c = 0: t0
    expect(bprTimeS(72, 0, 2800)).toBe(72);
    // a stale live speed does not hide a fresh flow
    const both = { ...s, liveSpeed: { kmh: 10, at: NOW - FRESH_MS - 1 } };
    expect(travelTimeS(both, NOW).basis).toBe('bpr');
    // a stale flow: free flow
    expect(travelTimeS(seg({ intensity: { vph: 2800, at: NOW - FRESH_MS - 1 } }), NOW).basis).toBe(
      'freeFlow',
    );
  });

  it('uses free flow whatever is live in freeFlow mode (a later departure)', () => {
    expect(travelTimeS(seg({ liveSpeed: { kmh: 10, at: NOW } }), NOW, 'freeFlow')).toEqual({
      timeS: 72,
      basis: 'freeFlow',
    });
  });

  it('takes lane capacities by class, 1 lane per direction when unstated', () => {
    expect(capacityVph(seg({ roadClass: 'expressway', lanes: 8 }))).toBe(8 * 1750);
    expect(capacityVph(seg({ roadClass: 'secondary', lanes: 4 }))).toBe(4 * 1350);
    expect(capacityVph(seg({ roadClass: 'street' }))).toBe(2 * DEFAULT_LANE_CAPACITY_PCU_H);
    expect(capacityVph(seg({ oneWay: true }))).toBe(DEFAULT_LANE_CAPACITY_PCU_H);
  });
});

describe('reading a RoadSegment entity', () => {
  const entity = (attrs: StoredEntity['attrs']): StoredEntity => ({
    id: 'urn:ngsi-ld:RoadSegment:r',
    types: [`${T}RoadSegment`],
    attrs: {
      'https://uri.etsi.org/ngsi-ld/location': [
        {
          type: 'GeoProperty',
          value: {
            type: 'LineString',
            coordinates: [
              [113.6, 34.7],
              [113.61, 34.7],
            ],
          },
        },
      ],
      ...attrs,
    },
  });
  const p = (value: unknown, observedAt?: string) => [
    { type: 'Property' as const, value, ...(observedAt ? { observedAt } : {}) },
  ];

  it('reads the SDM attributes; free flow: freeFlowSpeed, else maximumAllowedSpeed, else 50', () => {
    const s = roadSegmentOf(
      entity({
        [`${T}length`]: p(900),
        [`${T}maximumAllowedSpeed`]: p(60),
        [`${T}roadClass`]: p('arterial'),
        [`${T}totalLaneNumber`]: p(6),
        [`${T}averageVehicleSpeed`]: p(25, '2026-12-07T07:58:00Z'),
        [`${T}intensity`]: p(1800, '2026-12-07T07:58:00Z'),
      }),
    );
    expect(s).toMatchObject({
      lengthM: 900,
      freeFlowKmh: 60,
      roadClass: 'arterial',
      lanes: 6,
      oneWay: false,
    });
    expect(s?.liveSpeed).toEqual({ kmh: 25, at: Date.parse('2026-12-07T07:58:00Z') });
    expect(
      roadSegmentOf(entity({ 'https://uri.etsi.org/ngsi-ld/default-context/freeFlowSpeed': p(45) }))
        ?.freeFlowKmh,
    ).toBe(45);
    const bare = roadSegmentOf(entity({}));
    expect(bare?.freeFlowKmh).toBe(50);
    // no length: measured along the line (0.01° of longitude at 34.7° N ≈ 914.9 m)
    expect(bare?.lengthM).toBeGreaterThan(914);
    expect(bare?.lengthM).toBeLessThan(916);
  });

  it('is one-way with oneWay true or all lanes forward; no LineString, no segment', () => {
    expect(roadSegmentOf(entity({ [`${T}laneUsage`]: p(['forward', 'forward']) }))?.oneWay).toBe(true);
    expect(roadSegmentOf(entity({ [`${T}laneUsage`]: p(['forward', 'backward']) }))?.oneWay).toBe(false);
    expect(roadSegmentOf({ id: 'x', types: [], attrs: {} })).toBeUndefined();
  });
});

describe('graph and fastest path', () => {
  // A(113.60) – B(113.61) – D(113.62) along 34.70; C(113.61, 34.705) beside
  const A: [number, number] = [113.6, 34.7];
  const B: [number, number] = [113.61, 34.7];
  const C: [number, number] = [113.61, 34.705];
  const D: [number, number] = [113.62, 34.7];
  const s = (
    id: string,
    a: [number, number],
    b: [number, number],
    lengthM: number,
    more: Partial<RoadSegmentData> = {},
  ) => seg({ id, coordinates: [a, b], lengthM, ...more });

  it('snaps ends within the tolerance, and keeps ends further apart separate', () => {
    const dLat = (m: number) => m / 111_195;
    const near: [number, number] = [B[0], B[1] + dLat(SNAP_TOLERANCE_M * 0.9)];
    const far: [number, number] = [B[0], B[1] + dLat(SNAP_TOLERANCE_M * 1.5)];
    expect(buildRoadNetwork([s('ab', A, B, 1000), s('bd', near, D, 1000)]).graph.order).toBe(3);
    expect(buildRoadNetwork([s('ab', A, B, 1000), s('bd', far, D, 1000)]).graph.order).toBe(4);
  });

  it('takes the fastest path, and another when a segment slows down', () => {
    const bd = s('bd', B, D, 1000);
    const net = buildRoadNetwork([s('ab', A, B, 1000), bd, s('ac', A, C, 1200), s('cd', C, D, 1200)]);
    const a = nearestNode(net, A)?.key as string;
    const d = nearestNode(net, D)?.key as string;
    const free = fastestPath(net, a, d, segmentCosts(net, NOW, 'current'));
    expect(free).toMatchObject({ segments: ['ab', 'bd'], lengthM: 2000, timeS: 144, freeFlowTimeS: 144 });
    expect(free?.coordinates).toEqual([A, B, D]);
    bd.liveSpeed = { kmh: 10, at: NOW }; // 360 s: A–B–D 432 s against A–C–D 172.8 s
    const jam = fastestPath(net, a, d, segmentCosts(net, NOW, 'current'));
    expect(jam?.segments).toEqual(['ac', 'cd']);
    expect(jam?.timeS).toBeCloseTo(172.8, 9);
    // backwards along the same segments: the line reversed
    expect(fastestPath(net, d, a, segmentCosts(net, NOW, 'freeFlow'))?.coordinates).toEqual([D, B, A]);
  });

  it('follows one-way segments only forwards', () => {
    const net = buildRoadNetwork([s('ab', A, B, 1000, { oneWay: true })]);
    const a = nearestNode(net, A)?.key as string;
    const b = nearestNode(net, B)?.key as string;
    const costs = segmentCosts(net, NOW, 'current');
    expect(fastestPath(net, a, b, costs)?.segments).toEqual(['ab']);
    expect(fastestPath(net, b, a, costs)).toBeUndefined();
  });
});
