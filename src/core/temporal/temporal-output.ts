/**
 * Temporal representations of an entity (NGSI-LD §4.5.7 normalized temporal representation,
 * §4.5.9 simplified temporal representation `temporalValues`, §4.5.19 aggregated temporal
 * representation), compacted with the request's @context.
 */
import type { ActiveContext } from '../context/active-context.js';
import type { AttributeKind } from '../entity-model.js';
import { renderAttribute } from '../entity-output.js';
import type { AggregateRow, HistoryEntity, HistoryInstance } from '../history-store.js';
import type { AggrMethod, TemporalFormat, TimeProperty } from './temporal-query.js';
import { formatInstant } from './temporal-query.js';

export const NGSI_NULL = 'urn:ngsi-ld:null';
/**
 * The history keeps the removal of an entity's scope as a deletion instance of this attribute
 * (NGSI-LD §4.18): it shows on the deletedAt timeline as `scope` with an empty value.
 */
export const SCOPE_ATTR = 'https://uri.etsi.org/ngsi-ld/scope';

/** The member that holds the value list in the simplified temporal representation (§4.5.9). */
const VALUES_MEMBER: Record<AttributeKind, string> = {
  Property: 'values',
  GeoProperty: 'values',
  Relationship: 'objects',
  LanguageProperty: 'languageMaps',
  VocabProperty: 'vocabs',
  JsonProperty: 'jsons',
  ListProperty: 'valueLists',
  ListRelationship: 'objectLists',
};

export interface TemporalRenderOptions {
  format: TemporalFormat;
  timeproperty: TimeProperty;
  sysAttrs: boolean;
  /** Hide the id / type / scope members (pick/omit). */
  hideId?: boolean;
  hideType?: boolean;
  hideScope?: boolean;
  /** Series the temporal pagination cut to nothing: they show with no instances (NGSI-LD §6.3.10). */
  emptied?: HistoryInstance[];
  /** Aggregated: the methods and the period bounds (epoch ms) per entity. */
  methods?: AggrMethod[];
  bounds?: Map<string, number[]>;
}

/** One instance as the normalized temporal representation shows it. */
function renderInstance(h: HistoryInstance, ctx: ActiveContext, sysAttrs: boolean): Record<string, unknown> {
  if (h.deletedAt !== undefined) {
    const kind = h.instance.type;
    const out: Record<string, unknown> = { type: kind };
    if (kind === 'Relationship') out.object = NGSI_NULL;
    else if (kind === 'LanguageProperty') out.languageMap = { '@none': NGSI_NULL };
    else if (kind === 'VocabProperty') out.vocab = NGSI_NULL;
    else if (kind === 'JsonProperty') out.json = NGSI_NULL;
    else if (kind === 'ListProperty') out.valueList = NGSI_NULL;
    else if (kind === 'ListRelationship') out.objectList = NGSI_NULL;
    else out.value = h.attr === SCOPE_ATTR ? [] : NGSI_NULL;
    if (h.datasetId !== undefined) out.datasetId = h.datasetId;
    out.instanceId = h.instanceId;
    out.deletedAt = h.deletedAt;
    return out;
  }
  const out = renderAttribute(h.instance, ctx, { format: 'normalized', sysAttrs }) as Record<string, unknown>;
  // observedAt as written (…:00Z), not with the stored milliseconds (…:00.000Z).
  if (h.observedAt !== undefined) out.observedAt = formatInstant(Date.parse(h.observedAt));
  out.instanceId = h.instanceId;
  if (sysAttrs) {
    out.createdAt = h.createdAt;
    out.modifiedAt = h.modifiedAt;
  }
  return out;
}

