/**
 * The road graph of one tenant: its `RoadSegment` entities (Smart Data Models, dataModel.
 * Transportation) as a directed graph (graphology), each segment an edge in both directions unless
 * it is one-way, the nodes at segment ends snapped together within {@link SNAP_TOLERANCE_M} so
 * that segments that meet connect. An edge's cost is the segment's current travel time
 * ({@link travelTimeS}: live speed, else BPR from the measured flow, else free flow); the costs are
 * computed per route from the segments held, so a new speed changes the next route without a
 * rebuild. Shortest paths are graphology-shortest-path's A* with an admissible heuristic.
 */
import { MultiDirectedGraph } from 'graphology';
import { astar, dijkstra } from 'graphology-shortest-path';
import type { StoredAttribute, StoredEntity } from '../core/entity-model.js';
import { distanceMetres } from '../core/geo/geometry.js';
import type { Position } from '../core/geo/geo-query.js';

export const TRANSPORTATION = 'https://smartdatamodels.org/dataModel.Transportation/';
const DEFAULT_VOCAB = 'https://uri.etsi.org/ngsi-ld/default-context/';
const LOCATION = 'https://uri.etsi.org/ngsi-ld/location';
/** RoadSegment as the SDM context expands it, and as a client with the core context only does. */
export const ROAD_SEGMENT_TYPES = [`${TRANSPORTATION}RoadSegment`, `${DEFAULT_VOCAB}RoadSegment`];

/** Segment ends closer than this are one node (coordinates typed or rounded differently). */
export const SNAP_TOLERANCE_M = 2;
/**
 * A live speed or flow counts while it is at most this old: the TPI publishes every few minutes
 * (GB/T 33171 evaluates 5 to 15 min periods), so older values describe traffic that has moved on.
 */
export const FRESH_MS = 15 * 60_000;
/** Clock skew allowed for an observedAt slightly ahead of the hub's clock. */
const FUTURE_SKEW_MS = 60_000;
/** A standing queue still moves: a live speed below this counts as this (no infinite cost). */
const MIN_SPEED_KMH = 1;
/**
 * Free-flow speed of a segment that states none: 50 km/h, the limit of an urban road with one
 * lane per direction and no sign (道路交通安全法实施条例 第四十五条).
 */
export const DEFAULT_SPEED_KMH = 50;

/**
 * BPR link performance function, t = t0·(1 + α·(v/c)^β), α = 0.15, β = 4 (US Bureau of Public
 * Roads, 1964; DOMAIN.md §3.3).
 */
export const BPR_ALPHA = 0.15;
export const BPR_BETA = 4;

/**
 * Design capacity of one lane (pcu/h) by road class, CJJ 37-2012 城市道路工程设计规范 §4.4:
 * Table 4.4.1 (快速路, design speed 80 km/h: 1750) and Table 4.4.2 (other roads by design speed:
 * 60 km/h 1400 for 主干路, 50 km/h 1350 for 次干路, 40 km/h 1300 for 支路). [Values as recalled
 * from the standard's tables; DOMAIN.md does not list them: verify against the text.] Road class
 * names: the demo city's (expressway, arterial, street) and OpenStreetMap's as the Smart Data
 * Models `roadClass` uses them.
 */
export const LANE_CAPACITY_PCU_H: Readonly<Record<string, number>> = {
  expressway: 1750,
  motorway: 1750,
  trunk: 1750,
  arterial: 1400,
  primary: 1400,
  secondary: 1350,
  collector: 1350,
};
/** Every other class (tertiary, residential, street, unclassified…): 支路 at 40 km/h. */
export const DEFAULT_LANE_CAPACITY_PCU_H = 1300;

