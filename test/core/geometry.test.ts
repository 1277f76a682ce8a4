import { destination, pointToLineDistance } from '@turf/turf';
import { describe, expect, it } from 'vitest';
import {
  boundingBox,
  distanceMetres,
  distanceToGeometry,
  matchesGeoQuery,
  searchBox,
} from '../../src/core/geo/geometry.js';
import type {
  BoundingBox,
  GeoJsonGeometry,
  GeoQuery,
  GeoRel,
  Position,
  SimpleGeometry,
} from '../../src/core/geo/geometry.js';

// ---- Fixtures: small shapes near (0, 0), where one degree is about 111 km ----

const pt = (x: number, y: number): GeoJsonGeometry => ({ type: 'Point', coordinates: [x, y] });
const mpt = (...ps: Position[]): GeoJsonGeometry => ({ type: 'MultiPoint', coordinates: ps });
const line = (...ps: Position[]): GeoJsonGeometry => ({ type: 'LineString', coordinates: ps });
const mline = (...ls: Position[][]): GeoJsonGeometry => ({ type: 'MultiLineString', coordinates: ls });
const poly = (...rings: Position[][]): GeoJsonGeometry => ({ type: 'Polygon', coordinates: rings });
// prettier-ignore
const ring = (x0: number, y0: number, x1: number, y1: number): Position[] => [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]];
const box = (x0: number, y0: number, x1: number, y1: number): GeoJsonGeometry => poly(ring(x0, y0, x1, y1));
const mpoly = (...ps: GeoJsonGeometry[]): GeoJsonGeometry => ({
  type: 'MultiPolygon',
  coordinates: ps.map((p) => (p as { coordinates: Position[][] }).coordinates),
});
const gc = (...gs: GeoJsonGeometry[]): GeoJsonGeometry => ({ type: 'GeometryCollection', geometries: gs });
/** The square [0,10]² with the hole [4,6]². */
const HOLED = poly(ring(0, 0, 10, 10), ring(4, 4, 6, 6));
const SQ = box(0, 0, 10, 10);

const near = (modifier: 'maxDistance' | 'minDistance', distance: number, at: Position): GeoQuery => ({
  georel: 'near',
  modifier,
  distance,
  geometry: { type: 'Point', coordinates: at },
  geoproperty: 'location',
});
const rel = (georel: Exclude<GeoRel, 'near'>, geometry: GeoJsonGeometry): GeoQuery => ({
  georel,
  geometry: geometry as SimpleGeometry,
  geoproperty: 'location',
});

describe('boundingBox', () => {
  // prettier-ignore
  it.each<[string, GeoJsonGeometry, BoundingBox]>([
    ['a Point', pt(8, 40), [8, 40, 8, 40]],
    ['a Point with altitude', { type: 'Point', coordinates: [8, 40, 500] }, [8, 40, 8, 40]],
    ['a MultiPoint', mpt([3, -1], [-2, 5]), [-2, -1, 3, 5]],
    ['a LineString', line([0, 0], [4, -3], [1, 2]), [0, -3, 4, 2]],
    ['a MultiLineString', mline([[0, 0], [1, 1]], [[-5, 7], [2, 2]]), [-5, 0, 2, 7]],
    ['a Polygon with a hole', HOLED, [0, 0, 10, 10]],
    ['a MultiPolygon', mpoly(box(0, 0, 1, 1), box(-3, 2, -2, 4)), [-3, 0, 1, 4]],
    ['a GeometryCollection', gc(pt(170, -10), line([-170, 20], [0, 0])), [-170, -10, 170, 20]],
  ])('%s', (_name, g, expected) => {
    expect(boundingBox(g)).toEqual(expected);
  });
});

describe('distanceMetres', () => {
  it.each<[Position, Position, number]>([
    [[0, 0], [0, 0], 0],
    [[0, 0], [1, 0], 111_195],
    [[0, 0], [0, 1], 111_195],
    [[0, 60], [1, 60], 55_597],
    [[179.5, 0], [-179.5, 0], 111_195],
  ])('%j to %j', (a, b, metres) => {
    expect(distanceMetres(a, b)).toBeCloseTo(metres, -1);
  });
});

