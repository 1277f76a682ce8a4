/**
 * Turns one group of measures from a device into an NGSI-LD attribute fragment (normalized form,
 * compact names) for the device's entity: measures mapped by object_id to attribute names and
 * typed by the mapping, expressions applied in mapping order, observedAt from the payload's
 * TimeInstant/timestamp or the time of receipt. Pure: the ingestion service writes the result.
 */
import { isDateTime, isPlainObject } from '../validation.js';
import type { AttributeMapping, EffectiveMapping, StaticAttribute } from './device-model.js';
import { compileExpression, evaluateExpression, isNoValue } from './iot-expression.js';
import type { CompiledExpression } from './iot-expression.js';

/** A reading that cannot be mapped (a malformed value for its type): counted as rejected. */
export class ReadingError extends Error {
  override name = 'ReadingError';
}

/** Measure names that carry the observation time, not an attribute (IoT Agent convention). */
export const TIMESTAMP_MEASURES = ['TimeInstant', 'timestamp'] as const;

export interface MappedReading {
  /** NGSI-LD normalized attributes by compact name. */
  attrs: Record<string, Record<string, unknown>>;
  /** The same values as key-values, for schema validation. */
  keyValues: Record<string, unknown>;
  observedAt: string;
}

export interface ReadingContext {
  deviceId: string;
  entityId: string;
  service: string;
  subservice: string;
  receivedAt: string;
  /** A timestamp carried outside the measures (an Ultralight group's first field). */
  timestamp?: string;
}

const GEO_TYPES = new Set([
  'geoproperty',
  'geo:json',
  'geo:point',
  'point',
  'linestring',
  'polygon',
  'multipoint',
  'multilinestring',
  'multipolygon',
]);
const compiled = new Map<string, CompiledExpression>();

function expressionOf(source: string): CompiledExpression {
  let c = compiled.get(source);
  if (!c) {
    c = compileExpression(source);
    if (compiled.size > 10_000) compiled.clear();
    compiled.set(source, c);
  }
  return c;
}

/**
 * Maps one group of measures. Unmapped measures become attributes of their own name unless
 * `explicitAttrs`; `id` and `type` are never attributes. Throws {@link ReadingError} when a value
 * does not fit its declared type or the timestamp is not a date-time.
 */
export function mapReading(
  measures: Readonly<Record<string, unknown>>,
  mapping: EffectiveMapping,
  ctx: ReadingContext,
): MappedReading {
  let observedAt = ctx.timestamp ?? ctx.receivedAt;
  for (const key of TIMESTAMP_MEASURES) {
    const v = measures[key];
    if (v === undefined) continue;
    if (typeof v !== 'string' || !isDateTime(v))
      throw new ReadingError(`${key} is not an ISO 8601 date-time`);
    observedAt = new Date(v).toISOString();
  }
  const scope: Record<string, unknown> = {
    id: ctx.deviceId,
    entity_name: ctx.entityId,
    type: mapping.entity_type,
    service: ctx.service,
    subservice: ctx.subservice,
  };
  for (const [k, v] of Object.entries(measures)) scope[k] = v;
  const present = new Set(Object.keys(measures));
  // Expressions may name a measure by its attribute name too (`level` for object_id `l`).
  for (const m of mapping.attributes) {
    const measure = m.object_id ?? m.name;
    if (
      m.expression === undefined &&
      m.object_id !== undefined &&
      present.has(measure) &&
      !present.has(m.name)
    ) {
      scope[m.name] = measures[measure];
      present.add(m.name);
    }
  }

  const attrs: MappedReading['attrs'] = {};
  const keyValues: Record<string, unknown> = {};
  const mapped = new Set<string>();
  const put = (name: string, type: string, raw: unknown, metadata?: Record<string, unknown>) => {
    const attr = toAttribute(name, type, raw, metadata);
    attr.observedAt = observedAt;
    attrs[name] = attr;
    keyValues[name] = attr.type === 'Relationship' ? attr.object : attr.value;
  };
  for (const m of mapping.attributes) {
    const measure = m.object_id ?? m.name;
    mapped.add(measure);
    let value: unknown = present.has(measure) ? measures[measure] : undefined;
    if (m.expression !== undefined) {
      const expr = expressionOf(m.expression);
      // Like the IoT Agent: an expression runs when the reading carries one of its inputs.
      if (expr.variables.some((v) => present.has(v))) {
        value = evaluateExpression(expr, scope);
        if (isNoValue(value) || (m.skipValue !== undefined && deepEqual(value, m.skipValue))) continue;
        scope[m.name] = value;
        present.add(m.name);
      } else if (!present.has(measure)) continue;
    } else if (!present.has(measure)) continue;
    if (isNoValue(value)) continue;
    put(m.name, m.type, value, m.metadata);
  }
  if (!mapping.explicitAttrs) {
    const commandNames = new Set(mapping.commands.map((c) => c.name));
    for (const [k, v] of Object.entries(measures)) {
      if (mapped.has(k) || k === 'id' || k === 'type' || commandNames.has(k)) continue;
      if ((TIMESTAMP_MEASURES as readonly string[]).includes(k)) continue;
      if (mapping.attributes.some((m) => m.name === k)) continue;
      if (isNoValue(v)) continue;
      put(k, 'Property', v);
    }
  }
  return { attrs, keyValues, observedAt };
}

