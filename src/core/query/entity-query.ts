/**
 * The entity query the storage ports take: the store's (store.ts, which re-exports it) and, in
 * part, the history's (history-store.ts).
 */
import type { GeoQuery } from '../geo/geo-query.js';
import type { QExpr } from './q-parser.js';
import type { ScopeExpr } from './scope-query.js';
import type { TypeExpr } from './type-expr.js';

/** One entity selector of a POST query (NGSI-LD EntitySelector): its members are ANDed. */
export interface EntitySelector {
  ids?: string[];
  idPattern?: string;
  type?: TypeExpr;
}

/** An entity query with every term already expanded to IRIs, except inside `q`. */
export interface EntityQuery {
  /** Any of these selectors (POST /entityOperations/query with several entities). */
  anyOf?: EntitySelector[];
  ids?: string[];
  idPattern?: string;
  /** Type expression over expanded IRIs. */
  type?: TypeExpr;
  /** Entities that have at least one of these attributes (expanded IRIs). */
  withAnyAttr?: string[];
  q?: { expr: QExpr; expandAttr: (term: string) => string; expandValue: (term: string) => string };
  scopeQ?: ScopeExpr;
  geo?: { query: GeoQuery; geoPropertyIri: string };
  /** NGSI-LD v1.9 orderBy: keys in order; the entity id always breaks ties. */
  orderBy?: OrderKey[];
  limit: number;
  offset: number;
  count: boolean;
}

/** One orderBy key: an entity column, or an attribute's value (through sub-attributes, by IRI). */
export type OrderKey =
  | { column: 'id' | 'type' | 'createdAt' | 'modifiedAt'; desc: boolean }
  | {
      attr: string;
      sub: string[];
      member?: 'createdAt' | 'modifiedAt' | 'observedAt' | 'unitCode';
      desc: boolean;
    };
