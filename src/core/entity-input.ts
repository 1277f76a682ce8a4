/**
 * Turns an NGSI-LD entity or attribute fragment from a request (normalized or concise, NGSI-LD
 * §4.5 and §4.5.1 concise representation) into the stored, expanded form. Pure: the caller gives
 * the active @context and the current time.
 */
import type { ActiveContext } from './context/active-context.js';
import type { AttributeKind, StoredAttribute, StoredEntity } from './entity-model.js';
import { ATTRIBUTE_KINDS } from './entity-model.js';
import { badRequest, invalidRequest } from './errors.js';
import { GEOMETRY_TYPES, InvalidGeometryError, validateGeometry } from './geo/geometry.js';
import { isDateTime, isPlainObject, isUri, isValidName } from './validation.js';

/** Entity members that are not attributes (NGSI-LD §4.5.2). */
export const ENTITY_RESERVED = new Set([
  'id',
  '@id',
  'type',
  '@type',
  'scope',
  '@context',
  'createdAt',
  'modifiedAt',
  'deletedAt',
]);

/** Attribute members that are not sub-attributes (NGSI-LD §4.5.2-4.5.x). */
export const ATTRIBUTE_RESERVED = new Set([
  'type',
  'value',
  'object',
  'objectType',
  'languageMap',
  'vocab',
  'json',
  'valueList',
  'objectList',
  'datasetId',
  'observedAt',
  'unitCode',
  'createdAt',
  'modifiedAt',
  'deletedAt',
  'instanceId',
  'lang',
  '@context',
  'previousValue',
  'previousObject',
  'previousLanguageMap',
  'previousVocab',
  'previousJson',
  'previousValueList',
  'previousObjectList',
]);

const GEOJSON_TYPES = new Set<string>(GEOMETRY_TYPES);
const KINDS = new Set<string>(ATTRIBUTE_KINDS);

export interface ParseOptions {
  /** The time stamped as createdAt/modifiedAt on new instances. */
  now: string;
  /** Allow `null` attribute values (merge-patch: delete). Default false. */
  allowNull?: boolean;
}

/** Parses a whole entity. The id and type are required unless `partial` (fragments for PATCH/append). */
export function parseEntity(body: unknown, ctx: ActiveContext, opts: ParseOptions): StoredEntity {
  if (!isPlainObject(body)) throw invalidRequest('An entity must be a JSON object');
  const id = body.id ?? body['@id'];
  if (!isUri(id))
    throw badRequest(
      id === undefined ? 'The entity has no id' : `Invalid entity id: ${JSON.stringify(id)} is not a URI`,
    );
  const types = parseTypes(body.type ?? body['@type'], ctx, true);
  const entity: StoredEntity = { id, types, attrs: parseAttributes(body, ctx, opts) };
  if (body.scope !== undefined) entity.scopes = parseScopes(body.scope);
  return entity;
}

/** Parses an entity fragment: a set of attributes, maybe with id/type/scope (append, update, merge). */
export function parseFragment(
  body: unknown,
  ctx: ActiveContext,
  opts: ParseOptions,
): {
  id?: string;
  types?: string[];
  scopes?: string[] | null;
  attrs: Record<string, StoredAttribute[] | null>;
} {
  if (!isPlainObject(body)) throw badRequest('The request body must be a JSON object');
  const out: {
    id?: string;
    types?: string[];
    scopes?: string[] | null;
    attrs: Record<string, StoredAttribute[] | null>;
  } = {
    attrs: parseAttributes(body, ctx, opts),
  };
  const id = body.id ?? body['@id'];
  if (id !== undefined) {
    if (!isUri(id)) throw badRequest(`Invalid entity id: ${JSON.stringify(id)} is not a URI`);
    out.id = id;
  }
  const type = body.type ?? body['@type'];
  if (type !== undefined) out.types = parseTypes(type, ctx, true);
  if (body.scope === null && opts.allowNull) out.scopes = null;
  else if (body.scope !== undefined) out.scopes = parseScopes(body.scope);
  return out;
}