/** The simplified value of an instance, as §4.5.9 lists it next to its time. */
function simpleValue(h: HistoryInstance, ctx: ActiveContext): unknown {
  const i = h.instance;
  const deleted = h.deletedAt !== undefined;
  switch (i.type) {
    case 'Property':
    case 'GeoProperty':
      if (deleted) return h.attr === SCOPE_ATTR ? [] : NGSI_NULL;
      return i.value;
    case 'Relationship':
      return deleted ? NGSI_NULL : i.object;
    case 'LanguageProperty':
      return { languageMap: deleted ? { '@none': NGSI_NULL } : i.languageMap };
    case 'VocabProperty':
      // Vocabulary terms are IRIs: compacted like type names (NGSI-LD §4.5.20).
      if (deleted || i.vocab === undefined) return { vocab: NGSI_NULL };
      return { vocab: Array.isArray(i.vocab) ? i.vocab.map((v) => ctx.compact(v)) : ctx.compact(i.vocab) };
    case 'JsonProperty':
      return { json: deleted ? NGSI_NULL : i.json };
    case 'ListProperty':
      return { valueList: deleted ? NGSI_NULL : i.valueList };
    case 'ListRelationship':
      return { objectList: deleted ? NGSI_NULL : i.objectList };
  }
}

function timeOf(h: HistoryInstance, p: TimeProperty): string | undefined {
  const t = p === 'observedAt' ? (h.observedAt ?? h.modifiedAt) : h[p];
  return t === undefined ? undefined : formatInstant(Date.parse(t));
}

/**
 * Renders one temporal entity from its instances (oldest first per attribute), in the asked
 * representation. Instances of several datasetIds of one attribute share its array (normalized)
 * or get one object each (temporalValues, aggregated).
 */
export function renderTemporalEntity(
  e: HistoryEntity,
  instances: HistoryInstance[],
  aggregates: AggregateRow[],
  ctx: ActiveContext,
  opts: TemporalRenderOptions,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!opts.hideId) out.id = e.id;
  if (!opts.hideType) {
    const types = e.types.map((t) => ctx.compact(t));
    out.type = types.length === 1 ? types[0] : types;
  }
  if (!opts.hideScope && e.scopes && e.scopes.length > 0)
    out.scope = e.scopes.length === 1 ? e.scopes[0] : e.scopes;
  if (opts.sysAttrs) {
    out.createdAt = e.createdAt;
    out.modifiedAt = e.modifiedAt;
    if (e.deletedAt !== undefined) out.deletedAt = e.deletedAt;
  }
  if (opts.format === 'aggregatedValues') {
    renderAggregates(out, e.id, instances, aggregates, ctx, opts);
    return out;
  }
  // attribute → datasetId ('' = default) → instances; emptied series get an empty list.
  const byAttr = new Map<string, Map<string, HistoryInstance[]>>();
  const kinds = new Map<string, AttributeKind>();
  const inOrder = new Map<string, HistoryInstance[]>();
  const add = (h: HistoryInstance, keep: boolean) => {
    if (h.entityId !== e.id) return;
    const all = inOrder.get(h.attr) ?? [];
    inOrder.set(h.attr, all);
    if (keep) all.push(h);
    const ds = byAttr.get(h.attr) ?? new Map<string, HistoryInstance[]>();
    byAttr.set(h.attr, ds);
    const k = h.datasetId ?? '';
    const list = ds.get(k) ?? [];
    ds.set(k, list);
    if (keep) list.push(h);
    kinds.set(`${h.attr}\u0000${k}`, h.instance.type);
  };
  for (const h of instances) add(h, true);
  for (const h of opts.emptied ?? []) add(h, false);
  for (const [attr, byDataset] of byAttr) {
    const name = ctx.compact(attr);
    if (opts.format === 'normalized') {
      out[name] = (inOrder.get(attr) ?? []).map((h) => renderInstance(h, ctx, opts.sysAttrs));
      continue;
    }
    // temporalValues: one object per datasetId.
    const objs = [...byDataset.entries()].map(([ds, hs]) => {
      const kind = kinds.get(`${attr}\u0000${ds}`) ?? 'Property';
      const o: Record<string, unknown> = { type: kind };
      if (ds !== '') o.datasetId = ds;
      o[VALUES_MEMBER[kind]] = hs.map((h) => [simpleValue(h, ctx), timeOf(h, opts.timeproperty)]);
      return o;
    });
    out[name] = objs.length === 1 ? objs[0] : objs;
  }
  return out;
}

