/**
 * The geo-query model and its validation: the GeoJSON geometry types and checks of GeoProperty
 * values (NGSI-LD §4.7.1, IETF RFC 7946 §3.1), and the parsing of the geo-query parameters of a
 * request (NGSI-LD §4.10 "Geoquery language": `georel`, `geometry`, `coordinates`, `geoproperty`)
 * from a query string or from the `geoQ` member of a POST /entityOperations/query body (§5.2.13
 * GeoQuery, where `coordinates` may be an array). `geometry.ts` evaluates queries.
 */

/** The geospatial relationships of NGSI-LD §4.10 (case-sensitive). */
export const GEO_RELS = [
  'near',
  'within',
  'contains',
  'intersects',
  'disjoint',
  'equals',
  'overlaps',
] as const;
export type GeoRel = (typeof GEO_RELS)[number];
/** The distance modifiers of `near` (§4.10 `distance`), in metres. */
export const NEAR_MODIFIERS = ['maxDistance', 'minDistance'] as const;
export type NearModifier = (typeof NEAR_MODIFIERS)[number];
/** Reference geometry types of a geo-query: RFC 7946 §1.4 except GeometryCollection (§4.10). */
export const QUERY_GEOMETRY_TYPES = [
  'Point',
  'MultiPoint',
  'LineString',
  'MultiLineString',
  'Polygon',
  'MultiPolygon',
] as const;
export type QueryGeometryType = (typeof QUERY_GEOMETRY_TYPES)[number];
/** Every GeoJSON geometry type (RFC 7946 §1.4). */
export const GEOMETRY_TYPES = [...QUERY_GEOMETRY_TYPES, 'GeometryCollection'] as const;
export type GeometryType = (typeof GEOMETRY_TYPES)[number];

/** `[longitude, latitude]` or `[longitude, latitude, altitude]` (RFC 7946 §3.1.1). */
export type Position = [number, number] | [number, number, number];
type Bbox = { bbox?: number[] };
export type PointGeometry = { type: 'Point'; coordinates: Position } & Bbox;
export type MultiPointGeometry = { type: 'MultiPoint'; coordinates: Position[] } & Bbox;
export type LineStringGeometry = { type: 'LineString'; coordinates: Position[] } & Bbox;
export type MultiLineStringGeometry = { type: 'MultiLineString'; coordinates: Position[][] } & Bbox;
export type PolygonGeometry = { type: 'Polygon'; coordinates: Position[][] } & Bbox;
export type MultiPolygonGeometry = { type: 'MultiPolygon'; coordinates: Position[][][] } & Bbox;
/** A geometry with coordinates: what a geo-query may refer to. */
export type SimpleGeometry =
  | PointGeometry
  | MultiPointGeometry
  | LineStringGeometry
  | MultiLineStringGeometry
  | PolygonGeometry
  | MultiPolygonGeometry;
export type GeometryCollectionGeometry = { type: 'GeometryCollection'; geometries: GeoJsonGeometry[] } & Bbox;
export type GeoJsonGeometry = SimpleGeometry | GeometryCollectionGeometry;

/** `georel=near;<modifier>==<distance>` with a Point (NGSI-LD §4.10 `nearRel`). */
export type NearGeoQuery = {
  georel: 'near';
  modifier: NearModifier;
  distance: number;
  geometry: PointGeometry;
  geoproperty: string;
};
/** Any other relationship, with any reference geometry but GeometryCollection. */
export type RelationGeoQuery = {
  georel: Exclude<GeoRel, 'near'>;
  geometry: SimpleGeometry;
  geoproperty: string;
};
/** A parsed geo-query (NGSI-LD §4.10); `geoproperty` is still a term (default `location`). */
export type GeoQuery = NearGeoQuery | RelationGeoQuery;

/** A GeoJSON geometry that is malformed or out of range. */
export class InvalidGeometryError extends Error {
  override name = 'InvalidGeometryError';
}

const bad = (path: string, msg: string): never => {
  throw new InvalidGeometryError(`${path} ${msg}`);
};

