/**
 * The internal, stored shape of an NGSI-LD entity: attribute names and entity types are held as
 * expanded IRIs (so any @context can compact them back), values stay in NGSI-LD normalized form.
 * This is what the store persists in `entities.attrs` (jsonb) and what the q compiler targets.
 *
 * NGSI-LD §4.5 (attribute kinds), §4.5.5 (multi-attributes by datasetId).
 */

export const ATTRIBUTE_KINDS = [
  'Property',
  'Relationship',
  'GeoProperty',
  'LanguageProperty',
  'VocabProperty',
  'JsonProperty',
  'ListProperty',
  'ListRelationship',
] as const;
export type AttributeKind = (typeof ATTRIBUTE_KINDS)[number];

/** One attribute instance. Exactly one value member is set, depending on `type`. */
export interface StoredAttribute {
  type: AttributeKind;
  /** Property, GeoProperty (a GeoJSON geometry). */
  value?: unknown;
  /** Relationship: target entity id(s). */
  object?: string | string[];
  /** Relationship: expanded type IRI(s) of the target. */
  objectType?: string | string[];
  /** LanguageProperty: language tag → string or string[] ("@none" allowed). */
  languageMap?: Record<string, unknown>;
  /**
   * LanguageProperty: every string of languageMap, derived on write and never shown. It lets q
   * equality use the GIN jsonb_path_ops index, which cannot follow `.*` into an object.
   */
  languageValues?: string[];
  /** VocabProperty: expanded IRI(s). */
  vocab?: string | string[];
  /** JsonProperty: any JSON, never expanded. */
  json?: unknown;
  /** ListProperty: ordered values. */
  valueList?: unknown[];
  /** ListRelationship: ordered target entity ids. */
  objectList?: string[];
  datasetId?: string;
  observedAt?: string;
  unitCode?: string;
  /** System attributes (ISO 8601 UTC), always kept, shown with options=sysAttrs. */
  createdAt?: string;
  modifiedAt?: string;
  /** Sub-attributes by expanded IRI (a sub-attribute is never multi-instance). */
  sub?: Record<string, StoredAttribute>;
}

/** The member that holds an attribute's value, per kind. */
export const VALUE_MEMBER: Record<AttributeKind, keyof StoredAttribute> = {
  Property: 'value',
  GeoProperty: 'value',
  Relationship: 'object',
  LanguageProperty: 'languageMap',
  VocabProperty: 'vocab',
  JsonProperty: 'json',
  ListProperty: 'valueList',
  ListRelationship: 'objectList',
};

export interface StoredEntity {
  id: string;
  /** Expanded type IRIs, at least one. */
  types: string[];
  /** NGSI-LD scopes ("/a/b"), if any. */
  scopes?: string[];
  createdAt?: string;
  modifiedAt?: string;
  /** Attribute IRI → instances (one per datasetId; the default instance has no datasetId). */
  attrs: Record<string, StoredAttribute[]>;
}
