import { describe, expect, it } from 'vitest';
import {
  DEFAULT_GEOPROPERTY,
  formatGeoQuery,
  GeoQuerySyntaxError,
  InvalidGeometryError,
  parseGeoQuery,
  parseGeoRel,
  validateGeometry,
} from '../../src/core/geo/geo-query.js';
import type { GeoQuery, GeoQueryInput, Position } from '../../src/core/geo/geo-query.js';
import * as geometryModule from '../../src/core/geo/geometry.js';

const SQUARE = '[[[100,0],[101,0],[101,1],[100,1],[100,0]]]';
const SQUARE_RING: Position[] = [[100, 0], [101, 0], [101, 1], [100, 1], [100, 0]]; // prettier-ignore

describe('parseGeoQuery: valid input', () => {
  // prettier-ignore
  it.each<[string, GeoQueryInput, GeoQuery]>([
    ['spec example 1 (near;maxDistance, custom geoproperty)',
      { georel: 'near;maxDistance==2000', geometry: 'Point', coordinates: '[8,40]', geoproperty: 'observationSpace' },
      { georel: 'near', modifier: 'maxDistance', distance: 2000, geometry: { type: 'Point', coordinates: [8, 40] }, geoproperty: 'observationSpace' }],
    ['spec example 2 (within a Polygon)',
      { georel: 'within', geometry: 'Polygon', coordinates: SQUARE, geoproperty: 'location' },
      { georel: 'within', geometry: { type: 'Polygon', coordinates: [SQUARE_RING] }, geoproperty: 'location' }],
    ['near;minDistance with a decimal, default geoproperty',
      { georel: 'near;minDistance==0.5', geometry: 'Point', coordinates: '[-3.7, 40.4]' },
      { georel: 'near', modifier: 'minDistance', distance: 0.5, geometry: { type: 'Point', coordinates: [-3.7, 40.4] }, geoproperty: DEFAULT_GEOPROPERTY }],
    ['a distance with an exponent',
      { georel: 'near;maxDistance==2E3', geometry: 'Point', coordinates: '[0,0]' },
      { georel: 'near', modifier: 'maxDistance', distance: 2000, geometry: { type: 'Point', coordinates: [0, 0] }, geoproperty: 'location' }],
    ['coordinates already parsed (POST query geoQ)',
      { georel: 'intersects', geometry: 'LineString', coordinates: [[0, 0], [1, 1]] },
      { georel: 'intersects', geometry: { type: 'LineString', coordinates: [[0, 0], [1, 1]] }, geoproperty: 'location' }],
    ['positions with altitude, at the ends of the ranges',
      { georel: 'equals', geometry: 'MultiPoint', coordinates: '[[180,90,12.5],[-180,-90]]' },
      { georel: 'equals', geometry: { type: 'MultiPoint', coordinates: [[180, 90, 12.5], [-180, -90]] }, geoproperty: 'location' }],
    ['a full IRI as geoproperty',
      { georel: 'disjoint', geometry: 'Point', coordinates: '[1,2]', geoproperty: 'https://example.org/area' },
      { georel: 'disjoint', geometry: { type: 'Point', coordinates: [1, 2] }, geoproperty: 'https://example.org/area' }],
  ])('%s', (_name, input, expected) => {
    expect(parseGeoQuery(input)).toEqual(expected);
  });

  it.each([
    ['within', 'Polygon', SQUARE],
    ['contains', 'Point', '[1,2]'],
    ['intersects', 'MultiLineString', '[[[0,0],[1,1]],[[2,2],[3,3]]]'],
    ['disjoint', 'MultiPolygon', `[${SQUARE}]`],
    ['equals', 'MultiPoint', '[[1,2]]'],
    ['overlaps', 'Polygon', '[[[0,0],[1,0],[1,1],[0,0]],[[0.5,0.1],[0.9,0.1],[0.9,0.4],[0.5,0.1]]]'],
  ])('accepts georel %s with a %s', (georel, geometry, coordinates) => {
    const q = parseGeoQuery({ georel, geometry, coordinates });
    expect(q?.georel).toBe(georel);
    expect(q?.geometry.type).toBe(geometry);
    expect(q?.geometry.coordinates).toEqual(JSON.parse(coordinates));
  });

  it('returns undefined when no parameter is given', () => {
    expect(parseGeoQuery({})).toBeUndefined();
  });
});

