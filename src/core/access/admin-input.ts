/**
 * Members of an administration request (a JSON body from the API, or the flags of a CLI command
 * made into the same object): checked here once, for both.
 */
import { badRequest } from '../errors.js';
import { isPlainObject } from '../validation.js';

export function reqString(o: Record<string, unknown>, key: string, max = 256): string {
  const v = o[key];
  if (typeof v !== 'string' || v.trim() === '' || v.length > max)
    throw badRequest(`${key} must be a non-empty string of at most ${max} characters`);
  return v;
}

export function optString(o: Record<string, unknown>, key: string, max = 1024): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length > max) throw badRequest(`${key} must be a string`);
  return v;
}

export function optStringList(o: Record<string, unknown>, key: string): string[] | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string' && x !== ''))
    throw badRequest(`${key} must be a non-empty list of names`);
  return v as string[];
}

/** Parses an area: {bbox:[w,s,e,n]} or a GeoJSON Polygon/MultiPolygon. */
export function optArea(o: Record<string, unknown>, key = 'area') {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (isPlainObject(v) && Array.isArray(v.bbox)) {
    const b = v.bbox;
    if (b.length !== 4 || !b.every((n) => typeof n === 'number' && Number.isFinite(n)))
      throw badRequest('area.bbox must be [west, south, east, north]');
    return { bbox: b as [number, number, number, number] };
  }
  if (isPlainObject(v) && (v.type === 'Polygon' || v.type === 'MultiPolygon') && Array.isArray(v.coordinates))
    return v as { type: 'Polygon'; coordinates: number[][][] };
  throw badRequest('area must be {"bbox": [w, s, e, n]} or a GeoJSON Polygon or MultiPolygon');
}
