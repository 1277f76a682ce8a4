/**
 * What the parking guidance reads of the Smart Data Models Parking entities (dataModel.Parking):
 * a car park (`OffStreetParking`: `availableSpotNumber`, `totalSpotNumber`, `occupancy`, its
 * location) and an on-street bay (`ParkingSpot`: `status` free/occupied, its area). Pure.
 */
import type { StoredEntity } from '../core/entity-model.js';
import type { GeoJsonGeometry, Position } from '../core/geo/geo-query.js';
import { attributeOf } from './road-graph.js';

export const PARKING = 'https://smartdatamodels.org/dataModel.Parking/';
const DEFAULT_VOCAB = 'https://uri.etsi.org/ngsi-ld/default-context/';
export const OFF_STREET_PARKING_TYPES = [`${PARKING}OffStreetParking`, `${DEFAULT_VOCAB}OffStreetParking`];
export const PARKING_SPOT_TYPES = [`${PARKING}ParkingSpot`, `${DEFAULT_VOCAB}ParkingSpot`];
export const PARKING_GROUP = `${PARKING}ParkingGroup`;
export const DISTRICT_TYPES = [`${DEFAULT_VOCAB}District`, 'https://smartdatamodels.org/District'];
export const AREA_SERVED = 'https://smartdatamodels.org/areaServed';
const LOCATION = 'https://uri.etsi.org/ngsi-ld/location';

export interface CarPark {
  id: string;
  name?: string;
  at: Position;
  free?: number;
  total?: number;
  /** When `availableSpotNumber` was observed (ISO 8601). */
  observedAt?: string;
}

const count = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined;

/** A representative point of a geometry: the point itself, else the mean of its first ring or line. */
export function pointOf(g: unknown): Position | undefined {
  const geo = g as GeoJsonGeometry | undefined;
  if (!geo || typeof geo !== 'object') return undefined;
  const pts: unknown[] =
    geo.type === 'Point'
      ? [geo.coordinates]
      : geo.type === 'LineString' || geo.type === 'MultiPoint'
        ? geo.coordinates
        : geo.type === 'Polygon'
          ? ((geo.coordinates as unknown[])[0] as unknown[])
          : [];
  const ok = (pts ?? []).filter(
    (p): p is Position => Array.isArray(p) && Number.isFinite(p[0]) && Number.isFinite(p[1]),
  );
  if (ok.length === 0) return undefined;
  return [ok.reduce((s, p) => s + p[0], 0) / ok.length, ok.reduce((s, p) => s + p[1], 0) / ok.length];
}

export function locationOf(e: StoredEntity): Position | undefined {
  return pointOf(e.attrs[LOCATION]?.[0]?.value);
}

/** A car park; undefined without a location. `total`: `totalSpotNumber`, else `capacity`. */
export function carParkOf(e: StoredEntity): CarPark | undefined {
  const at = locationOf(e);
  if (!at) return undefined;
  const out: CarPark = { id: e.id, at };
  const name = attributeOf(e, 'name', PARKING)?.value;
  if (typeof name === 'string') out.name = name;
  const free = attributeOf(e, 'availableSpotNumber', PARKING);
  const f = count(free?.value);
  if (f !== undefined) out.free = f;
  if (free?.observedAt) out.observedAt = free.observedAt;
  const total =
    count(attributeOf(e, 'totalSpotNumber', PARKING)?.value) ??
    count(attributeOf(e, 'capacity', PARKING)?.value);
  if (total !== undefined) out.total = total;
  return out;
}

export type SpotStatus = 'free' | 'occupied' | 'other';

export interface Spot {
  id: string;
  status: SpotStatus;
  /** `areaServed` (text), when the spot states one. */
  area?: string;
  at?: Position;
  observedAt?: string;
}

/** A bay; SDM `status` is free, occupied, closed or unknown (the last two count as neither). */
export function spotOf(e: StoredEntity): Spot {
  const st = attributeOf(e, 'status', PARKING);
  const v = st?.value;
  const out: Spot = { id: e.id, status: v === 'free' ? 'free' : v === 'occupied' ? 'occupied' : 'other' };
  if (st?.observedAt) out.observedAt = st.observedAt;
  const area = attributeOf(e, 'areaServed', PARKING)?.value;
  if (typeof area === 'string' && area !== '') out.area = area;
  const at = locationOf(e);
  if (at) out.at = at;
  return out;
}

/** Ray casting: is the point inside the polygon's outer ring (holes ignored)? */
export function inPolygon(p: Position, ring: Position[]): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i] as Position;
    const [xj, yj] = ring[j] as Position;
    if (yi > p[1] !== yj > p[1] && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** The outer rings of a Polygon or MultiPolygon. */
export function ringsOf(g: unknown): Position[][] {
  const geo = g as GeoJsonGeometry | undefined;
  if (geo?.type === 'Polygon') return [geo.coordinates[0] ?? []];
  if (geo?.type === 'MultiPolygon') return geo.coordinates.map((p) => p[0] ?? []);
  return [];
}

export interface AreaCounts {
  area: string;
  total: number;
  free: number;
  occupied: number;
  /** The newest status reading of the area (ISO 8601). */
  observedAt?: string;
}

/**
 * Counts bays per area. A bay's area is its `areaServed`; one without is placed in the district
 * whose polygon holds its location (`districts`: name → rings); one in neither is left out.
 * `total` counts every bay of the area, `free` and `occupied` those reporting so (closed or
 * unknown bays are in the total only).
 */
export function countByArea(spots: Spot[], districts: Map<string, Position[][]>): AreaCounts[] {
  const out = new Map<string, AreaCounts>();
  for (const s of spots) {
    let area = s.area;
    if (!area && s.at) {
      const at = s.at;
      area = [...districts].find(([, rings]) => rings.some((r) => inPolygon(at, r)))?.[0];
    }
    if (!area) continue;
    const c = out.get(area) ?? { area, total: 0, free: 0, occupied: 0 };
    c.total++;
    if (s.status === 'free') c.free++;
    if (s.status === 'occupied') c.occupied++;
    if (s.observedAt && (!c.observedAt || Date.parse(s.observedAt) > Date.parse(c.observedAt)))
      c.observedAt = s.observedAt;
    out.set(area, c);
  }
  return [...out.values()].sort((a, b) => (a.area < b.area ? -1 : a.area > b.area ? 1 : 0));
}
