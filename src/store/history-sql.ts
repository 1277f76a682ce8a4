/**
 * The SQL shapes of the attribute history shared by its reads and writes: the row types, the
 * conversions between rows and the history port's records, and the WHERE conditions of an
 * instance selection.
 */
import type pg from 'pg';
import type { QueryResultRow } from 'pg';
import type { HistoryEntity, HistoryInstance, InstanceSelection } from '../core/history-store.js';
import type { StoredAttribute } from '../core/entity-model.js';

export type Run = <R extends QueryResultRow>(sql: string, params?: unknown[]) => Promise<pg.QueryResult<R>>;

export interface InstanceRow extends QueryResultRow {
  entity_id: string;
  attr: string;
  dataset_id: string;
  instance_id: string;
  observed_at: string | null;
  created_at: string;
  modified_at: string;
  deleted_at: string | null;
  instance: StoredAttribute;
}

export interface EntityRow extends QueryResultRow {
  id: string;
  types: string[];
  scopes: string[] | null;
  created_at: string;
  modified_at: string;
  deleted_at: string | null;
}

export const INSTANCE_COLUMNS =
  'entity_id, attr, dataset_id, instance_id, observed_at, created_at, modified_at, deleted_at, instance';

/** The column a timeproperty reads (NGSI-LD §4.11 timeproperty). */
export const TIME_COLUMN = {
  observedAt: 'observed_at',
  createdAt: 'created_at',
  modifiedAt: 'modified_at',
  deletedAt: 'deleted_at',
} as const;

export const iso = (s: string): string => new Date(s).toISOString();

/** Inserts the instances of a jsonb recordset of `toRecord` objects ($2) for tenant $1. */
export const INSERT_INSTANCES = `INSERT INTO attribute_history (tenant, entity_id, attr, dataset_id, instance_id, ts, observed_at, created_at, modified_at, deleted_at, num, instance)
  SELECT $1, x.e, x.a, x.d, x.i, x.ts, x.o, x.c, x.m, x.x, x.n, x.j
  FROM jsonb_to_recordset($2::jsonb) AS x(e text, a text, d text, i text, ts timestamptz, o timestamptz, c timestamptz, m timestamptz, x timestamptz, n float8, j jsonb)`;

/** The numeric value of an instance, if it is a Property holding a finite number. */
function numOf(i: StoredAttribute): number | null {
  return i.type === 'Property' && typeof i.value === 'number' && Number.isFinite(i.value) ? i.value : null;
}

export function toRecord(r: HistoryInstance) {
  return {
    e: r.entityId,
    a: r.attr,
    d: r.datasetId ?? '',
    i: r.instanceId,
    ts: r.observedAt ?? r.deletedAt ?? r.modifiedAt,
    o: r.deletedAt === undefined ? (r.observedAt ?? null) : null,
    c: r.createdAt,
    m: r.modifiedAt,
    x: r.deletedAt ?? null,
    n: r.deletedAt === undefined ? numOf(r.instance) : null,
    j: r.instance,
    del: r.deletedAt !== undefined,
  };
}

export function toInstance(row: InstanceRow): HistoryInstance {
  const out: HistoryInstance = {
    entityId: row.entity_id,
    attr: row.attr,
    instanceId: row.instance_id,
    createdAt: iso(row.created_at),
    modifiedAt: iso(row.modified_at),
    instance: row.instance,
  };
  if (row.dataset_id !== '') out.datasetId = row.dataset_id;
  if (row.observed_at !== null) out.observedAt = iso(row.observed_at);
  if (row.deleted_at !== null) out.deletedAt = iso(row.deleted_at);
  return out;
}

export function toEntity(row: EntityRow): HistoryEntity {
  const e: HistoryEntity = {
    id: row.id,
    types: row.types,
    createdAt: iso(row.created_at),
    modifiedAt: iso(row.modified_at),
  };
  if (row.scopes && row.scopes.length > 0) e.scopes = row.scopes;
  if (row.deleted_at !== null) e.deletedAt = iso(row.deleted_at);
  return e;
}

/** WHERE conditions of an instance selection over `attribute_history` (no alias). */
export function selectionSql(sel: InstanceSelection, params: unknown[]): string[] {
  const out: string[] = [];
  if (sel.attrs) out.push(`attr = ANY($${params.push(sel.attrs)}::text[])`);
  if (sel.omitAttrs) out.push(`attr <> ALL($${params.push(sel.omitAttrs)}::text[])`);
  if (sel.datasetIds)
    out.push(
      `dataset_id = ANY($${params.push(sel.datasetIds.map((d) => (d === '@none' ? '' : d)))}::text[])`,
    );
  const col = TIME_COLUMN[sel.timeproperty];
  // Deletions are instances of the deletedAt timeline only (NGSI-LD §4.5.7 deletedAt).
  out.push(sel.timeproperty === 'deletedAt' ? 'deleted_at IS NOT NULL' : 'deleted_at IS NULL');
  // observedAt is the partition key where present: the same bound on ts lets PostgreSQL prune partitions.
  const cols = sel.timeproperty === 'observedAt' ? [col, 'ts'] : [col];
  if (sel.from !== undefined) {
    const at = params.push(new Date(sel.from).toISOString());
    for (const c of cols) out.push(`${c} ${sel.fromExclusive ? '>' : '>='} $${at}::timestamptz`);
  }
  if (sel.to !== undefined) {
    const at = params.push(new Date(sel.to).toISOString());
    for (const c of cols) out.push(`${c} < $${at}::timestamptz`);
  }
  return out;
}
