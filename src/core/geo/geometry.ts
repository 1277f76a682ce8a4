/**
 * Computations on the GeoJSON geometries of GeoProperty values (NGSI-LD §4.7.1, IETF RFC 7946 §3.1)
 * for geo-queries (NGSI-LD §4.10): bounding boxes, the box for the index pre-filter, distances and
 * the exact test of each relationship. The types, `validateGeometry` and the parsing of geo-query
 * parameters live in `geo-query.ts` and are re-exported here.
 *
 * Relationships have their OGC Simple Features meaning (the spec's reference [14]) on planar
 * coordinates, as RFC 7946 §3.1.1 draws lines straight between positions; distances are on the
 * sphere. Turf's `booleanWithin`/`booleanContains`/`booleanOverlap`/`booleanEqual` are not used
 * directly: they throw for many type pairs (MultiLineString, GeometryCollection, Point), accept a
 * polygon whose hole lies inside the other one, count a shared edge as an overlap and compare
 * coordinates rather than point sets. The tests below are composed from turf's point-in-polygon,
 * point-on-line, line intersection, polygon clipping, area and distance functions instead.
 */
import {
  area,
  booleanIntersects,
  booleanPointInPolygon,
  booleanPointOnLine,
  difference,
  distance,
  feature,
  featureCollection,
  intersect,
  lineIntersect,
} from '@turf/turf';
import type { GeoJsonGeometry, GeoQuery, Position } from './geo-query.js';

export {
  GEO_RELS,
  GEOMETRY_TYPES,
  InvalidGeometryError,
  NEAR_MODIFIERS,
  QUERY_GEOMETRY_TYPES,
  validateGeometry,
} from './geo-query.js';
export type * from './geo-query.js';

/** `[minLon, minLat, maxLon, maxLat]` in degrees. */
export type BoundingBox = [number, number, number, number];

// ---- Decomposition into simple parts, shared by every test below ----

type Parts = { points: Position[]; lines: Position[][]; polys: Position[][][] };

function partsOf(g: GeoJsonGeometry, into: Parts = { points: [], lines: [], polys: [] }): Parts {
  switch (g.type) {
    case 'Point':
      into.points.push(g.coordinates);
      break;
    case 'MultiPoint':
      into.points.push(...g.coordinates);
      break;
    case 'LineString':
      into.lines.push(g.coordinates);
      break;
    case 'MultiLineString':
      into.lines.push(...g.coordinates);
      break;
    case 'Polygon':
      into.polys.push(g.coordinates);
      break;
    case 'MultiPolygon':
      into.polys.push(...g.coordinates);
      break;
    case 'GeometryCollection':
      for (const m of g.geometries) partsOf(m, into);
      break;
  }
  return into;
}

const allPositions = (p: Parts): Position[] => [...p.points, ...p.lines.flat(), ...p.polys.flat(2)];
const dimensionOf = (p: Parts): number => (p.polys.length > 0 ? 2 : p.lines.length > 0 ? 1 : 0);
const asMultiPolygon = (polys: Position[][][]) =>
  feature({ type: 'MultiPolygon' as const, coordinates: polys });
const asGeometry = (p: Parts) => ({
  type: 'GeometryCollection' as const,
  geometries: [
    { type: 'MultiPoint' as const, coordinates: p.points },
    { type: 'MultiLineString' as const, coordinates: p.lines },
    { type: 'MultiPolygon' as const, coordinates: p.polys },
  ],
});

/** `[minLon, minLat, maxLon, maxLat]` of every position of the geometry (altitude ignored). */
export function boundingBox(geometry: GeoJsonGeometry): BoundingBox {
  const box: BoundingBox = [Infinity, Infinity, -Infinity, -Infinity];
  for (const [lon, lat] of allPositions(partsOf(geometry))) {
    box[0] = Math.min(box[0], lon);
    box[1] = Math.min(box[1], lat);
    box[2] = Math.max(box[2], lon);
    box[3] = Math.max(box[3], lat);
  }
  return box;
}

/** Mean Earth radius in metres, the one turf's haversine `distance` uses. */
const EARTH_RADIUS_M = 6_371_008.8;
/** Tolerance in degrees (about 0.1 mm) for "on a line" and "same point" in the exact test. */
const EPS = 1e-9;
const DEG = 180 / Math.PI;

function clampBox([w, s, e, n]: BoundingBox): BoundingBox {
  return [Math.max(-180, w), Math.max(-90, s), Math.min(180, e), Math.min(90, n)];
}

/**
 * The box an entity's bounding box must overlap to possibly match the query (for a GiST `&&`
 * pre-filter), or `null` when no box can prune (`disjoint`, `near;minDistance`). For
 * `near;maxDistance` it is the box around the spherical cap of that radius: latitude ± r, and
 * longitude ± asin(sin r / cos lat); it spans all longitudes when the cap reaches a pole or crosses
 * the antimeridian. Boxes are widened slightly so that they over-approximate, never miss.
 */
