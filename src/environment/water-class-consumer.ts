/**
 * The GB 3838-2002 class of each water quality station, kept up to date from the change feed
 * (`environment.water-class`): when a `WaterQualityObserved` entity's readings change, its latest
 * value of each Table 1 item (the entity's current values, not an hour's mean: surface-water
 * classes are assessed per sample, and automatic stations sample a few times a day) is classed
 * by water-class.ts, and the entity gets `waterQualityClass` ("I"…"V", "劣V") and
 * `waterQualityClassDetails` (a JsonProperty: standard, water body, class number and names, the
 * deciding items, each item's value, class, limit, source attribute and time), observed at the
 * newest reading used. Both are kept in history.
 *
 * Smart Data Models WaterQualityObserved → GB 3838-2002 items, all mg/L (unitCode M1 or none):
 * `pH` → pH; `O2` → dissolved oxygen; `cod` → COD; `bod` → BOD5; `NH4` → ammonia nitrogen, read as
 * mg/L of nitrogen (NH3-N, as stations report 氨氮); `P-TOT` → total phosphorus; `N-TOT` → total
 * nitrogen (lakes and reservoirs only). The permanganate index has no SDM term: `permanganateIndex`
 * (NGSI-LD default vocabulary). `PO4` (phosphate) is not total phosphorus and is not read: taking it
 * for TP would make a station look cleaner than it is. A reading in another unit is left out.
 *
 * The water body is the entity's `waterBody` ("river", or "lake"/"reservoir"); river when absent.
 * The names written are not in the SDM context and use the NGSI-LD default vocabulary, so they
 * compact to their short names under any context. The consumer's own writes touch none of the
 * attributes it reads, so they do not come back to it; a result already written is not written again.
 */
import { forEachEntityTouched, type ChangeConsumer, type FeedChange } from '../core/change-feed.js';
import type { ActiveContext } from '../core/context/active-context.js';
import { DEFAULT_VOCAB } from '../core/context/core-context.js';
import { canonicalJson } from '../core/access/audit-chain.js';
import type { StoredAttribute, StoredEntity } from '../core/entity-model.js';
import { waterClass, type WaterBody, type WaterItem } from './water-class.js';

const WQ = 'https://smartdatamodels.org/dataModel.WaterQuality/';
export const WATER_QUALITY_OBSERVED = `${WQ}WaterQualityObserved`;
export const WATER_CLASS_ATTRIBUTES = {
  class: `${DEFAULT_VOCAB}waterQualityClass`,
  details: `${DEFAULT_VOCAB}waterQualityClassDetails`,
} as const;
/** The entity's water body: "river" (default), "lake" or "reservoir". */
export const WATER_BODY_ATTRIBUTE = `${DEFAULT_VOCAB}waterBody`;

/** Attribute IRI → [its short name, the GB 3838-2002 item]. */
const ITEM_OF = new Map<string, [string, WaterItem]>(
  (
    [
      ['pH', 'pH'],
      ['O2', 'dissolvedOxygen'],
      ['cod', 'cod'],
      ['bod', 'bod5'],
      ['NH4', 'ammoniaNitrogen'],
      ['P-TOT', 'totalPhosphorus'],
      ['N-TOT', 'totalNitrogen'],
    ] as const
  )
    .map(([term, item]): [string, [string, WaterItem]] => [`${WQ}${term}`, [term, item]])
    .concat([[`${DEFAULT_VOCAB}permanganateIndex`, ['permanganateIndex', 'permanganateIndex']]]),
);

/** UN/CEFACT M1: milligram per litre. */
const MG_PER_L = 'M1';

export interface WaterClassDeps {
  /** The entity as stored (the kernel's view, unfiltered). */
  getEntity(tenant: string, id: string): Promise<StoredEntity | undefined>;
  /** Merges attributes into it (through the hub's write queue). */
  merge(tenant: string, id: string, body: Record<string, unknown>, ctx: ActiveContext): Promise<void>;
  /** The core context (the attribute names written are full IRIs). */
  coreContext(): Promise<ActiveContext>;
}

const defaultInstance = (list: StoredAttribute[] | undefined) => list?.find((i) => i.datasetId === undefined);

function waterBodyOf(e: StoredEntity): { waterBody: WaterBody; source: 'entity' | 'default' } {
  const v = defaultInstance(e.attrs[WATER_BODY_ATTRIBUTE])?.value;
  if (v === 'lake' || v === 'reservoir') return { waterBody: 'lake', source: 'entity' };
  if (v === 'river') return { waterBody: 'river', source: 'entity' };
  return { waterBody: 'river', source: 'default' };
}

/** The station's latest value of each item it measures, with where it came from. */
function latestValues(e: StoredEntity) {
  const values: Partial<Record<WaterItem, number>> = {};
  const sources: Partial<Record<WaterItem, { attribute: string; observedAt?: string }>> = {};
  let newest: number | undefined;
  for (const [iri, [term, item]] of ITEM_OF) {
    const inst = defaultInstance(e.attrs[iri]);
    const v = inst?.value;
    if (!inst || typeof v !== 'number' || !Number.isFinite(v) || v < 0) continue;
    if (item === 'pH' ? v > 14 : inst.unitCode !== undefined && inst.unitCode !== MG_PER_L) continue;
    values[item] = v;
    const at = inst.observedAt ?? inst.modifiedAt;
    sources[item] = { attribute: term, ...(at ? { observedAt: at } : {}) };
    const t = at ? Date.parse(at) : NaN;
    if (Number.isFinite(t) && (newest === undefined || t > newest)) newest = t;
  }
  return { values, sources, newest };
}

/** The change-feed consumer `environment.water-class`. */
export function waterClassConsumer(deps: WaterClassDeps): ChangeConsumer {
  async function update(tenant: string, id: string): Promise<void> {
    const station = await deps.getEntity(tenant, id);
    if (!station) return;
    const { values, sources, newest } = latestValues(station);
    const { waterBody, source } = waterBodyOf(station);
    let result;
    try {
      result = waterClass(values, { waterBody });
    } catch {
      return; // no item to assess (yet)
    }
    const items = Object.fromEntries(
      Object.entries(result.items).map(([item, c]) => [item, { ...c, ...sources[item as WaterItem] }]),
    );
    const details = {
      standard: 'GB 3838-2002',
      basis: 'latest value of each item',
      waterBody,
      waterBodySource: source,
      class: result.class,
      classNumber: result.classNumber,
      label: result.label,
      decisive: result.decisive,
      items,
      notAssessed: result.notAssessed,
    };
    const observedAt = newest === undefined ? undefined : new Date(newest).toISOString();
    const at = observedAt ? { observedAt } : {};
    // Already written (a change handled again, or one that changed no item's class or value).
    const held = defaultInstance(station.attrs[WATER_CLASS_ATTRIBUTES.details]);
    if (held && held.observedAt === observedAt && canonicalJson(held.json) === canonicalJson(details)) return;
    await deps.merge(
      tenant,
      id,
      {
        [WATER_CLASS_ATTRIBUTES.class]: { type: 'Property', value: result.class, ...at },
        [WATER_CLASS_ATTRIBUTES.details]: { type: 'JsonProperty', json: details, ...at },
      },
      await deps.coreContext(),
    );
  }

  return {
    name: 'environment.water-class',
    types: [WATER_QUALITY_OBSERVED],
    async handle(changes: FeedChange[]) {
      // Each station once per batch, when a change touched one of its items or its water body.
      await forEachEntityTouched(changes, (a) => ITEM_OF.has(a) || a === WATER_BODY_ATTRIBUTE, update);
    },
  };
}