/** Static attributes as NGSI-LD attributes (written when the entity is created). */
export function staticAttributes(list: readonly StaticAttribute[]): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const s of list) out[s.name] = toAttribute(s.name, s.type, s.value, s.metadata);
  return out;
}

/**
 * One value as an NGSI-LD attribute of the mapping's type: Relationship, GeoProperty (GeoJSON,
 * `lat, lon` text as geo:point is written, or [lon, lat]), numbers and booleans converted from
 * text (Ultralight sends text), anything else a Property as is. `metadata.unitCode` becomes the
 * attribute's unitCode, other metadata sub-properties.
 */
export function toAttribute(
  name: string,
  type: string,
  raw: unknown,
  metadata?: Record<string, unknown>,
): Record<string, unknown> {
  const t = type.toLowerCase();
  let attr: Record<string, unknown>;
  if (t === 'relationship') {
    if (typeof raw !== 'string' || !/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(raw))
      throw new ReadingError(`${name}: a Relationship needs a URI, got ${JSON.stringify(raw)}`);
    attr = { type: 'Relationship', object: raw };
  } else if (GEO_TYPES.has(t)) attr = { type: 'GeoProperty', value: toGeoJson(name, t, raw) };
  else attr = { type: 'Property', value: convert(name, t, raw) };
  if (metadata) {
    for (const [k, v] of Object.entries(metadata)) {
      const value = isPlainObject(v) && 'value' in v ? v.value : v;
      if (k === 'unitCode' && typeof value === 'string') attr.unitCode = value;
      else attr[k] = { type: 'Property', value };
    }
  }
  return attr;
}

function convert(name: string, t: string, raw: unknown): unknown {
  switch (t) {
    case 'number':
    case 'float':
    case 'double':
    case 'integer':
    case 'int': {
      const n =
        typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (!Number.isFinite(n)) throw new ReadingError(`${name}: ${JSON.stringify(raw)} is not a number`);
      if ((t === 'integer' || t === 'int') && !Number.isInteger(n))
        throw new ReadingError(`${name}: ${JSON.stringify(raw)} is not an integer`);
      return n;
    }
    case 'boolean':
    case 'bool':
      if (raw === true || raw === 'true' || raw === 1 || raw === '1') return true;
      if (raw === false || raw === 'false' || raw === 0 || raw === '0') return false;
      throw new ReadingError(`${name}: ${JSON.stringify(raw)} is not a boolean`);
    case 'text':
    case 'string':
      return typeof raw === 'string' ? raw : JSON.stringify(raw);
    case 'datetime':
    case 'date':
      if (typeof raw !== 'string' || Number.isNaN(Date.parse(raw)))
        throw new ReadingError(`${name}: ${JSON.stringify(raw)} is not a date`);
      return raw;
    default:
      // Plain JSON numbers arrive as text from Ultralight: keep numeric text a number.
      if (typeof raw === 'string' && /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(raw) && t !== 'property')
        return Number(raw);
      return raw;
  }
}

function toGeoJson(name: string, t: string, raw: unknown): unknown {
  if (isPlainObject(raw) && typeof raw.type === 'string') return raw;
  let nums: number[] | undefined;
  if (typeof raw === 'string') nums = raw.split(',').map((s) => Number(s.trim()));
  else if (Array.isArray(raw)) nums = raw.map((x) => (typeof x === 'number' ? x : Number(x)));
  if (!nums || nums.length !== 2 || !nums.every(Number.isFinite))
    throw new ReadingError(`${name}: ${JSON.stringify(raw)} is not a position`);
  // NGSI v2 geo:point text is "lat, lon"; arrays follow GeoJSON [lon, lat].
  const [a, b] = nums as [number, number];
  const coordinates = typeof raw === 'string' && t !== 'point' ? [b, a] : [a, b];
  return { type: 'Point', coordinates };
}

function deepEqual(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/** The measure names an attribute mapping reads (for docs and checks). */
export function measureOf(m: AttributeMapping): string {
  return m.object_id ?? m.name;
}