function checkPosition(p: unknown, path: string): Position {
  if (!Array.isArray(p) || p.length < 2 || p.length > 3)
    return bad(path, 'must be a position [longitude, latitude] or [longitude, latitude, altitude]');
  if (!p.every((n) => typeof n === 'number' && Number.isFinite(n)))
    return bad(path, 'must hold finite numbers only');
  const [lon, lat] = p as Position;
  if (lon < -180 || lon > 180)
    bad(path, `has longitude ${lon} outside [-180, 180] (positions are [longitude, latitude])`);
  if (lat < -90 || lat > 90)
    bad(path, `has latitude ${lat} outside [-90, 90] (positions are [longitude, latitude])`);
  return p as Position;
}

function checkArray(v: unknown, path: string, min: number, what: string): unknown[] {
  if (!Array.isArray(v)) return bad(path, `must be an array of ${what}`);
  if (v.length < min) bad(path, `must hold at least ${min} ${what}, got ${v.length}`);
  return v;
}

function checkLine(v: unknown, path: string): void {
  checkArray(v, path, 2, 'positions').forEach((p, i) => checkPosition(p, `${path}[${i}]`));
}

function checkPolygon(v: unknown, path: string): void {
  checkArray(v, path, 1, 'linear rings').forEach((ring, r) => {
    const at = `${path}[${r}]`;
    const ps = checkArray(ring, at, 4, 'positions (a linear ring is closed and has at least 4)').map((p, i) =>
      checkPosition(p, `${at}[${i}]`),
    );
    const [first, last] = [ps[0] as Position, ps[ps.length - 1] as Position];
    if (first[0] !== last[0] || first[1] !== last[1] || first[2] !== last[2])
      bad(at, 'is not closed: its first and last positions differ');
  });
}

/**
 * Builds the geometry of the given type from its `coordinates` (RFC 7946 §3.1.2–§3.1.7), checking
 * positions `[lon, lat(, alt)]` in range, lines of ≥ 2 positions, closed rings of ≥ 4 positions
 * and no empty multi-geometry.
 * @throws InvalidGeometryError naming the offending element, e.g. `coordinates[0][2]`.
 */
export function checkCoordinates(
  type: QueryGeometryType,
  coordinates: unknown,
  path = 'coordinates',
): SimpleGeometry {
  const each = (what: string, check: (v: unknown, at: string) => unknown): void => {
    checkArray(coordinates, path, 1, what).forEach((v, i) => check(v, `${path}[${i}]`));
  };
  switch (type) {
    case 'Point':
      checkPosition(coordinates, path);
      break;
    case 'MultiPoint':
      each('positions', checkPosition);
      break;
    case 'LineString':
      checkLine(coordinates, path);
      break;
    case 'MultiLineString':
      each('line strings', checkLine);
      break;
    case 'Polygon':
      checkPolygon(coordinates, path);
      break;
    case 'MultiPolygon':
      each('polygons', checkPolygon);
      break;
  }
  return { type, coordinates } as SimpleGeometry;
}

/**
 * Validates the value of a GeoProperty (NGSI-LD §4.7.1): a GeoJSON geometry object (RFC 7946 §3.1)
 * with valid coordinates (see {@link checkCoordinates}) and, if present, a `bbox` of 4 or 6 numbers.
 * §4.7.1 allows every geometry except GeometryCollection, so that one is refused unless
 * `allowGeometryCollection` is set (default `false`). Returns the value itself, typed.
 * @throws InvalidGeometryError with a message naming the offending member.
 */
