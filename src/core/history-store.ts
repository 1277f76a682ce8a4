/**
 * The history port: attribute instances over time (NGSI-LD §4.5.? temporal representation,
 * §5.6.11-5.6.16 temporal provision, §5.7.3-5.7.4 temporal consumption). The PostgreSQL adapter
 * keeps them in a time-partitioned table written in the same transaction as the current state.
 */
import type { StoredAttribute } from './entity-model.js';
import type { EntityQuery } from './query/entity-query.js';
import type { AggrMethod, TimeProperty } from './temporal/temporal-query.js';

/** One attribute instance in the history. */
export interface HistoryInstance {
  entityId: string;
  /** Expanded attribute IRI. */
  attr: string;
  datasetId?: string;
  /** urn:ngsi-ld:… , unique per instance. */
  instanceId: string;
  observedAt?: string;
  createdAt: string;
  modifiedAt: string;
  /** Set on the instance that records a deletion (attribute or entity deleted). */
  deletedAt?: string;
  /** The instance as stored (value, sub-attributes, …). */
  instance: StoredAttribute;
}

/** What the history knows of an entity, kept after the entity itself is deleted. */
export interface HistoryEntity {
  id: string;
  types: string[];
  scopes?: string[];
  createdAt: string;
  modifiedAt: string;
  deletedAt?: string;
}

/** Which instances of the selected entities to read. */
export interface InstanceSelection {
  /** Expanded attribute IRIs; undefined: all. */
  attrs?: string[];
  /** Expanded attribute IRIs to leave out (omit). */
  omitAttrs?: string[];
  /** datasetIds to keep ('@none' = the default instance). */
  datasetIds?: string[];
  timeproperty: TimeProperty;
  /** Epoch ms window; `fromExclusive` for timerel=after. */
  from?: number;
  to?: number;
  fromExclusive?: boolean;
}

/** One aggregated period of one attribute instance series. */
export interface AggregateRow {
  entityId: string;
  attr: string;
  datasetId?: string;
  /** Index into the bounds: the period [bounds[k], bounds[k+1]). */
  period: number;
  count: number;
  distinctCount?: number;
  numCount: number;
  sum: number;
  sumsq: number;
  min: number | null;
  max: number | null;
}

export const ROLLUP_GRAINS = ['minute', 'hour'] as const;
export type RollupGrain = (typeof ROLLUP_GRAINS)[number];

export interface RetentionPolicy {
  /** '*' for every tenant, type or attribute. */
  tenant: string;
  entityType: string;
  attr: string;
  /** ISO 8601 duration as given (fixed length). */
  keep: string;
  keepSeconds: number;
}

/** History operations inside the write transaction. */
export interface HistoryTx {
  /**
   * Appends instances and upserts what the history knows of their entities; keeps the rollups in
   * step. `replaceSameObservedAt` first drops instances of the same attribute and datasetId with
   * the same observedAt (temporal provision sends an instance again to correct it).
   */
  append(
    tenant: string,
    entities: HistoryEntity[],
    rows: HistoryInstance[],
    opts?: { replaceSameObservedAt?: boolean },
  ): Promise<void>;
  getEntity(tenant: string, id: string): Promise<HistoryEntity | undefined>;
  /** Deletes the whole history of an entity; false if there was none. */
  deleteEntity(tenant: string, id: string): Promise<boolean>;
  /** Deletes an attribute's history: the default instances, one datasetId, or all. Returns the count. */
  deleteAttribute(
    tenant: string,
    id: string,
    attr: string,
    which: { datasetId?: string; all?: boolean },
  ): Promise<number>;
  getInstance(
    tenant: string,
    id: string,
    attr: string,
    instanceId: string,
  ): Promise<HistoryInstance | undefined>;
  /** Replaces one instance (same instanceId); false if it is not there. */
  replaceInstance(tenant: string, row: HistoryInstance): Promise<boolean>;
  deleteInstance(tenant: string, id: string, attr: string, instanceId: string): Promise<boolean>;
}

export interface HistoryEntityQuery extends Pick<
  EntityQuery,
  'ids' | 'idPattern' | 'type' | 'scopeQ' | 'anyOf'
> {
  /** Entities that have history of one of these attributes (within the window, if any). */
  withAnyAttr?: string[];
  /** Entities that have history in one of these datasetIds ('@none' = the default instance). */
  withDatasetIds?: string[];
  window?: Pick<InstanceSelection, 'timeproperty' | 'from' | 'to' | 'fromExclusive'>;
  limit: number;
  offset: number;
  count: boolean;
}

export interface HistoryStore extends HistoryTx {
  queryEntities(
    tenant: string,
    q: HistoryEntityQuery,
  ): Promise<{ entities: HistoryEntity[]; count?: number }>;
  /**
   * Instances of the entities, oldest first per attribute. With `lastN` the newest N per attribute;
   * otherwise at most `limit` per attribute (one more is read to tell that there are more).
   */
  instances(
    tenant: string,
    entityIds: string[],
    sel: InstanceSelection,
    page: { lastN?: number; limit: number },
  ): Promise<HistoryInstance[]>;
  /** The earliest and latest time of the selection per entity (aggregation periods start there). */
  timeRange(
    tenant: string,
    entityIds: string[],
    sel: InstanceSelection,
  ): Promise<Map<string, { first: number; last: number }>>;
  /**
   * Aggregates per period [bounds[k], bounds[k+1]) in SQL; from the rollups of `grain` when
   * given (the bounds must then fall on the grain and the methods be composable).
   */
  aggregate(
    tenant: string,
    entityIds: string[],
    sel: InstanceSelection,
    bounds: number[],
    methods: AggrMethod[],
    grain?: RollupGrain,
  ): Promise<AggregateRow[]>;
  maintenance: HistoryMaintenance;
}

/** Background and operator work on the history (jobs and the CLI). */
export interface HistoryMaintenance {
  /** Creates the monthly partitions from `monthsBack` before to `monthsAhead` after now. Returns names created. */
  ensurePartitions(now: Date, monthsBack: number, monthsAhead: number): Promise<string[]>;
  listPartitions(): Promise<{ name: string; from: string | null; to: string | null; rows: number }[]>;
  setRetention(p: Omit<RetentionPolicy, 'keepSeconds'> & { keepSeconds: number }): Promise<void>;
  removeRetention(tenant: string, entityType: string, attr: string): Promise<boolean>;
  listRetention(): Promise<RetentionPolicy[]>;
  /** Applies the retention policies at `now`: drops expired partitions, bulk-deletes narrower expiries. */
  applyRetention(now: Date): Promise<{ droppedPartitions: string[]; deletedRows: number }>;
  /** Recomputes the rollups from the raw instances (all, or one tenant). Returns rollup rows written. */
  rebuildRollups(tenant?: string): Promise<number>;
  rollupStats(): Promise<{ grain: RollupGrain; rows: number; first: string | null; last: string | null }[]>;
  /**
   * Runs `fn` only if this instance holds the advisory lock `key` (singleton jobs across hub
   * instances); returns undefined when another instance holds it.
   */
  withJobLock<T>(key: number, fn: () => Promise<T>): Promise<T | undefined>;
}