describe('parseGeoQuery: invalid input', () => {
  const ok = { georel: 'within', geometry: 'Polygon', coordinates: SQUARE };
  const near = { georel: 'near;maxDistance==100', geometry: 'Point', coordinates: '[8,40]' };
  // prettier-ignore
  it.each<[string, GeoQueryInput, RegExp]>([
    // incomplete
    ['only georel', { georel: 'within' }, /; geometry, coordinates are missing/],
    ['no coordinates', { georel: 'within', geometry: 'Polygon' }, /; coordinates is missing/],
    ['no georel', { geometry: 'Point', coordinates: '[1,2]' }, /; georel is missing/],
    ['only geoproperty', { geoproperty: 'location' }, /; georel, geometry, coordinates are missing/],
    // georel
    ['an unknown georel', { ...ok, georel: 'inside' }, /georel "inside" is not one of near, within/],
    ['a georel in another case', { ...ok, georel: 'Within' }, /case-sensitive: did you mean 'within'/],
    ['an empty georel', { ...ok, georel: '' }, /georel "" is not one of/],
    ['near without a distance', { ...near, georel: 'near' }, /exactly one of maxDistance or minDistance/],
    ['near with both distances', { ...near, georel: 'near;maxDistance==100;minDistance==10' }, /exactly one/],
    ['the NGSIv2 distance syntax', { ...near, georel: 'near;maxDistance:100' }, /written maxDistance==<metres>/],
    ['an unknown modifier', { ...near, georel: 'near;distance==100' }, /'distance' is not one of maxDistance, minDistance/],
    ['a modifier in another case', { ...near, georel: 'near;maxdistance==100' }, /did you mean 'maxDistance'/],
    ['a zero distance', { ...near, georel: 'near;maxDistance==0' }, /positive non-zero number/],
    ['a negative distance', { ...near, georel: 'near;minDistance==-5' }, /positive non-zero number/],
    ['a distance that is not a number', { ...near, georel: 'near;maxDistance==far' }, /positive non-zero number/],
    ['an empty distance', { ...near, georel: 'near;maxDistance==' }, /positive non-zero number/],
    ['a distance with a plus sign', { ...near, georel: 'near;maxDistance==+5' }, /positive non-zero number/],
    ['a distance with a leading zero', { ...near, georel: 'near;maxDistance==05' }, /positive non-zero number/],
    ['a distance without an integer part', { ...near, georel: 'near;maxDistance==.5' }, /positive non-zero number/],
    ['a distance with spaces', { ...near, georel: 'near;maxDistance== 5' }, /positive non-zero number/],
    ['an infinite distance', { ...near, georel: 'near;maxDistance==1e999' }, /positive non-zero number/],
    ['a modifier on within', { ...ok, georel: 'within;maxDistance==5' }, /'within' takes no modifier/],
    ['a trailing separator', { ...ok, georel: 'within;' }, /takes no modifier/],
    ['a non-string georel (JSON body)', { ...ok, georel: 5 as unknown as string }, /georel must be a string/],
    // geometry
    ['a lower-case geometry', { ...ok, geometry: 'polygon' }, /case-sensitive: did you mean 'Polygon'/],
    ['an unknown geometry', { ...ok, geometry: 'Circle' }, /geometry "Circle" is not one of Point, MultiPoint/],
    ['a GeometryCollection', { ...ok, geometry: 'GeometryCollection' }, /GeometryCollection cannot be used/],
    ['near with a Polygon', { ...near, geometry: 'Polygon', coordinates: SQUARE }, /'near' needs geometry Point, got Polygon/],
    // coordinates
    ['coordinates that are not JSON', { ...ok, coordinates: '[[[100,0],[101,0]' }, /is not a JSON array/],
    ['coordinates that are a JSON object', { ...ok, coordinates: '{"x":1}' }, /must be a JSON array/],
    ['coordinates that are a JSON number', { ...near, coordinates: '8' }, /must be a JSON array/],
    ['coordinates as a comma list', { ...near, coordinates: '8,40' }, /is not a JSON array/],
    ['a Point with one number', { ...near, coordinates: '[8]' }, /Point coordinates must be a position/],
    ['a Point with four numbers', { ...near, coordinates: '[8,40,1,2]' }, /must be a position/],
    ['a Point with a string', { ...near, coordinates: '["8",40]' }, /finite numbers/],
    ['a latitude out of range', { ...near, coordinates: '[8,95]' }, /latitude 95 outside \[-90, 90\]/],
    ['a longitude out of range', { ...near, coordinates: '[181,40]' }, /longitude 181 outside \[-180, 180\]/],
    ['a Polygon given as a Point', { ...ok, coordinates: '[8,40]' }, /Polygon coordinates\[0\] must be an array of positions/],
    ['an unclosed ring', { ...ok, coordinates: '[[[0,0],[1,0],[1,1],[0,1]]]' }, /coordinates\[0\] is not closed/],
    ['a ring of 3 positions', { ...ok, coordinates: '[[[0,0],[1,0],[0,0]]]' }, /at least 4 positions/],
    ['an empty Polygon', { ...ok, coordinates: '[]' }, /at least 1 linear rings/],
    ['a bad hole', { ...ok, coordinates: '[[[0,0],[2,0],[2,2],[0,0]],[[0.5,0.5],[1,0.5],[0.5,0.5]]]' }, /coordinates\[1\] must hold at least 4/],
    ['a LineString of one position', { ...ok, geometry: 'LineString', coordinates: '[[0,0]]' }, /at least 2 positions/],
    ['an empty MultiPoint', { ...ok, geometry: 'MultiPoint', coordinates: '[]' }, /at least 1 positions/],
    ['a MultiPolygon with an out-of-range vertex', { ...ok, geometry: 'MultiPolygon', coordinates: '[[[[0,0],[1,0],[1,91],[0,0]]]]' },
      /coordinates\[0\]\[0\]\[2\] has latitude 91/],
    ['a parsed array of the wrong depth', { ...ok, geometry: 'MultiLineString', coordinates: [[0, 0], [1, 1]] },
      /coordinates\[0\]\[0\] must be a position/],
    // geoproperty
    ['an empty geoproperty', { ...ok, geoproperty: '' }, /geoproperty is empty/],
    ['a geoproperty with a space', { ...ok, geoproperty: 'my location' }, /is not an attribute name/],
  ])('rejects %s', (_name, input, message) => {
    expect(() => parseGeoQuery(input)).toThrow(GeoQuerySyntaxError);
    expect(() => parseGeoQuery(input)).toThrow(message);
  });

  it('keeps the geometry error as the cause', () => {
    const err = (() => {
      try {
        return parseGeoQuery({ ...near, coordinates: '[8,95]' });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(GeoQuerySyntaxError);
    expect((err as Error).cause).toBeInstanceOf(InvalidGeometryError);
  });
});

describe('parseGeoRel', () => {
  it.each([
    ['near;maxDistance==2000', { georel: 'near', modifier: 'maxDistance', distance: 2000 }],
    ['near;minDistance==1.5e2', { georel: 'near', modifier: 'minDistance', distance: 150 }],
    ['overlaps', { georel: 'overlaps' }],
  ])('%s', (text, expected) => {
    expect(parseGeoRel(text)).toEqual(expected);
  });
});

describe('formatGeoQuery', () => {
  it.each([
    {
      georel: 'near;maxDistance==2000',
      geometry: 'Point',
      coordinates: '[8,40]',
      geoproperty: 'observationSpace',
    },
    { georel: 'near;minDistance==0.5', geometry: 'Point', coordinates: '[8,40]', geoproperty: 'location' },
    { georel: 'within', geometry: 'Polygon', coordinates: SQUARE, geoproperty: 'location' },
  ])('round-trips $georel', (input) => {
    const out = formatGeoQuery(parseGeoQuery(input) as GeoQuery);
    expect({ ...out, coordinates: JSON.stringify(out.coordinates) }).toEqual(input);
  });
});

describe('validateGeometry (GeoProperty values)', () => {
  const point = { type: 'Point', coordinates: [8, 40] };
  const holed = { type: 'Polygon', coordinates: [SQUARE_RING, [[100.2, 0.2], [100.2, 0.4], [100.4, 0.4], [100.2, 0.2]]] }; // prettier-ignore

  it('is re-exported by geometry.ts', () => {
    expect(geometryModule.validateGeometry).toBe(validateGeometry);
    expect(geometryModule.InvalidGeometryError).toBe(InvalidGeometryError);
  });

  // prettier-ignore
  it.each<[string, unknown]>([
    ['a Point', point],
    ['a Point with altitude', { type: 'Point', coordinates: [8, 40, 120] }],
    ['a MultiPoint', { type: 'MultiPoint', coordinates: [[0, 0], [1, 1]] }],
    ['a LineString', { type: 'LineString', coordinates: [[0, 0], [1, 1]] }],
    ['a MultiLineString', { type: 'MultiLineString', coordinates: [[[0, 0], [1, 1]], [[2, 2], [3, 3]]] }],
    ['a Polygon with a hole', holed],
    ['a MultiPolygon', { type: 'MultiPolygon', coordinates: [[SQUARE_RING], holed.coordinates] }],
    ['a geometry with a bbox', { ...point, bbox: [8, 40, 8, 40] }],
  ])('accepts %s', (_name, value) => {
    expect(validateGeometry(value)).toBe(value);
  });

  it('accepts a GeometryCollection only when asked to (NGSI-LD §4.7.1)', () => {
    const value = {
      type: 'GeometryCollection',
      geometries: [
        point,
        {
          type: 'LineString',
          coordinates: [
            [0, 0],
            [1, 1],
          ],
        },
      ],
    };
    const allow = { allowGeometryCollection: true };
    expect(() => validateGeometry(value)).toThrow(/GeometryCollection, which a GeoProperty may not hold/);
    expect(validateGeometry(value, allow)).toBe(value);
    const bad = { type: 'GeometryCollection', geometries: [{ type: 'Point', coordinates: [1, 95] }] };
    expect(() => validateGeometry(bad, allow)).toThrow(
      /geometry.geometries\[0\].coordinates has latitude 95/,
    );
    expect(() => validateGeometry({ type: 'GeometryCollection', geometries: [] }, allow)).toThrow(
      /at least 1 geometries/,
    );
  });

  // prettier-ignore
  it.each<[string, unknown, RegExp]>([
    ['null', null, /must be a GeoJSON geometry object/],
    ['a string', 'POINT(8 40)', /must be a GeoJSON geometry object/],
    ['an array', [8, 40], /must be a GeoJSON geometry object/],
    ['no type', { coordinates: [8, 40] }, /geometry.type must be one of Point/],
    ['a lower-case type', { type: 'point', coordinates: [8, 40] }, /got "point"/],
    ['a Feature', { type: 'Feature', geometry: point }, /got "Feature"/],
    ['no coordinates', { type: 'Point' }, /geometry.coordinates must be a position/],
    ['a latitude out of range', { type: 'Point', coordinates: [8, -90.5] }, /latitude -90.5 outside/],
    ['a longitude out of range', { type: 'Point', coordinates: [-180.01, 0] }, /longitude -180.01 outside/],
    ['latitude and longitude swapped', { type: 'Point', coordinates: [40, 200] }, /latitude 200 outside .*\[longitude, latitude\]/],
    ['a non-finite number', { type: 'Point', coordinates: [Infinity, 0] }, /finite numbers/],
    ['an unclosed ring', { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 1]]] }, /coordinates\[0\] is not closed/],
    ['a ring closed in 2D only', { type: 'Polygon', coordinates: [[[0, 0, 1], [1, 0], [1, 1], [0, 0, 2]]] }, /not closed/],
    ['a short LineString', { type: 'LineString', coordinates: [[0, 0]] }, /at least 2 positions/],
    ['an empty MultiLineString', { type: 'MultiLineString', coordinates: [] }, /at least 1 line strings/],
    ['a bad bbox', { ...point, bbox: [0, 0, 1] }, /geometry.bbox must be an array of 4 or 6 numbers/],
  ])('rejects %s', (_name, value, message) => {
    expect(() => validateGeometry(value)).toThrow(InvalidGeometryError);
    expect(() => validateGeometry(value)).toThrow(message);
  });
});