export function searchBox(query: GeoQuery): BoundingBox | null {
  if (query.georel === 'disjoint') return null;
  if (query.georel !== 'near') {
    const [w, s, e, n] = boundingBox(query.geometry);
    return clampBox([w - 2 * EPS, s - 2 * EPS, e + 2 * EPS, n + 2 * EPS]);
  }
  if (query.modifier === 'minDistance') return null;
  const [lon, lat] = query.geometry.coordinates;
  const r = (query.distance / EARTH_RADIUS_M) * (1 + 1e-9) + 1e-12; // angular radius, rounded up
  const dLat = r * DEG + EPS;
  if (r >= Math.PI / 2 || Math.abs(lat) + dLat >= 90) return clampBox([-180, lat - dLat, 180, lat + dLat]);
  const dLon = Math.asin(Math.min(1, Math.sin(r) / Math.cos(lat / DEG))) * DEG + EPS;
  if (lon - dLon < -180 || lon + dLon > 180) return clampBox([-180, lat - dLat, 180, lat + dLat]);
  return clampBox([lon - dLon, lat - dLat, lon + dLon, lat + dLat]);
}

/** Great-circle (haversine) distance in metres between two `[lon, lat]` positions. */
export function distanceMetres(a: Position, b: Position): number {
  return distance(a, b, { units: 'meters' });
}

/**
 * Metres from `p` to the nearest point of segment `ab`, the segment being straight in longitude and
 * latitude (RFC 7946 §3.1.1) like everywhere else here, so that the point found lies in the
 * segment's bounding box and the index pre-filter stays sound. The nearest point is found in an
 * equirectangular projection centred on `p`; its distance is then measured on the sphere. (Turf's
 * geodesic `pointToLineDistance` measures to the great-circle arc instead, kilometres away from the
 * straight line for long segments at high latitudes; its planar method ignores the cos(latitude)
 * scale.) Vertices are measured directly too, which also covers vertices across the antimeridian.
 */
function segmentDistance(p: Position, a: Position, b: Position): number {
  const k = Math.cos(p[1] / DEG);
  const [ax, ay, dx, dy] = [(a[0] - p[0]) * k, a[1] - p[1], (b[0] - a[0]) * k, b[1] - a[1]];
  const len2 = dx * dx + dy * dy;
  const t = len2 === 0 ? 0 : Math.min(1, Math.max(0, -(ax * dx + ay * dy) / len2));
  const foot: Position = [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])];
  return Math.min(distanceMetres(p, foot), distanceMetres(p, a), distanceMetres(p, b));
}

const pathDistance = (p: Position, path: Position[]): number =>
  path.reduce(
    (d, b, i) =>
      i === 0 ? distanceMetres(p, b) : Math.min(d, segmentDistance(p, path[i - 1] as Position, b)),
    Infinity,
  );

/**
 * Distance in metres from a point to the nearest point of a geometry, 0 inside or on a polygon
 * (used by `near`, NGSI-LD §4.10). Point-to-point distances are great-circle (haversine) distances.
 */
export function distanceToGeometry(point: Position, geometry: GeoJsonGeometry): number {
  const g = partsOf(geometry);
  let d = Infinity;
  for (const q of g.points) d = Math.min(d, distanceMetres(point, q));
  for (const l of g.lines) d = Math.min(d, pathDistance(point, l));
  for (const poly of g.polys) {
    if (booleanPointInPolygon(point, { type: 'Polygon', coordinates: poly })) return 0;
    for (const r of poly) d = Math.min(d, pathDistance(point, r));
  }
  return d;
}

// ---- Point location and line coverage ----

const EXTERIOR = 0;
const BOUNDARY = 1;
const INTERIOR = 2;
type Location = typeof EXTERIOR | typeof BOUNDARY | typeof INTERIOR;

const samePoint = (a: Position, b: Position): boolean =>
  Math.abs(a[0] - b[0]) <= EPS && Math.abs(a[1] - b[1]) <= EPS;

function onSegment(p: Position, a: Position, b: Position): boolean {
  const [[x, y], [x1, y1], [x2, y2]] = [p, a, b];
  if (
    x < Math.min(x1, x2) - EPS ||
    x > Math.max(x1, x2) + EPS ||
    y < Math.min(y1, y2) - EPS ||
    y > Math.max(y1, y2) + EPS
  )
    return false;
  if (samePoint(p, a) || samePoint(p, b)) return true;
  // The cross product is |ab| times the distance of p from the line: allow EPS degrees of distance.
  return booleanPointOnLine(
    p,
    { type: 'LineString', coordinates: [a, b] },
    { epsilon: EPS * Math.hypot(x2 - x1, y2 - y1) },
  );
}