export function validateGeometry(
  value: unknown,
  options: { allowGeometryCollection?: boolean } = {},
  path = 'geometry',
): GeoJsonGeometry {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return bad(path, 'must be a GeoJSON geometry object');
  const g = value as Record<string, unknown>;
  if (
    g.bbox !== undefined &&
    (!Array.isArray(g.bbox) ||
      (g.bbox.length !== 4 && g.bbox.length !== 6) ||
      !g.bbox.every((n) => typeof n === 'number' && Number.isFinite(n)))
  ) {
    bad(`${path}.bbox`, 'must be an array of 4 or 6 numbers');
  }
  if (g.type === 'GeometryCollection') {
    if (!options.allowGeometryCollection)
      bad(path, 'is a GeometryCollection, which a GeoProperty may not hold (NGSI-LD §4.7.1)');
    checkArray(g.geometries, `${path}.geometries`, 1, 'geometries').forEach((m, i) =>
      validateGeometry(m, options, `${path}.geometries[${i}]`),
    );
    return value as GeoJsonGeometry;
  }
  if (typeof g.type !== 'string' || !(QUERY_GEOMETRY_TYPES as readonly string[]).includes(g.type)) {
    return bad(
      `${path}.type`,
      `must be one of ${GEOMETRY_TYPES.join(', ')} (case-sensitive), got ${JSON.stringify(g.type)}`,
    );
  }
  checkCoordinates(g.type as QueryGeometryType, g.coordinates, `${path}.coordinates`);
  return value as GeoJsonGeometry;
}

/** A geo-query that is incomplete or does not follow §4.10; the message says what is wrong. */
export class GeoQuerySyntaxError extends Error {
  override name = 'GeoQuerySyntaxError';
}

/** The raw parameters; `coordinates` is a JSON text (query string) or an already parsed array. */
export type GeoQueryInput = {
  georel?: string;
  geometry?: string;
  coordinates?: unknown;
  geoproperty?: string;
};

/** The default target GeoProperty (§4.10, §4.7.1). */
export const DEFAULT_GEOPROPERTY = 'location';