describe('searchBox', () => {
  // prettier-ignore
  it.each<[string, GeoQuery, BoundingBox | null]>([
    ['disjoint cannot prune', rel('disjoint', box(0, 0, 1, 1)), null],
    ['near;minDistance cannot prune', near('minDistance', 100, [0, 0]), null],
    ['within: the reference box', rel('within', box(1, 2, 3, 4)), [1, 2, 3, 4]],
    ['contains a Point: that point', rel('contains', pt(5, 6)), [5, 6, 5, 6]],
    ['intersects a LineString', rel('intersects', line([-1, 3], [2, -4])), [-1, -4, 2, 3]],
    ['a box reaching the range ends stays in range', rel('overlaps', box(-180, -90, 180, 90)), [-180, -90, 180, 90]],
  ])('%s', (_name, q, expected) => {
    const b = searchBox(q);
    if (expected === null) return expect(b).toBeNull();
    if (b === null) return expect.unreachable();
    b.forEach((v, i) => expect(v).toBeCloseTo(expected[i] as number, 6));
    // Over-approximates: never smaller than the reference box.
    expect([b[0] <= expected[0], b[1] <= expected[1], b[2] >= expected[2], b[3] >= expected[3]]).toEqual([
      true,
      true,
      true,
      true,
    ]);
  });

  // prettier-ignore
  it.each<[string, Position, number, BoundingBox]>([
    ['1 km at the equator', [0, 0], 1000, [-0.008993, -0.008993, 0.008993, 0.008993]],
    ['1 km at 60°N: longitude doubles', [10, 60], 1000, [10 - 0.017987, 60 - 0.008993, 10 + 0.017987, 60 + 0.008993]],
    ['a cap over the North Pole spans all longitudes', [0, 89.995], 1000, [-180, 89.98601, 180, 90]],
    ['a cap over the antimeridian spans all longitudes', [179.995, 0], 1000, [-180, -0.008993, 180, 0.008993]],
    ['a cap larger than a hemisphere is the world', [0, 0], 15_000_000, [-180, -90, 180, 90]],
  ])('near;maxDistance: %s', (_name, at, metres, expected) => {
    const b = searchBox(near('maxDistance', metres, at));
    expect(b).not.toBeNull();
    b?.forEach((v, i) => expect(v).toBeCloseTo(expected[i] as number, 5));
  });

  it.each<[Position, number]>([
    [[0, 0], 2000],
    [[2.35, 48.85], 500],
    [[-70, -75], 50_000],
    [[25, 84], 300_000],
    [[-179.9, 10], 20_000],
  ])('near;maxDistance around %j (%d m) holds every point at that distance', (at, metres) => {
    const [w, s, e, n] = searchBox(near('maxDistance', metres, at)) as BoundingBox;
    for (let bearing = -180; bearing < 180; bearing += 5) {
      const [x, lat] = destination(at, metres, bearing, { units: 'meters' }).geometry.coordinates as Position;
      const lon = x > 180 ? x - 360 : x < -180 ? x + 360 : x; // destination does not wrap longitudes
      expect(lon >= w && lon <= e && lat >= s && lat <= n, `bearing ${bearing}: ${lon},${lat}`).toBe(true);
    }
  });
});

describe('distanceToGeometry', () => {
  // prettier-ignore
  it.each<[string, GeoJsonGeometry, number]>([
    ['a Point', pt(0, 1), 111_195],
    ['the nearest point of a MultiPoint', mpt([0, 3], [0, -1]), 111_195],
    ['the nearest point of a LineString, between vertices', line([-1, 1], [1, 1]), 111_195],
    ['inside a Polygon', box(-1, -1, 1, 1), 0],
    ['on the edge of a Polygon', box(0, -1, 1, 1), 0],
    ['in the hole of a Polygon', poly(ring(-2, -2, 2, 2), ring(-1, -1, 1, 1)), 111_195],
    ['outside a MultiPolygon', mpoly(box(1, -1, 2, 1), box(5, 5, 6, 6)), 111_195],
    ['a GeometryCollection', gc(pt(0, 5), box(1, -1, 2, 1)), 111_195],
  ])('from (0, 0) to %s', (_name, g, metres) => {
    expect(distanceToGeometry([0, 0], g)).toBeCloseTo(metres, -2);
  });

  // prettier-ignore
  it.each<[Position, Position, Position]>([
    [[0.06, 0.04], [0, 0], [0.1, 0.1]],
    [[0.06, 60.04], [0, 60], [0.1, 60.1]],
    [[2.35, 48.86], [2.34, 48.84], [2.36, 48.85]],
    [[-70.5, -33.4], [-70.6, -33.5], [-70.4, -33.45]],
  ])('from %j to the short segment %j–%j, as turf measures it', (at, a, b) => {
    const geodesic = pointToLineDistance(at, { type: 'LineString', coordinates: [a, b] }, { units: 'meters' });
    // Within 0.5 %: the rest is the great-circle bulge of a 10 km segment and the local projection.
    expect(distanceToGeometry(at, line(a, b)) / geodesic).toBeCloseTo(1, 2);
  });
});

