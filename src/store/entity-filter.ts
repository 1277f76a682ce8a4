/**
 * Compiles an EntityQuery to a SQL FROM/WHERE over `entities e` that the indexes can serve:
 * primary key for ids, GIN on types and attrs, GiST on geometry boxes.
 */
import type { EntityQuery, EntitySelector } from '../core/store.js';
import type { TypeExpr } from '../core/query/type-expr.js';
import { searchBox } from '../core/geo/geometry.js';
import { compileQ, compileScopeQ } from './q-to-sql.js';

/** `params[0]` must already hold the tenant. */
export function buildEntityFilter(query: EntityQuery, params: unknown[]): { from: string; where: string } {
  const where: string[] = ['e.tenant = $1'];
  let from = 'entities e';
  where.push(...selectorSql(query, params));
  if (query.anyOf && query.anyOf.length > 0) {
    where.push(
      `(${query.anyOf.map((s) => `(${selectorSql(s, params).join(' AND ') || 'true'})`).join(' OR ')})`,
    );
  }
  if (query.withAnyAttr && query.withAnyAttr.length > 0)
    where.push(`e.attr_names && $${params.push(query.withAnyAttr)}::text[]`);
  if (query.q) {
    where.push(
      compileQ(
        query.q.expr,
        {
          expandAttr: query.q.expandAttr,
          expandValue: query.q.expandValue,
          column: 'e.attrs',
          // Linked-entity paths (rel{Type:attr}) look up the target in the same tenant.
          linked: { table: 'entities', where: (alias) => `${alias}.tenant = e.tenant` },
        },
        params,
      ),
    );
  }
  if (query.scopeQ) where.push(compileScopeQ(query.scopeQ, 'e.scopes', params));
  if (query.geo) {
    const box = searchBox(query.geo.query);
    from += ` JOIN entity_geo g ON g.tenant = e.tenant AND g.entity_id = e.id AND g.attr = $${params.push(query.geo.geoPropertyIri)}`;
    if (box) {
      const at = params.push(box[0], box[1], box[2], box[3]);
      where.push(`g.bbox && box(point($${at - 3}, $${at - 2}), point($${at - 1}, $${at}))`);
    }
  }
  return { from, where: where.join(' AND ') };
}

function selectorSql(s: EntitySelector, params: unknown[]): string[] {
  const out: string[] = [];
  if (s.ids && s.ids.length > 0) out.push(`e.id = ANY($${params.push(s.ids)}::text[])`);
  if (s.idPattern !== undefined) out.push(`e.id ~ $${params.push(s.idPattern)}`);
  if (s.type) out.push(typeSql(s.type, params));
  return out;
}

function typeSql(t: TypeExpr, params: unknown[]): string {
  switch (t.kind) {
    case 'type':
      return `e.types @> ARRAY[$${params.push(t.name)}::text]`;
    case 'or': {
      // Pure any-of lists become one indexable overlap test.
      if (t.items.every((i) => i.kind === 'type')) {
        return `e.types && $${params.push(t.items.map((i) => (i as { name: string }).name))}::text[]`;
      }
      return `(${t.items.map((i) => typeSql(i, params)).join(' OR ')})`;
    }
    case 'and':
      return `(${t.items.map((i) => typeSql(i, params)).join(' AND ')})`;
  }
}