/** What the graph needs of a RoadSegment entity. */
export interface RoadSegmentData {
  id: string;
  coordinates: Position[];
  lengthM: number;
  /** `freeFlowSpeed` when given, else `maximumAllowedSpeed`, else {@link DEFAULT_SPEED_KMH}. */
  freeFlowKmh: number;
  roadClass?: string;
  /** `totalLaneNumber`: all lanes of the segment (both directions unless one-way). */
  lanes?: number;
  oneWay: boolean;
  /** `averageVehicleSpeed` (km/h) and when it was observed (epoch ms). */
  liveSpeed?: { kmh: number; at: number };
  /** `intensity` (vehicles/h over the whole segment) and when it was observed. */
  intensity?: { vph: number; at: number };
}

/**
 * The IRI of the attribute named `local`, whatever vocabulary the writer's @context put it in:
 * `vocab`'s, the NGSI-LD default vocabulary's, else any IRI ending in `/local` or `#local`.
 */
export function attributeIriOf(e: StoredEntity, local: string, vocab = TRANSPORTATION): string | undefined {
  for (const iri of [`${vocab}${local}`, `${DEFAULT_VOCAB}${local}`]) if (e.attrs[iri]) return iri;
  return Object.keys(e.attrs).find((iri) => iri.endsWith(`/${local}`) || iri.endsWith(`#${local}`));
}

/** The default instance of that attribute (else its first). */
export function attributeOf(
  e: StoredEntity,
  local: string,
  vocab = TRANSPORTATION,
): StoredAttribute | undefined {
  const iri = attributeIriOf(e, local, vocab);
  const list = iri === undefined ? undefined : e.attrs[iri];
  return list?.find((i) => i.datasetId === undefined) ?? list?.[0];
}

const finite = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : undefined;

function observedMs(a: StoredAttribute): number | undefined {
  const t = Date.parse(a.observedAt ?? a.modifiedAt ?? '');
  return Number.isFinite(t) ? t : undefined;
}

function isPosition(p: unknown): p is Position {
  return Array.isArray(p) && p.length >= 2 && finite(p[0]) !== undefined && finite(p[1]) !== undefined;
}

/** The LineString of a location (a MultiLineString's first line). */
function lineOf(value: unknown): Position[] | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const g = value as { type?: unknown; coordinates?: unknown };
  const coords =
    g.type === 'LineString'
      ? g.coordinates
      : g.type === 'MultiLineString' && Array.isArray(g.coordinates)
        ? (g.coordinates[0] as unknown)
        : undefined;
  if (!Array.isArray(coords) || coords.length < 2 || !coords.every(isPosition)) return undefined;
  return coords.map((p) => [p[0], p[1]] as Position);
}

export function polylineLengthM(coords: Position[]): number {
  let m = 0;
  for (let i = 1; i < coords.length; i++)
    m += distanceMetres(coords[i - 1] as Position, coords[i] as Position);
  return m;
}

/**
 * Reads a RoadSegment; undefined when it has no LineString `location`. `length` (MTR) is taken as
 * stated, else measured along the line. One-way: a non-SDM `oneWay`/`oneway` true, or an SDM
 * `laneUsage` whose lanes all go `forward` (the direction of the LineString).
 */
export function roadSegmentOf(e: StoredEntity): RoadSegmentData | undefined {
  const loc = e.attrs[LOCATION]?.[0];
  const coordinates = lineOf(loc?.value);
  if (!coordinates) return undefined;
  const num = (name: string) => {
    const v = finite(attributeOf(e, name)?.value);
    return v !== undefined && v > 0 ? v : undefined;
  };
  const text = (name: string) => {
    const v = attributeOf(e, name)?.value;
    return typeof v === 'string' ? v : undefined;
  };
  const laneUsage = attributeOf(e, 'laneUsage')?.value;
  const oneWay =
    attributeOf(e, 'oneWay')?.value === true ||
    attributeOf(e, 'oneway')?.value === true ||
    (Array.isArray(laneUsage) && laneUsage.length > 0 && laneUsage.every((u) => u === 'forward'));
  const seg: RoadSegmentData = {
    id: e.id,
    coordinates,
    lengthM: num('length') ?? polylineLengthM(coordinates),
    freeFlowKmh: num('freeFlowSpeed') ?? num('maximumAllowedSpeed') ?? DEFAULT_SPEED_KMH,
    oneWay,
  };
  const roadClass = text('roadClass');
  if (roadClass) seg.roadClass = roadClass;
  const lanes = num('totalLaneNumber');
  if (lanes) seg.lanes = lanes;
  const speed = attributeOf(e, 'averageVehicleSpeed');
  const kmh = finite(speed?.value);
  const speedAt = speed && observedMs(speed);
  if (kmh !== undefined && kmh >= 0 && speedAt !== undefined) seg.liveSpeed = { kmh, at: speedAt };
  const flow = attributeOf(e, 'intensity');
  const vph = finite(flow?.value);
  const flowAt = flow && observedMs(flow);
  if (vph !== undefined && vph >= 0 && flowAt !== undefined) seg.intensity = { vph, at: flowAt };
  return seg;
}