/** [description, georel, target (the entity's geometry), reference (the query's), expected]. */
type RelCase = [string, Exclude<GeoRel, 'near'>, GeoJsonGeometry, GeoJsonGeometry, boolean];

describe('matchesGeoQuery: relationships', () => {
  // prettier-ignore
  it.each<RelCase>([
    // within: the target lies in the reference and their interiors meet
    ['Point inside a Polygon', 'within', pt(5, 5), SQ, true],
    ['Point on a Polygon edge (boundary only)', 'within', pt(0, 5), SQ, false],
    ['Point on a Polygon vertex', 'within', pt(10, 10), SQ, false],
    ['Point in a hole', 'within', pt(5, 5), HOLED, false],
    ['Point outside', 'within', pt(11, 5), SQ, false],
    ['Point inside a MultiPolygon part', 'within', pt(2.5, 2.5), mpoly(box(0, 0, 1, 1), box(2, 2, 3, 3)), true],
    ['Point within the same Point', 'within', pt(1, 2), pt(1, 2), true],
    ['Point within a MultiPoint', 'within', pt(1, 2), mpt([0, 0], [1, 2]), true],
    ['Point inside a LineString', 'within', pt(1, 1), line([0, 0], [2, 2]), true],
    ['Point at a LineString end', 'within', pt(0, 0), line([0, 0], [2, 2]), false],
    ['Point at the joint of a closed LineString', 'within', pt(0, 0), line([0, 0], [1, 0], [1, 1], [0, 0]), true],
    ['Point on a diagonal with inexact decimals', 'within', pt(0.1, 0.3), line([0, 0], [1, 3]), true],
    ['MultiPoint with one point on the edge, one inside', 'within', mpt([0, 5], [5, 5]), SQ, true],
    ['MultiPoint all on the edge', 'within', mpt([0, 5], [10, 5]), SQ, false],
    ['MultiPoint partly outside', 'within', mpt([5, 5], [15, 5]), SQ, false],
    ['LineString inside', 'within', line([1, 1], [9, 9]), SQ, true],
    ['LineString touching the edge from inside', 'within', line([0, 5], [5, 5]), SQ, true],
    ['LineString along the edge only', 'within', line([0, 1], [0, 9]), SQ, false],
    ['LineString leaving a concave Polygon between inside vertices', 'within', line([1, 9], [9, 9]),
      poly([[0, 0], [10, 0], [10, 10], [5, 5], [0, 10], [0, 0]]), false],
    ['LineString crossing a hole', 'within', line([1, 5], [9, 5]), HOLED, false],
    ['LineString within a longer LineString', 'within', line([1, 1], [2, 2]), line([0, 0], [3, 3]), true],
    ['LineString within a bent LineString across its vertex', 'within', line([0.5, 0], [1, 0], [1, 0.5]),
      line([0, 0], [1, 0], [1, 1]), true],
    ['LineString shortcutting a bend', 'within', line([0, 0], [1, 1]), line([0, 0], [1, 0], [1, 1]), false],
    ['LineString within a MultiLineString', 'within', line([1, 1], [2, 2]), mline([[5, 5], [6, 6]], [[0, 0], [3, 3]]), true],
    ['MultiLineString inside a Polygon', 'within', mline([[1, 1], [2, 2]], [[3, 3], [4, 1]]), SQ, true],
    ['MultiLineString partly outside', 'within', mline([[1, 1], [2, 2]], [[3, 3], [14, 1]]), SQ, false],
    ['Polygon inside', 'within', box(1, 1, 2, 2), SQ, true],
    ['Polygon within itself', 'within', SQ, SQ, true],
    ['Polygon sharing an edge, inside', 'within', box(0, 0, 5, 5), SQ, true],
    ['Polygon enclosing the hole', 'within', box(3, 3, 7, 7), HOLED, false],
    ['Polygon between hole and shell', 'within', box(1, 1, 3, 3), HOLED, true],
    ['Polygon sticking out', 'within', box(5, 5, 15, 8), SQ, false],
    ['Polygon across two touching MultiPolygon parts', 'within', box(0.5, 0, 1.5, 1), mpoly(box(0, 0, 1, 1), box(1, 0, 2, 1)), true],
    ['MultiPolygon inside', 'within', mpoly(box(1, 1, 2, 2), box(3, 3, 4, 4)), SQ, true],
    ['MultiPolygon with a part outside', 'within', mpoly(box(1, 1, 2, 2), box(13, 3, 14, 4)), SQ, false],
    ['Polygon within a LineString', 'within', box(0, 0, 1, 1), line([0, 0], [1, 1]), false],
    ['LineString within a Point', 'within', line([0, 0], [1, 1]), pt(0, 0), false],
    ['GeometryCollection inside', 'within', gc(pt(5, 5), line([1, 1], [2, 2])), SQ, true],
    // contains: the target holds the reference
    ['Polygon contains an inner Point', 'contains', SQ, pt(5, 5), true],
    ['Polygon does not contain an edge Point', 'contains', SQ, pt(10, 5), false],
    ['Polygon contains an inner Polygon', 'contains', SQ, box(2, 2, 3, 3), true],
    ['Polygon with a hole does not contain a Polygon over it', 'contains', HOLED, box(3, 3, 7, 7), false],
    ['MultiPolygon contains a MultiPoint', 'contains', mpoly(box(0, 0, 1, 1), box(2, 2, 3, 3)), mpt([0.5, 0.5], [2.5, 2.5]), true],
    ['LineString contains an inner Point', 'contains', line([0, 0], [2, 2]), pt(1, 1), true],
    ['MultiLineString contains a LineString', 'contains', mline([[0, 0], [3, 3]]), line([1, 1], [2, 2]), true],
    ['Point contains the same Point', 'contains', pt(1, 1), pt(1, 1), true],
    ['Point does not contain a Polygon', 'contains', pt(1, 1), SQ, false],
    // intersects / disjoint: any shared point, boundaries included
    ['Point inside', 'intersects', pt(5, 5), SQ, true],
    ['Point on the edge', 'intersects', pt(10, 5), SQ, true],
    ['Point in a hole', 'intersects', pt(5, 5), HOLED, false],
    ['Point on a diagonal with inexact decimals', 'intersects', pt(0.1, 0.3), line([0, 0], [1, 3]), true],
    ['Point on a MultiPoint', 'intersects', pt(1, 2), mpt([1, 2]), true],
    ['LineString crossing a Polygon', 'intersects', line([-1, 5], [11, 5]), SQ, true],
    ['LineString crossing a hole only', 'intersects', line([4.5, 5], [5.5, 5]), HOLED, false],
    ['LineStrings crossing', 'intersects', line([0, 0], [2, 2]), line([0, 2], [2, 0]), true],
    ['LineStrings touching at an end', 'intersects', line([0, 0], [1, 1]), line([1, 1], [2, 0]), true],
    ['parallel LineStrings', 'intersects', line([0, 0], [2, 0]), line([0, 1], [2, 1]), false],
    ['Polygons sharing an edge', 'intersects', box(0, 0, 1, 1), box(1, 0, 2, 1), true],
    ['Polygons touching at a corner', 'intersects', box(0, 0, 1, 1), box(1, 1, 2, 2), true],
    ['Polygon inside another', 'intersects', box(2, 2, 3, 3), SQ, true],
    ['Polygon in the hole', 'intersects', box(4.5, 4.5, 5.5, 5.5), HOLED, false],
    ['Polygon covering a MultiPolygon part', 'intersects', box(20, 20, 30, 30), mpoly(box(0, 0, 1, 1), box(21, 21, 22, 22)), true],
    ['far apart', 'intersects', box(0, 0, 1, 1), box(50, 50, 51, 51), false],
    ['GeometryCollection with a member inside', 'intersects', gc(pt(50, 50), pt(5, 5)), SQ, true],
    ['Point outside is disjoint', 'disjoint', pt(11, 5), SQ, true],
    ['Point on the edge is not disjoint', 'disjoint', pt(10, 5), SQ, false],
    ['Point in a hole is disjoint', 'disjoint', pt(5, 5), HOLED, true],
    ['Polygons sharing an edge are not disjoint', 'disjoint', box(0, 0, 1, 1), box(1, 0, 2, 1), false],
    ['LineStrings apart are disjoint', 'disjoint', line([0, 0], [2, 0]), line([0, 1], [2, 1]), true],
    // equals: the same point set
    ['the same Point', 'equals', pt(1, 2), pt(1, 2), true],
    ['another Point', 'equals', pt(1, 2), pt(1, 3), false],
    ['Point and a MultiPoint of it', 'equals', pt(1, 2), mpt([1, 2], [1, 2]), true],
    ['MultiPoints in another order', 'equals', mpt([0, 0], [1, 1]), mpt([1, 1], [0, 0]), true],
    ['MultiPoint and a subset', 'equals', mpt([0, 0], [1, 1]), mpt([1, 1]), false],
    ['LineString and its reverse', 'equals', line([0, 0], [1, 1], [2, 0]), line([2, 0], [1, 1], [0, 0]), true],
    ['LineString and one with an extra collinear vertex', 'equals', line([0, 0], [2, 0]), line([0, 0], [1, 0], [2, 0]), true],
    ['LineString and a shorter one', 'equals', line([0, 0], [2, 0]), line([0, 0], [1, 0]), false],
    ['Polygon with another start vertex', 'equals', box(0, 0, 1, 1), poly([[1, 1], [0, 1], [0, 0], [1, 0], [1, 1]]), true],
    ['Polygon with the other orientation', 'equals', box(0, 0, 1, 1), poly([[0, 0], [0, 1], [1, 1], [1, 0], [0, 0]]), true],
    ['Polygon and a MultiPolygon of it', 'equals', box(0, 0, 1, 1), mpoly(box(0, 0, 1, 1)), true],
    ['Polygon and the same one with a hole', 'equals', SQ, HOLED, false],
    ['Polygon and its outline', 'equals', box(0, 0, 1, 1), line(...ring(0, 0, 1, 1)), false],
    // overlaps: same dimension, interiors share that dimension, neither covers the other
    ['overlapping squares', 'overlaps', box(0, 0, 2, 2), box(1, 1, 3, 3), true],
    ['squares sharing an edge', 'overlaps', box(0, 0, 1, 1), box(1, 0, 2, 1), false],
    ['nested squares sharing an edge', 'overlaps', box(0, 0, 1, 1), box(0, 0, 2, 2), false],
    ['equal squares', 'overlaps', box(0, 0, 1, 1), box(0, 0, 1, 1), false],
    ['Polygon over a hole edge', 'overlaps', box(3, 3, 5, 5), HOLED, true],
    ['Polygon and an overlapping MultiPolygon', 'overlaps', box(0, 0, 2, 2), mpoly(box(1, 1, 3, 3), box(8, 8, 9, 9)), true],
    ['Polygon and a Point', 'overlaps', SQ, pt(5, 5), false],
    ['Polygon and a LineString across it', 'overlaps', SQ, line([-1, 5], [11, 5]), false],
    ['MultiPoints sharing one point', 'overlaps', mpt([0, 0], [1, 1]), mpt([1, 1], [2, 2]), true],
    ['MultiPoint and a subset', 'overlaps', mpt([0, 0], [1, 1]), mpt([1, 1]), false],
    ['Point and a MultiPoint holding it', 'overlaps', pt(1, 1), mpt([1, 1], [2, 2]), false],
    ['collinear LineStrings sharing a stretch', 'overlaps', line([0, 0], [2, 0]), line([1, 0], [3, 0]), true],
    ['LineStrings crossing at a point', 'overlaps', line([0, 0], [2, 2]), line([0, 2], [2, 0]), false],
    ['LineString and a part of it', 'overlaps', line([0, 0], [3, 0]), line([1, 0], [2, 0]), false],
    ['MultiLineString and a LineString meeting in a point', 'overlaps', mline([[5, 5], [6, 6]], [[0, 0], [2, 0]]),
      line([1, 0], [1, 1], [3, 1]), false],
    ['MultiLineString and a LineString sharing a stretch', 'overlaps', mline([[5, 5], [6, 6]], [[0, 0], [2, 0]]),
      line([1, 0], [3, 0]), true],
  ])('%s: %s', (_name, georel, target, reference, expected) => {
    expect(matchesGeoQuery(rel(georel, reference), target)).toBe(expected);
  });

  it('does not throw on a self-intersecting target', () => {
    const bowtie = poly([[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]); // prettier-ignore
    for (const georel of ['within', 'contains', 'intersects', 'disjoint', 'equals', 'overlaps'] as const) {
      expect(() => matchesGeoQuery(rel(georel, box(0, 0, 3, 3)), bowtie)).not.toThrow();
    }
  });
});

describe('matchesGeoQuery: near', () => {
  const DEG = 111_195; // metres in one degree along the equator
  // prettier-ignore
  it.each<[string, GeoQuery, GeoJsonGeometry, boolean]>([
    ['Point just inside maxDistance', near('maxDistance', DEG + 5, [0, 0]), pt(1, 0), true],
    ['Point just beyond maxDistance', near('maxDistance', DEG - 5, [0, 0]), pt(1, 0), false],
    ['Point beyond minDistance', near('minDistance', DEG - 5, [0, 0]), pt(1, 0), true],
    ['Point within minDistance', near('minDistance', DEG + 5, [0, 0]), pt(1, 0), false],
    ['the same Point with minDistance', near('minDistance', 1, [3, 4]), pt(3, 4), false],
    ['MultiPoint: its nearest point counts', near('maxDistance', DEG + 5, [0, 0]), mpt([50, 50], [0, 1]), true],
    ['LineString passing close between far vertices', near('maxDistance', 1000, [0, 0]), line([-5, 0.005], [5, 0.005]), true],
    ['LineString passing farther', near('maxDistance', 500, [0, 0]), line([-5, 0.005], [5, 0.005]), false],
    ['Polygon around the point (distance 0)', near('maxDistance', 1, [5, 5]), SQ, true],
    ['Polygon around the point with minDistance', near('minDistance', 1, [5, 5]), SQ, false],
    ['Polygon with the point in its hole', near('maxDistance', 1000, [5, 5]), HOLED, false],
    ['Polygon edge within reach', near('maxDistance', 1200, [-0.01, 5]), SQ, true],
    ['MultiPolygon with a near part', near('maxDistance', 1200, [-0.01, 5]), mpoly(box(40, 40, 41, 41), SQ), true],
    ['across the antimeridian', near('maxDistance', 2300, [179.99, 0]), pt(-179.99, 0), true],
    ['GeometryCollection with a near member', near('maxDistance', 10, [1, 1]), gc(pt(50, 50), pt(1, 1)), true],
    // Lines are straight in lon/lat (RFC 7946 §3.1.1), not great-circle arcs, which bulge 12 km north here.
    ['a point on a long east-west line at 60°N', near('maxDistance', 1, [0, 60]), line([-5, 60], [5, 60]), true],
    ['a point on the arc of that line, off the line', near('maxDistance', 2000, [0, 60.11]), line([-5, 60], [5, 60]), false],
    ['a vertex across the antimeridian', near('maxDistance', 2300, [179.99, 0]), line([-179.99, 0], [-170, 5]), true],
  ])('%s', (_name, q, target, expected) => {
    expect(matchesGeoQuery(q, target)).toBe(expected);
  });
});

describe('matchesGeoQuery and searchBox agree', () => {
  // The index pre-filter may keep too much but must never drop a match.
  // prettier-ignore
  const targets: GeoJsonGeometry[] = [
    pt(0.3, 0.2), mpt([0.5, 0.5], [3, 3]), line([-1, 0.1], [2, 0.7]), line([-5, 60], [5, 60]),
    mline([[0, 1], [1, 0]]), box(0.2, 0.2, 0.8, 0.9), HOLED, mpoly(box(0, 0, 0.1, 0.1), box(0.7, 0.7, 1, 1)),
  ];
  const queries: GeoQuery[] = [];
  for (let x = -0.5; x <= 1.5; x += 0.25) {
    for (let y = -0.5; y <= 1.5; y += 0.25) {
      for (const m of [1000, 30_000, 120_000]) {
        queries.push(near('maxDistance', m, [x, y]), near('maxDistance', m, [x, 60 + y / 10]));
      }
      queries.push(
        rel('within', box(x, y, x + 1, y + 1)),
        rel('intersects', line([x, y], [x + 0.5, y - 0.5])),
        rel('overlaps', box(x, y, x + 0.3, y + 0.3)),
      );
    }
  }
  it.each(targets.map((t) => [t.type, t] as const))('for a %s', (_type, target) => {
    const [tw, ts, te, tn] = boundingBox(target);
    let matches = 0;
    for (const q of queries) {
      if (!matchesGeoQuery(q, target)) continue;
      matches++;
      const b = searchBox(q);
      expect(b === null || (b[0] <= te && tw <= b[2] && b[1] <= tn && ts <= b[3]), JSON.stringify(q)).toBe(
        true,
      );
    }
    expect(matches).toBeGreaterThan(0);
  });
});