/** RFC 8259 §6 `number` without the minus sign: §4.10 `PositiveNumber` (which also excludes 0). */
const POSITIVE_NUMBER = /^(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
/** Characters that cannot occur in an attribute name or IRI given as `geoproperty`. */
const BAD_NAME_CHARS = /[\s<>"'=;()\\{}|^`]/u;

const fail = (msg: string): never => {
  throw new GeoQuerySyntaxError(msg);
};

function caseHint(given: string, names: readonly string[]): string {
  const same = names.find((n) => n.toLowerCase() === given.toLowerCase());
  return same === undefined ? '' : ` (names are case-sensitive: did you mean '${same}'?)`;
}

/**
 * Parses `georel` (§4.10 production `georel`): one of {@link GEO_RELS}, case-sensitive, and for
 * `near` exactly one modifier, `maxDistance==<m>` or `minDistance==<m>`, a positive non-zero JSON
 * number of metres (`PositiveNumber`).
 */
export function parseGeoRel(
  text: string,
): Pick<NearGeoQuery, 'georel' | 'modifier' | 'distance'> | Pick<RelationGeoQuery, 'georel'> {
  const [name = '', ...modifiers] = text.split(';');
  if (!(GEO_RELS as readonly string[]).includes(name)) {
    return fail(
      `georel ${JSON.stringify(text)} is not one of ${GEO_RELS.join(', ')}${caseHint(name, GEO_RELS)}`,
    );
  }
  const georel = name as GeoRel;
  if (georel !== 'near') {
    if (modifiers.length > 0) fail(`georel '${georel}' takes no modifier, got ${JSON.stringify(text)}`);
    return { georel };
  }
  if (modifiers.length !== 1) {
    fail(
      `georel 'near' needs exactly one of maxDistance or minDistance, as in near;maxDistance==2000, got ${JSON.stringify(text)}`,
    );
  }
  const m = /^([A-Za-z]+)==(.*)$/s.exec(modifiers[0] ?? '');
  if (!m)
    return fail(
      `georel ${JSON.stringify(text)}: a near modifier is written maxDistance==<metres> or minDistance==<metres>`,
    );
  const [, modifier = '', value = ''] = m;
  if (!(NEAR_MODIFIERS as readonly string[]).includes(modifier)) {
    fail(
      `georel ${JSON.stringify(text)}: '${modifier}' is not one of ${NEAR_MODIFIERS.join(', ')}${caseHint(modifier, NEAR_MODIFIERS)}`,
    );
  }
  const distance = Number(value);
  if (!POSITIVE_NUMBER.test(value) || !(distance > 0) || !Number.isFinite(distance)) {
    fail(
      `georel ${JSON.stringify(text)}: ${modifier} must be a positive non-zero number of metres, got ${JSON.stringify(value)}`,
    );
  }
  return { georel: 'near', modifier: modifier as NearModifier, distance };
}

function parseGeometryType(text: string): QueryGeometryType {
  if (text === 'GeometryCollection')
    fail('geometry GeometryCollection cannot be used in a geo-query (NGSI-LD §4.10)');
  if (!(QUERY_GEOMETRY_TYPES as readonly string[]).includes(text)) {
    fail(
      `geometry ${JSON.stringify(text)} is not one of ${QUERY_GEOMETRY_TYPES.join(', ')}${caseHint(text, QUERY_GEOMETRY_TYPES)}`,
    );
  }
  return text as QueryGeometryType;
}

function parseCoordinateValue(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return fail(
      `coordinates ${JSON.stringify(value)} is not a JSON array such as [8,40] or [[[100,0],[101,0],[101,1],[100,0]]]`,
    );
  }
}

function toGeometry(type: QueryGeometryType, coordinates: unknown): SimpleGeometry {
  try {
    return checkCoordinates(type, coordinates);
  } catch (err) {
    if (err instanceof InvalidGeometryError)
      throw new GeoQuerySyntaxError(`${type} ${err.message}`, { cause: err });
    throw err;
  }
}

function parseGeoProperty(value: string | undefined): string {
  if (value === undefined) return DEFAULT_GEOPROPERTY;
  if (value === '') return fail('geoproperty is empty');
  if (BAD_NAME_CHARS.test(value)) fail(`geoproperty ${JSON.stringify(value)} is not an attribute name`);
  return value;
}

/**
 * Parses and validates a geo-query (NGSI-LD §4.10). Returns `undefined` when none of the four
 * parameters is given. `georel`, `geometry` and `coordinates` must come together; `geoproperty`
 * defaults to `location` and stays a term (the caller expands it against the @context).
 * `near` takes a `Point` only. Coordinates follow RFC 7946 §3.1: `[longitude, latitude]` positions
 * in range, closed polygon rings of at least 4 positions.
 * @throws GeoQuerySyntaxError when a parameter is missing, of the wrong kind or invalid.
 */
export function parseGeoQuery(input: GeoQueryInput): GeoQuery | undefined {
  const given = (['georel', 'geometry', 'coordinates', 'geoproperty'] as const).filter(
    (k) => input[k] !== undefined,
  );
  if (given.length === 0) return undefined;
  const missing = (['georel', 'geometry', 'coordinates'] as const).filter((k) => input[k] === undefined);
  if (missing.length > 0) {
    fail(
      `a geo-query needs georel, geometry and coordinates together; ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} missing`,
    );
  }
  for (const k of ['georel', 'geometry', 'geoproperty'] as const) {
    const v: unknown = input[k];
    if (v !== undefined && typeof v !== 'string') fail(`${k} must be a string, got ${typeof v}`);
  }
  const rel = parseGeoRel(input.georel as string);
  const type = parseGeometryType(input.geometry as string);
  const geoproperty = parseGeoProperty(input.geoproperty);
  const coordinates = parseCoordinateValue(input.coordinates);
  if (!Array.isArray(coordinates))
    fail(`coordinates must be a JSON array, got ${JSON.stringify(coordinates)}`);
  const geometry = toGeometry(type, coordinates);
  if (rel.georel === 'near') {
    if (geometry.type !== 'Point') return fail(`georel 'near' needs geometry Point, got ${type}`);
    return { ...rel, geometry, geoproperty };
  }
  return { georel: rel.georel, geometry, geoproperty };
}

/** The query-string form of a parsed geo-query, e.g. for a subscription's `geoQ` (§5.2.13). */
export function formatGeoQuery(query: GeoQuery): {
  georel: string;
  geometry: QueryGeometryType;
  coordinates: unknown;
  geoproperty: string;
} {
  const georel = query.georel === 'near' ? `near;${query.modifier}==${query.distance}` : query.georel;
  return {
    georel,
    geometry: query.geometry.type,
    coordinates: query.geometry.coordinates,
    geoproperty: query.geoproperty,
  };
}
