/**
 * Pure rules for combining stored attributes with incoming ones (NGSI-LD §5.6.3 append,
 * §5.6.2 update, §5.6.4 partial update, §5.6.17 merge). Timestamps: createdAt of an instance
 * survives an overwrite, modifiedAt becomes now.
 */
import { VALUE_MEMBER, type StoredAttribute } from '../core/entity-model.js';

import { NGSI_NULL, languageValuesOf } from '../core/entity-input.js';

export { NGSI_NULL };

/** Replaces or adds the instance with the same datasetId; keeps the old createdAt. */
export function putInstance(list: StoredAttribute[], inst: StoredAttribute): StoredAttribute[] {
  const i = list.findIndex((x) => x.datasetId === inst.datasetId);
  if (i < 0) return [...list, inst];
  const next = [...list];
  const old = list[i] as StoredAttribute;
  const createdAt = old.createdAt ?? inst.createdAt;
  next[i] = { ...inst, ...(createdAt === undefined ? {} : { createdAt }) };
  return next;
}

export function findInstance(
  list: StoredAttribute[] | undefined,
  datasetId: string | undefined,
): StoredAttribute | undefined {
  return list?.find((x) => x.datasetId === datasetId);
}

/**
 * Merges a fragment into an instance (partial attribute update and merge-patch): members given
 * replace members held, sub-attributes merge one level down, the kind may change only if given.
 */
export function mergeInstance(
  old: StoredAttribute,
  patch: StoredAttribute,
  now: string,
  explicitKind: boolean,
): StoredAttribute {
  const merged: StoredAttribute = { ...old, modifiedAt: now };
  const kind = explicitKind ? patch.type : old.type;
  merged.type = kind;
  for (const k of [
    'value',
    'object',
    'objectType',
    'languageMap',
    'vocab',
    'json',
    'valueList',
    'objectList',
    'observedAt',
    'unitCode',
  ] as const) {
    if (patch[k] !== undefined) (merged as unknown as Record<string, unknown>)[k] = patch[k];
  }
  // A concise fragment has the shape of a Property; map its value onto the held kind's member.
  if (
    !explicitKind &&
    patch.type === 'Property' &&
    patch.value !== undefined &&
    old.type !== 'Property' &&
    old.type !== 'GeoProperty'
  ) {
    delete merged.value;
    switch (old.type) {
      case 'Relationship':
        if (typeof patch.value === 'string') merged.object = patch.value;
        break;
      case 'LanguageProperty':
        if (typeof patch.value === 'object') merged.languageMap = patch.value as Record<string, unknown>;
        break;
      case 'JsonProperty':
        merged.json = patch.value;
        break;
      case 'ListProperty':
        if (Array.isArray(patch.value)) merged.valueList = patch.value;
        break;
      case 'VocabProperty':
        if (typeof patch.value === 'string') merged.vocab = patch.value;
        break;
      case 'ListRelationship':
        if (Array.isArray(patch.value)) merged.objectList = patch.value as string[];
        break;
    }
  }
  if (merged.languageMap !== undefined) merged.languageValues = languageValuesOf(merged.languageMap);
  else delete merged.languageValues;
  if (patch.sub) {
    const sub: Record<string, StoredAttribute> = { ...(old.sub ?? {}) };
    for (const [iri, s] of Object.entries(patch.sub)) {
      if (isNullMarker(s)) delete sub[iri];
      else sub[iri] = sub[iri] ? mergeInstance(sub[iri], s, now, true) : s;
    }
    merged.sub = sub;
    if (Object.keys(sub).length === 0) delete merged.sub;
  }
  // A kind change drops the value members of the old kind.
  if (merged.type !== old.type) stripOtherMembers(merged);
  return merged;
}

export { VALUE_MEMBER };

function stripOtherMembers(a: StoredAttribute): void {
  const keep = VALUE_MEMBER[a.type];
  for (const m of new Set(Object.values(VALUE_MEMBER))) {
    if (m !== keep) delete (a as unknown as Record<string, unknown>)[m];
  }
  if (a.type !== 'Relationship') delete a.objectType;
}

/** True when the fragment is NGSI-LD's null marker (merge-patch deletes), whatever the kind. */
export function isNullMarker(a: StoredAttribute): boolean {
  return a.value === NGSI_NULL || a.object === NGSI_NULL;
}