const onPath = (p: Position, path: Position[]): boolean =>
  path.some((a, i) => i > 0 && onSegment(p, path[i - 1] as Position, a));

/** Boundary of the lines of `g` by the OGC mod-2 rule: endpoints shared by an odd number of ends. */
function lineBoundary(g: Parts): Position[] {
  const ends = g.lines.flatMap((l) => [l[0] as Position, l[l.length - 1] as Position]);
  return ends.filter((e) => ends.filter((f) => samePoint(e, f)).length % 2 === 1);
}

/** Where a position lies relative to the point set of `g` (interior wins over boundary). */
function locate(p: Position, g: Parts, boundary = lineBoundary(g)): Location {
  let loc: Location = EXTERIOR;
  for (const poly of g.polys) {
    if (poly.some((ring) => onPath(p, ring))) loc = BOUNDARY;
    else if (booleanPointInPolygon(p, { type: 'Polygon', coordinates: poly })) return INTERIOR;
  }
  for (const l of g.lines) {
    if (onPath(p, l)) {
      if (!boundary.some((b) => samePoint(b, p))) return INTERIOR;
      loc = BOUNDARY;
    }
  }
  return g.points.some((q) => samePoint(p, q)) ? INTERIOR : loc;
}

type LineVerdict = { outside: boolean; along: boolean; inner: boolean };

/**
 * Cuts each segment of `line` where it meets `g` (vertices of `g` on it, crossings) and locates the
 * middle of every piece: `outside` if a piece leaves `g`, `along` if one lies in `g`, `inner` if one
 * lies in the interior of `g`.
 */
function lineAgainst(line: Position[], g: Parts): LineVerdict {
  const verdict: LineVerdict = { outside: false, along: false, inner: false };
  const boundary = lineBoundary(g);
  // Where `line` may enter or leave `g`: the vertices of `g` and the crossings with its lines and rings.
  const path = { type: 'LineString' as const, coordinates: line };
  const others = [
    ...(g.lines.length > 0 ? [{ type: 'MultiLineString' as const, coordinates: g.lines }] : []),
    ...(g.polys.length > 0 ? [{ type: 'MultiPolygon' as const, coordinates: g.polys }] : []),
  ];
  const events = [
    ...allPositions(g),
    ...others.flatMap((o) => lineIntersect(path, o).features.map((f) => f.geometry.coordinates as Position)),
  ];
  const mark = (loc: Location): void => {
    if (loc === EXTERIOR) verdict.outside = true;
    else verdict.along = true;
    if (loc === INTERIOR) verdict.inner = true;
  };
  for (let i = 1; i < line.length; i++) {
    const [a, b] = [line[i - 1] as Position, line[i] as Position];
    const [dx, dy] = [b[0] - a[0], b[1] - a[1]];
    const len2 = dx * dx + dy * dy;
    if (len2 === 0) {
      if (locate(a, g, boundary) === EXTERIOR) verdict.outside = true;
      continue;
    }
    const at = (p: Position): number => ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2;
    const cuts = events.filter((v) => onSegment(v, a, b)).map((v) => Math.min(1, Math.max(0, at(v))));
    const ts = [...new Set([0, 1, ...cuts])].sort((u, v) => u - v);
    for (let k = 1; k < ts.length; k++) {
      const t = ((ts[k - 1] as number) + (ts[k] as number)) / 2;
      mark(locate([a[0] + t * dx, a[1] + t * dy], g, boundary));
    }
  }
  return verdict;
}

// ---- Relationships ----

const areaOf = (f: ReturnType<typeof difference>): number => (f === null ? 0 : area(f));
const AREA_TOLERANCE = 1e-9; // relative: slivers from clipping arithmetic are not area

/** Area (m²) of `a` outside `b`, both sets of polygons. */
function areaOutside(a: Position[][][], b: Position[][][]): number {
  return b.length === 0
    ? area(asMultiPolygon(a))
    : areaOf(difference(featureCollection([asMultiPolygon(a), asMultiPolygon(b)])));
}

/** Whether every point of `a` lies in `b` (`covered`), and whether their interiors meet (`inner`). */
function coverage(a: Parts, b: Parts): { covered: boolean; inner: boolean } {
  let inner = false;
  const boundary = lineBoundary(b);
  for (const p of a.points) {
    const loc = locate(p, b, boundary);
    if (loc === EXTERIOR) return { covered: false, inner };
    if (loc === INTERIOR) inner = true;
  }
  for (const l of a.lines) {
    const v = lineAgainst(l, b);
    if (v.outside) return { covered: false, inner };
    if (v.inner) inner = true;
  }
  if (a.polys.length > 0) {
    if (b.polys.length === 0) return { covered: false, inner };
    const total = area(asMultiPolygon(a.polys));
    if (areaOutside(a.polys, b.polys) > total * AREA_TOLERANCE) return { covered: false, inner };
    inner = true;
  }
  return { covered: true, inner };
}