export function parseTypes(raw: unknown, ctx: ActiveContext, required: boolean): string[] {
  if (raw === undefined) {
    if (required) throw badRequest('The entity has no type');
    return [];
  }
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) throw badRequest('The entity type list is empty');
  const out: string[] = [];
  for (const t of list) {
    if (!isValidName(t)) throw badRequest(`Invalid entity type: ${JSON.stringify(t)}`);
    const iri = ctx.expand(t);
    if (iri.startsWith('@'))
      throw badRequest(`Invalid entity type: ${JSON.stringify(t)} is a JSON-LD keyword`);
    if (!out.includes(iri)) out.push(iri);
  }
  return out;
}

function parseScopes(raw: unknown): string[] {
  const list = Array.isArray(raw) ? raw : [raw];
  for (const s of list) {
    if (typeof s !== 'string' || !/^\/[^\s#+]*$/.test(s) || (s.endsWith('/') && s !== '/')) {
      throw badRequest(`Invalid scope: ${JSON.stringify(s)} (a scope is a path like /Madrid/Gardens)`);
    }
  }
  return [...new Set(list as string[])];
}

function parseAttributes<N extends boolean | undefined>(
  body: Record<string, unknown>,
  ctx: ActiveContext,
  opts: ParseOptions & { allowNull?: N },
): Record<string, StoredAttribute[]> & Record<string, StoredAttribute[] | null> {
  const attrs: Record<string, StoredAttribute[] | null> = {};
  for (const [name, raw] of Object.entries(body)) {
    if (ENTITY_RESERVED.has(name)) continue;
    if (!isValidName(name)) throw badRequest(`Invalid attribute name: ${JSON.stringify(name)}`);
    const iri = ctx.expand(name);
    if (iri.startsWith('@'))
      throw badRequest(`Invalid attribute name: ${JSON.stringify(name)} is a JSON-LD keyword`);
    if (raw === null) {
      if (!opts.allowNull) throw badRequest(`Attribute ${name} has a null value`);
      attrs[iri] = null;
      continue;
    }
    attrs[iri] = parseAttributeInstances(name, raw, ctx, opts);
  }
  return attrs as Record<string, StoredAttribute[]>;
}

/** Parses an attribute's value in a request: one instance, or an array of instances with datasetIds. */
export function parseAttributeInstances(
  name: string,
  raw: unknown,
  ctx: ActiveContext,
  opts: ParseOptions,
): StoredAttribute[] {
  const isInstanceArray =
    Array.isArray(raw) &&
    raw.length > 0 &&
    raw.every(
      (x) => isPlainObject(x) && (typeof x.type === 'string' ? KINDS.has(x.type) : hasValueMember(x)),
    );
  const list = isInstanceArray ? (raw as unknown[]) : [raw];
  const out: StoredAttribute[] = [];
  const seen = new Set<string>();
  for (const item of list) {
    const inst = parseAttribute(name, item, ctx, opts, false);
    const key = inst.datasetId ?? '';
    if (seen.has(key)) {
      throw badRequest(
        `Attribute ${name} has two instances with the same datasetId${key ? ` ${key}` : ' (default)'}`,
      );
    }
    seen.add(key);
    out.push(inst);
  }
  return out;
}

function hasValueMember(o: Record<string, unknown>): boolean {
  return ['value', 'object', 'languageMap', 'vocab', 'json', 'valueList', 'objectList'].some((k) => k in o);
}

function isGeometryLike(o: Record<string, unknown>): boolean {
  return typeof o.type === 'string' && GEOJSON_TYPES.has(o.type) && ('coordinates' in o || 'geometries' in o);
}

/** Infers the attribute kind of a concise attribute (NGSI-LD §4.5.1.2). */
function inferKind(o: Record<string, unknown>): AttributeKind {
  if ('object' in o) return 'Relationship';
  if ('languageMap' in o) return 'LanguageProperty';
  if ('vocab' in o) return 'VocabProperty';
  if ('json' in o) return 'JsonProperty';
  if ('valueList' in o) return 'ListProperty';
  if ('objectList' in o) return 'ListRelationship';
  if (isGeometryLike(o)) return 'GeoProperty';
  // Concise GeoProperty with metadata, {"value": <GeoJSON geometry>, "observedAt": …}, whatever its name.
  if ('value' in o && isPlainObject(o.value) && isGeometryLike(o.value)) return 'GeoProperty';
  return 'Property';
}

function parseAttribute(
  name: string,
  raw: unknown,
  ctx: ActiveContext,
  opts: ParseOptions,
  isSub: boolean,
): StoredAttribute {
  const what = isSub ? `Sub-attribute ${name}` : `Attribute ${name}`;
  if (raw === null) throw badRequest(`${what} has a null value`);
  // Concise: a bare value is a Property (or a GeoProperty for a GeoJSON geometry).
  if (!isPlainObject(raw)) {
    if (raw === NGSI_NULL && opts.allowNull) return { type: 'Property', value: NGSI_NULL };
    return stamp({ type: 'Property', value: raw }, opts);
  }
  let o = raw;
  let kind: AttributeKind;
  if (typeof o.type === 'string' && KINDS.has(o.type)) {
    kind = o.type as AttributeKind;
  } else if (o.type !== undefined && !isGeometryLike(o)) {
    throw badRequest(
      `${what} has the type ${JSON.stringify(o.type)}, which is not an NGSI-LD attribute type (${ATTRIBUTE_KINDS.join(', ')})`,
    );
  } else {
    kind = inferKind(o);
    if (kind === 'GeoProperty' && isGeometryLike(o)) o = { value: o };
    else if (kind === 'Property' && !hasValueMember(o)) {
      const raw0 = o;
      o = { value: o };
      // Remember the object: merged into an existing attribute, it is a fragment, not a new value.
      const attr = parseAttribute(name, { type: 'Property', value: raw0 }, ctx, opts, isSub);
      CONCISE_OBJECTS.set(attr, raw0);
      return attr;
    }
  }
  if (opts.allowNull && isNullFragment(kind, o)) {
    const marker: StoredAttribute = { type: kind, value: NGSI_NULL };
    if (o.datasetId !== undefined) {
      if (!isUri(o.datasetId)) throw badRequest(`${what} has a datasetId that is not a URI`);
      marker.datasetId = o.datasetId;
    }
    return marker;
  }
  const attr: StoredAttribute = { type: kind };
  switch (kind) {
    case 'Property':
      if (!('value' in o) || o.value === undefined) throw badRequest(`${what} is a Property without a value`);
      if (o.value === null) throw badRequest(`${what} has a null value`);
      attr.value = o.value;
      break;
    case 'GeoProperty':
      if (!('value' in o)) throw badRequest(`${what} is a GeoProperty without a value`);
      try {
        attr.value = validateGeometry(o.value);
      } catch (err) {
        if (err instanceof InvalidGeometryError) throw badRequest(`${what}: ${err.message}`, err);
        throw err;
      }
      break;
    case 'Relationship': {
      const obj = o.object;
      if (!(isUri(obj) || (Array.isArray(obj) && obj.length > 0 && obj.every(isUri)))) {
        throw badRequest(`${what} is a Relationship whose object is not a URI`);
      }
      attr.object = obj;
      if (o.objectType !== undefined) attr.objectType = expandList(o.objectType, ctx, `${what} objectType`);
      break;
    }
    case 'LanguageProperty': {
      const lm = o.languageMap;
      if (!isPlainObject(lm) || Object.keys(lm).length === 0)
        throw badRequest(`${what} is a LanguageProperty without a languageMap object`);
      for (const [lang, v] of Object.entries(lm)) {
        const ok = typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'));
        if (!ok || !(lang === '@none' || /^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$/.test(lang))) {
          throw badRequest(`${what} has an invalid languageMap entry ${JSON.stringify(lang)}`);
        }
      }
      attr.languageMap = lm;
      attr.languageValues = languageValuesOf(lm);
      break;
    }
    case 'VocabProperty':
      attr.vocab = expandList(o.vocab, ctx, `${what} vocab`);
      break;
    case 'JsonProperty':
      if (!('json' in o) || o.json === null) throw badRequest(`${what} is a JsonProperty without json`);
      attr.json = o.json;
      break;
    case 'ListProperty':
      if (!Array.isArray(o.valueList))
        throw badRequest(`${what} is a ListProperty whose valueList is not an array`);
      attr.valueList = o.valueList;
      break;
    case 'ListRelationship':
      if (
        !Array.isArray(o.objectList) ||
        !o.objectList.every((x) => isUri(x) || (isPlainObject(x) && isUri(x.object)))
      ) {
        throw badRequest(`${what} is a ListRelationship whose objectList is not a list of URIs`);
      }
      attr.objectList = o.objectList.map((x) => (isPlainObject(x) ? (x.object as string) : (x as string)));
      break;
    default: {
      const never: never = kind;
      throw badRequest(`Unknown attribute kind ${String(never)}`);
    }
  }
  if (o.datasetId !== undefined) {
    if (isSub) throw badRequest(`${what} cannot have a datasetId`);
    if (!isUri(o.datasetId)) throw badRequest(`${what} has a datasetId that is not a URI`);
    attr.datasetId = o.datasetId;
  }
  if (o.observedAt !== undefined) {
    if (!isDateTime(o.observedAt))
      throw badRequest(`${what} has an observedAt that is not an ISO 8601 date-time`);
    attr.observedAt = new Date(o.observedAt).toISOString();
  }
  if (o.unitCode !== undefined) {
    if (typeof o.unitCode !== 'string' || o.unitCode.length === 0)
      throw badRequest(`${what} has a unitCode that is not a string`);
    attr.unitCode = o.unitCode;
  }
  for (const [subName, subRaw] of Object.entries(o)) {
    if (ATTRIBUTE_RESERVED.has(subName)) continue;
    if (!isValidName(subName))
      throw badRequest(`${what} has an invalid sub-attribute name ${JSON.stringify(subName)}`);
    attr.sub ??= {};
    // In a merge, a null sub-attribute deletes it (NGSI-LD Null).
    attr.sub[ctx.expand(subName)] =
      subRaw === null && opts.allowNull
        ? { type: 'Property', value: NGSI_NULL }
        : parseAttribute(subName, subRaw, ctx, opts, true);
  }
  return stamp(attr, opts);
}

/**
 * Attributes parsed from a concise object without a value member ({"accuracy": {...}}): read as a
 * Property whose value is that object, but merge-patch reads them as a fragment of the attribute
 * it already holds. Kept beside the parsed attribute, never stored.
 */
export const CONCISE_OBJECTS = new WeakMap<StoredAttribute, Record<string, unknown>>();

/** All strings of a languageMap, for the index (see StoredAttribute.languageValues). */
export function languageValuesOf(map: Record<string, unknown>): string[] {
  return Object.values(map).flatMap((v) =>
    Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : [],
  );
}

/** NGSI-LD §5.2.1 NGSI-LD Null: urn:ngsi-ld:null in the kind's value member deletes (merge-patch). */
export const NGSI_NULL = 'urn:ngsi-ld:null';

function isNullFragment(kind: AttributeKind, o: Record<string, unknown>): boolean {
  switch (kind) {
    case 'Property':
    case 'GeoProperty':
      return o.value === NGSI_NULL;
    case 'Relationship':
      return o.object === NGSI_NULL;
    case 'LanguageProperty':
      return isPlainObject(o.languageMap) && o.languageMap['@none'] === NGSI_NULL;
    case 'VocabProperty':
      return o.vocab === NGSI_NULL;
    case 'JsonProperty':
      return o.json === NGSI_NULL;
    case 'ListProperty':
      return Array.isArray(o.valueList) && o.valueList.length === 1 && o.valueList[0] === NGSI_NULL;
    case 'ListRelationship':
      return (
        Array.isArray(o.objectList) &&
        o.objectList.length === 1 &&
        (o.objectList[0] === NGSI_NULL ||
          (isPlainObject(o.objectList[0]) && o.objectList[0].object === NGSI_NULL))
      );
  }
}

function stamp(attr: StoredAttribute, opts: ParseOptions): StoredAttribute {
  attr.createdAt = opts.now;
  attr.modifiedAt = opts.now;
  return attr;
}

function expandList(raw: unknown, ctx: ActiveContext, what: string): string | string[] {
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0 || !list.every((x) => typeof x === 'string' && x.length > 0)) {
    throw badRequest(`${what} must be a string or a list of strings`);
  }
  const out = (list as string[]).map((x) => ctx.expand(x));
  return Array.isArray(raw) ? out : (out[0] as string);
}