/** Free-flow travel time t0 in seconds. */
export const freeFlowTimeS = (s: RoadSegmentData): number => s.lengthM / (s.freeFlowKmh / 3.6);

/** Capacity of the whole segment (veh/h): its lanes times the lane capacity of its class. */
export function capacityVph(s: RoadSegmentData): number {
  const lanes = s.lanes ?? (s.oneWay ? 1 : 2);
  return lanes * (LANE_CAPACITY_PCU_H[s.roadClass ?? ''] ?? DEFAULT_LANE_CAPACITY_PCU_H);
}

/** BPR: t0·(1 + 0.15·(v/c)^4). */
export const bprTimeS = (t0: number, volume: number, capacity: number): number =>
  t0 * (1 + BPR_ALPHA * (volume / capacity) ** BPR_BETA);

const fresh = (at: number, now: number) => at <= now + FUTURE_SKEW_MS && now - at <= FRESH_MS;

/** Which travel times a route uses: the current ones, or free flow (a departure later on). */
export type CostMode = 'current' | 'freeFlow';
export type CostBasis = 'live' | 'bpr' | 'freeFlow';

/**
 * Current travel time of a segment in seconds, and what it rests on: its length over its live
 * `averageVehicleSpeed` when fresh; else BPR from a fresh `intensity` over the segment's
 * capacity (both count the whole segment, so the ratio holds for each direction alike); else
 * free flow. Mode `freeFlow` always gives free flow.
 */
export function travelTimeS(
  s: RoadSegmentData,
  now: number,
  mode: CostMode = 'current',
): { timeS: number; basis: CostBasis } {
  const t0 = freeFlowTimeS(s);
  if (mode === 'current') {
    if (s.liveSpeed && fresh(s.liveSpeed.at, now))
      return { timeS: s.lengthM / (Math.max(MIN_SPEED_KMH, s.liveSpeed.kmh) / 3.6), basis: 'live' };
    if (s.intensity && fresh(s.intensity.at, now))
      return { timeS: bprTimeS(t0, s.intensity.vph, capacityVph(s)), basis: 'bpr' };
  }
  return { timeS: t0, basis: 'freeFlow' };
}

interface NodeAttrs {
  lon: number;
  lat: number;
  /** Local metres (equirectangular about the network's mean latitude), for the A* bound. */
  x: number;
  y: number;
}
interface EdgeAttrs {
  /** Index in the network's segments. */
  seg: number;
  /** Along the LineString (true) or against it. */
  forward: boolean;
}

export interface RoadNetwork {
  graph: MultiDirectedGraph<NodeAttrs, EdgeAttrs>;
  segments: RoadSegmentData[];
  /** Node keys with their positions, for snapping. */
  nodes: { key: string; at: Position }[];
  /** Per segment: the straight distance between its end nodes in local metres (0 for a loop). */
  chordM: Float64Array;
}

const M_PER_DEG = 111_320;