const within = (a: Parts, b: Parts): boolean => {
  const c = coverage(a, b);
  return c.covered && c.inner;
};

const equals = (a: Parts, b: Parts): boolean => coverage(a, b).covered && coverage(b, a).covered;

function boxesMeet(a: Parts, b: Parts): boolean {
  const pa = boundingBox(asGeometry(a));
  const pb = boundingBox(asGeometry(b));
  return pa[0] <= pb[2] + EPS && pb[0] <= pa[2] + EPS && pa[1] <= pb[3] + EPS && pb[1] <= pa[3] + EPS;
}

function intersects(a: Parts, b: Parts): boolean {
  if (!boxesMeet(a, b)) return false;
  if (booleanIntersects(asGeometry(a), asGeometry(b))) return true;
  // turf tests "on a line" exactly; retry the vertices with the tolerance.
  const [ba, bb] = [lineBoundary(a), lineBoundary(b)];
  return (
    allPositions(a).some((p) => locate(p, b, bb) !== EXTERIOR) ||
    allPositions(b).some((p) => locate(p, a, ba) !== EXTERIOR)
  );
}

/** Same dimension, interiors meet in that dimension, and each has points outside the other. */
function overlaps(a: Parts, b: Parts): boolean {
  const dim = dimensionOf(a);
  if (dim !== dimensionOf(b)) return false;
  const only = (p: Parts): Parts => ({
    points: dim === 0 ? p.points : [],
    lines: dim === 1 ? p.lines : [],
    polys: dim === 2 ? p.polys : [],
  });
  const [x, y] = [only(a), only(b)];
  if (dim === 2) {
    const [ax, ay] = [area(asMultiPolygon(x.polys)), area(asMultiPolygon(y.polys))];
    const shared = areaOf(intersect(featureCollection([asMultiPolygon(x.polys), asMultiPolygon(y.polys)])));
    const tol = Math.min(ax, ay) * AREA_TOLERANCE;
    return shared > tol && areaOutside(x.polys, y.polys) > tol && areaOutside(y.polys, x.polys) > tol;
  }
  const meet =
    dim === 0
      ? x.points.some((p) => locate(p, y) !== EXTERIOR)
      : x.lines.some((l) => lineAgainst(l, y).along);
  return meet && !coverage(x, y).covered && !coverage(y, x).covered;
}

/**
 * The exact test of a geo-query against the target geometry of an entity (NGSI-LD §4.10):
 * - `near;maxDistance==d`: the distance in metres from the reference point to the nearest point of
 *   the target (0 inside a polygon, see {@link distanceToGeometry}) is ≤ d. This is the reading of
 *   PostGIS `ST_DWithin` and of other brokers; the spec's words ("within the buffer") would want
 *   every point of the target that close. `near;minDistance==d`: that distance is > d (the target
 *   is disjoint from the closed buffer).
 * - `within`/`contains`: every point of the target lies in the reference (or the reverse) and their
 *   interiors meet, so a point on a polygon's edge is not within it, and a polygon is within itself.
 * - `intersects`/`disjoint`: they share a point (or not), boundaries included.
 * - `equals`: the same point set, whatever the vertex order, start vertex or Multi* wrapping.
 * - `overlaps`: same dimension, interiors meet in that dimension, neither covers the other.
 * Positions closer than 1e-9° count as equal. A target that turf cannot process does not match.
 */
export function matchesGeoQuery(query: GeoQuery, entityGeometry: GeoJsonGeometry): boolean {
  const target = partsOf(entityGeometry);
  if (allPositions(target).length === 0) return false;
  try {
    switch (query.georel) {
      case 'near': {
        const d = distanceToGeometry(query.geometry.coordinates, entityGeometry);
        return query.modifier === 'maxDistance' ? d <= query.distance : d > query.distance;
      }
      case 'within':
        return within(target, partsOf(query.geometry));
      case 'contains':
        return within(partsOf(query.geometry), target);
      case 'intersects':
        return intersects(target, partsOf(query.geometry));
      case 'disjoint':
        return !intersects(target, partsOf(query.geometry));
      case 'equals':
        return equals(target, partsOf(query.geometry));
      case 'overlaps':
        return overlaps(target, partsOf(query.geometry));
    }
  } catch {
    // A stored geometry that the clipping library rejects (e.g. a self-intersecting ring) must not
    // fail the whole query: it simply does not match.
    return false;
  }
}