/** An aggregate value of one period, or undefined when the method has nothing to work on. */
export function aggregateValue(r: AggregateRow, m: AggrMethod): number | undefined {
  const n = r.numCount;
  switch (m) {
    case 'totalCount':
      return r.count;
    case 'distinctCount':
      return r.distinctCount;
    case 'sum':
      return n > 0 ? r.sum : undefined;
    case 'avg':
      return n > 0 ? r.sum / n : undefined;
    case 'min':
      return r.min ?? undefined;
    case 'max':
      return r.max ?? undefined;
    case 'sumsq':
      return n > 0 ? r.sumsq : undefined;
    case 'stddev': {
      // Population standard deviation: it composes exactly from count, sum and sum of squares.
      if (n === 0) return undefined;
      const mean = r.sum / n;
      return Math.sqrt(Math.max(0, r.sumsq / n - mean * mean));
    }
  }
}

function renderAggregates(
  out: Record<string, unknown>,
  entityId: string,
  latest: HistoryInstance[],
  rows: AggregateRow[],
  ctx: ActiveContext,
  opts: TemporalRenderOptions,
): void {
  const bounds = opts.bounds?.get(entityId) ?? [];
  const kinds = new Map<string, AttributeKind>();
  for (const h of latest)
    if (h.entityId === entityId) kinds.set(`${h.attr}\u0000${h.datasetId ?? ''}`, h.instance.type);
  const series = new Map<string, AggregateRow[]>();
  for (const r of rows) {
    if (r.entityId !== entityId) continue;
    const k = `${r.attr}\u0000${r.datasetId ?? ''}`;
    series.set(k, [...(series.get(k) ?? []), r]);
  }
  // Attributes with instances but nothing in the range still show, with empty lists.
  for (const k of kinds.keys()) if (!series.has(k)) series.set(k, []);
  const byAttr = new Map<string, Record<string, unknown>[]>();
  for (const [k, list] of [...series.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const [attr = '', ds = ''] = k.split('\u0000');
    const o: Record<string, unknown> = { type: kinds.get(k) ?? 'Property' };
    if (ds !== '') o.datasetId = ds;
    const sorted = [...list].sort((a, b) => a.period - b.period);
    for (const m of opts.methods ?? []) {
      const entries: unknown[] = [];
      for (const r of sorted) {
        const v = aggregateValue(r, m);
        const from = bounds[r.period];
        const to = bounds[r.period + 1];
        if (v === undefined || from === undefined || to === undefined) continue;
        const shown = m === 'totalCount' || m === 'distinctCount' ? v : new AggregatedNumber(v);
        entries.push([shown, formatInstant(from), formatInstant(to)]);
      }
      o[m] = entries;
    }
    byAttr.set(attr, [...(byAttr.get(attr) ?? []), o]);
  }
  for (const [attr, objs] of byAttr) out[ctx.compact(attr)] = objs.length === 1 ? objs[0] : objs;
}

/**
 * An aggregated value: JSON writes it as a decimal (100.0, not 100), because §4.5.19 results are
 * doubles and strict clients compare the number type. See `stringifyTemporal`.
 */
export class AggregatedNumber {
  constructor(readonly value: number) {}
  toJSON(): string {
    return `\u0000N${this.value}\u0000`;
  }
}

/** JSON text of a temporal response, writing AggregatedNumber values as decimals. */
export function stringifyTemporal(body: unknown): string {
  return JSON.stringify(body).replace(/"\\u0000N([^"\\]*)\\u0000"/g, (_m, n: string) =>
    /^-?\d+$/.test(n) ? `${n}.0` : n,
  );
}