/** Builds the graph; the segments are held by reference (their live values move with them). */
export function buildRoadNetwork(segments: RoadSegmentData[]): RoadNetwork {
  const graph = new MultiDirectedGraph<NodeAttrs, EdgeAttrs>();
  const nodes: { key: string; at: Position }[] = [];
  const cells = new Map<number, number[]>();
  const cellLat = SNAP_TOLERANCE_M / M_PER_DEG;
  const meanLat =
    segments.reduce((m, s) => m + (s.coordinates[0] as Position)[1], 0) / (segments.length || 1);
  const kx = M_PER_DEG * Math.cos((meanLat * Math.PI) / 180);
  // Cells of the tolerance's size (numeric keys: |cx|, |cy| < 2·10^7 at a 2 m tolerance)
  const cellLon = cellLat / Math.max(0.01, Math.cos((meanLat * Math.PI) / 180));
  const cellKey = (cx: number, cy: number) => cx * 1e8 + cy;
  const nodeAt = (p: Position): number => {
    const cx = Math.floor(p[0] / cellLon);
    const cy = Math.floor(p[1] / cellLat);
    for (let dx = -1; dx <= 1; dx++)
      for (let dy = -1; dy <= 1; dy++)
        for (const i of cells.get(cellKey(cx + dx, cy + dy)) ?? [])
          if (distanceMetres((nodes[i] as { at: Position }).at, p) <= SNAP_TOLERANCE_M) return i;
    const i = nodes.length;
    const cell = cells.get(cellKey(cx, cy));
    if (cell) cell.push(i);
    else cells.set(cellKey(cx, cy), [i]);
    const key = `n${i}`;
    nodes.push({ key, at: p });
    graph.addNode(key, { lon: p[0], lat: p[1], x: p[0] * kx, y: p[1] * M_PER_DEG });
    return i;
  };
  const chordM = new Float64Array(segments.length);
  segments.forEach((s, i) => {
    const a = nodeAt(s.coordinates[0] as Position);
    const b = nodeAt(s.coordinates[s.coordinates.length - 1] as Position);
    if (a === b) return; // a loop leads nowhere
    const na = graph.getNodeAttributes(`n${a}`);
    const nb = graph.getNodeAttributes(`n${b}`);
    chordM[i] = Math.hypot(na.x - nb.x, na.y - nb.y);
    graph.addDirectedEdgeWithKey(`${i}f`, `n${a}`, `n${b}`, { seg: i, forward: true });
    if (!s.oneWay) graph.addDirectedEdgeWithKey(`${i}b`, `n${b}`, `n${a}`, { seg: i, forward: false });
  });
  return { graph, segments, nodes, chordM };
}

/** The node nearest to a point, and how far it is. */
export function nearestNode(
  net: RoadNetwork,
  p: Position,
): { key: string; at: Position; distanceM: number } | undefined {
  // An equirectangular distance ranks candidates (cheap); the answer's distance is haversine.
  const k = Math.cos((p[1] * Math.PI) / 180);
  let best: { key: string; at: Position } | undefined;
  let bestD = Infinity;
  for (const n of net.nodes) {
    const dx = (n.at[0] - p[0]) * k;
    const dy = n.at[1] - p[1];
    const d = dx * dx + dy * dy;
    if (d < bestD) {
      bestD = d;
      best = n;
    }
  }
  return best && { ...best, distanceM: distanceMetres(best.at, p) };
}

/** Costs are computed again for a route at most this long after the last (ms). */
const COSTS_TTL_MS = 1000;
const costCache = new WeakMap<RoadNetwork, Map<CostMode, { at: number; costs: Float64Array }>>();

/**
 * {@link segmentCosts}, kept for a second per network and mode: a stream of routes shares one
 * computation (10,000 segments take a few ms). A rebuilt network starts afresh; a speed changed
 * in place shows within that second.
 */
export function currentCosts(net: RoadNetwork, now: number, mode: CostMode): Float64Array {
  let byMode = costCache.get(net);
  if (!byMode) costCache.set(net, (byMode = new Map()));
  const held = byMode.get(mode);
  if (held && now - held.at >= 0 && now - held.at < COSTS_TTL_MS) return held.costs;
  const costs = segmentCosts(net, now, mode);
  byMode.set(mode, { at: now, costs });
  return costs;
}

/** Edge costs of one route request: seconds per segment (the same both ways). */
export function segmentCosts(net: RoadNetwork, now: number, mode: CostMode): Float64Array {
  const out = new Float64Array(net.segments.length);
  net.segments.forEach((s, i) => (out[i] = travelTimeS(s, now, mode).timeS));
  return out;
}

export interface RoutePath {
  segments: string[];
  /** The same segments as indexes into the network's. */
  segmentIndexes: number[];
  coordinates: Position[];
  lengthM: number;
  timeS: number;
  freeFlowTimeS: number;
}

/**
 * The fastest path from node to node under `costs`; undefined when there is none. A*'s heuristic
 * is the straight distance to the target (local metres) over the fastest straight-line speed any
 * edge allows (its chord in the same metres / its cost): by the triangle inequality no path is
 * faster, so the heuristic never overestimates and the path is the shortest in time.
 */
export function fastestPath(
  net: RoadNetwork,
  from: string,
  to: string,
  costs: Float64Array,
): RoutePath | undefined {
  const { graph, chordM } = net;
  let vmax = 0; // m/s, in the same local metres as the heuristic (so the bound holds)
  for (let i = 0; i < chordM.length; i++) {
    const c = costs[i] as number;
    if (c > 0) vmax = Math.max(vmax, (chordM[i] as number) / c);
  }
  const weight = (_e: string, a: EdgeAttrs) => costs[a.seg] as number;
  const target = to;
  const t = graph.getNodeAttributes(target);
  const heuristic =
    vmax > 0
      ? (n: string) => {
          const a = graph.getNodeAttributes(n);
          return Math.hypot(a.x - t.x, a.y - t.y) / vmax;
        }
      : undefined;
  const nodes = astar.bidirectional(graph, from, to, weight, heuristic) as string[] | null;
  if (!nodes) return undefined;
  return pathOf(net, nodes, costs);
}

/** The segments, line and totals of a node path (the cheapest edge between two nodes). */
export function pathOf(net: RoadNetwork, nodes: string[], costs: Float64Array): RoutePath {
  const { graph } = net;
  const out: RoutePath = {
    segments: [],
    segmentIndexes: [],
    coordinates: [],
    lengthM: 0,
    timeS: 0,
    freeFlowTimeS: 0,
  };
  for (let i = 1; i < nodes.length; i++) {
    let best: EdgeAttrs | undefined;
    for (const e of graph.outEdges(nodes[i - 1], nodes[i])) {
      const a = graph.getEdgeAttributes(e);
      if (!best || (costs[a.seg] as number) < (costs[best.seg] as number)) best = a;
    }
    if (!best) continue;
    const s = net.segments[best.seg] as RoadSegmentData;
    const line = best.forward ? s.coordinates : [...s.coordinates].reverse();
    out.coordinates.push(...(out.coordinates.length ? line.slice(1) : line));
    out.segments.push(s.id);
    out.segmentIndexes.push(best.seg);
    out.lengthM += s.lengthM;
    out.timeS += costs[best.seg] as number;
    out.freeFlowTimeS += freeFlowTimeS(s);
  }
  if (out.coordinates.length === 0) {
    const a = graph.getNodeAttributes(nodes[0]);
    out.coordinates.push([a.lon, a.lat], [a.lon, a.lat]);
  }
  return out;
}

/** Travel time (s) from one node to each of `targets` it reaches (one Dijkstra over `costs`). */
export function timesTo(
  net: RoadNetwork,
  from: string,
  targets: Iterable<string>,
  costs: Float64Array,
): Map<string, number> {
  const paths = dijkstra.singleSource(net.graph, from, (_e: string, a: EdgeAttrs) => costs[a.seg] as number);
  const out = new Map<string, number>();
  for (const node of targets) {
    const path = paths[node];
    if (!path) continue;
    let t = 0;
    for (let i = 1; i < path.length; i++) {
      let c = Infinity;
      for (const e of net.graph.outEdges(path[i - 1], path[i]))
        c = Math.min(c, costs[net.graph.getEdgeAttribute(e, 'seg')] as number);
      t += c;
    }
    out.set(node, t);
  }
  return out;
}
