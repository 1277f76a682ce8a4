/**
 * The class of a surface-water sample by GB 3838-2002 地表水环境质量标准 (Environmental quality
 * standards for surface water), Table 1 basic items: each measured item gets the best class whose
 * limit it meets, the sample gets the worst class over its items (单因子评价, single-factor
 * assessment), and a value beyond the class V limit is 劣V类 (worse than class V). Pure: no I/O.
 *
 * Band edges: a concentration equal to a class's limit is in that class (the standard's limits
 * are "≤"); dissolved oxygen is the one "higher is better" item (limits are "≥"). Where two classes
 * share a limit (COD and BOD5 for I and II), a value within it gets the better class.
 */

/** The Table 1 items this assessment knows, in the order the standard lists them. */
export const WATER_ITEMS = [
  'pH',
  'dissolvedOxygen',
  'permanganateIndex',
  'cod',
  'bod5',
  'ammoniaNitrogen',
  'totalPhosphorus',
  'totalNitrogen',
] as const;
export type WaterItem = (typeof WATER_ITEMS)[number];

/** Rivers, or lakes and reservoirs (湖、库): TP has its own limits there and TN applies only there. */
export const WATER_BODIES = ['river', 'lake'] as const;
export type WaterBody = (typeof WATER_BODIES)[number];

/** Class codes I…V and 劣V, with their number (1…6) and names. */
export const WATER_CLASSES = ['I', 'II', 'III', 'IV', 'V', '劣V'] as const;
export type WaterClass = (typeof WATER_CLASSES)[number];

export const WATER_CLASS_LABELS: Record<WaterClass, { zh: string; en: string }> = {
  I: { zh: 'I类', en: 'Class I' },
  II: { zh: 'II类', en: 'Class II' },
  III: { zh: 'III类', en: 'Class III' },
  IV: { zh: 'IV类', en: 'Class IV' },
  V: { zh: 'V类', en: 'Class V' },
  劣V: { zh: '劣V类', en: 'Worse than Class V' },
};

/** Names of the items, Chinese as in GB 3838-2002 Table 1, and their unit. */
export const WATER_ITEM_NAMES: Record<WaterItem, { zh: string; en: string; unit: string }> = {
  pH: { zh: 'pH值', en: 'pH', unit: '' },
  dissolvedOxygen: { zh: '溶解氧', en: 'Dissolved oxygen (DO)', unit: 'mg/L' },
  permanganateIndex: { zh: '高锰酸盐指数', en: 'Permanganate index (CODMn)', unit: 'mg/L' },
  cod: { zh: '化学需氧量(COD)', en: 'Chemical oxygen demand (COD)', unit: 'mg/L' },
  bod5: { zh: '五日生化需氧量(BOD5)', en: 'Five-day biochemical oxygen demand (BOD5)', unit: 'mg/L' },
  ammoniaNitrogen: { zh: '氨氮(NH3-N)', en: 'Ammonia nitrogen (NH3-N)', unit: 'mg/L' },
  totalPhosphorus: { zh: '总磷(以P计)', en: 'Total phosphorus (as P)', unit: 'mg/L' },
  totalNitrogen: {
    zh: '总氮(湖、库，以N计)',
    en: 'Total nitrogen (lakes and reservoirs, as N)',
    unit: 'mg/L',
  },
};

/** Limits of classes I, II, III, IV, V. */
type Limits = readonly [number, number, number, number, number];

/**
 * GB 3838-2002 Table 1, mg/L. Items 3 (pH), 4 (DO), 5 (CODMn), 6 (COD), 7 (BOD5), 8 (NH3-N),
 * 9 (TP; 湖、库 in brackets), 10 (TN, 湖、库). Item 4's class I is "饱和率90%（或7.5）": the 7.5 mg/L
 * form is used, as sensors report mg/L. Temperature (item 1) is a limit on man-made change, not a
 * level, and is not assessed.
 */
const DO_MIN: Limits = [7.5, 6, 5, 3, 2];
const MAX_LIMITS: Record<Exclude<WaterItem, 'pH' | 'dissolvedOxygen' | 'totalPhosphorus'>, Limits> = {
  permanganateIndex: [2, 4, 6, 10, 15],
  cod: [15, 15, 20, 30, 40],
  bod5: [3, 3, 4, 6, 10],
  ammoniaNitrogen: [0.15, 0.5, 1.0, 1.5, 2.0],
  totalNitrogen: [0.2, 0.5, 1.0, 1.5, 2.0],
};
const TP_LIMITS: Record<WaterBody, Limits> = {
  river: [0.02, 0.1, 0.2, 0.3, 0.4],
  lake: [0.01, 0.025, 0.05, 0.1, 0.2],
};
/** pH 6–9 for every class: within it pH does not tell the classes apart, outside it is 劣V. */
const PH_RANGE = [6, 9] as const;

export interface ItemClass {
  value: number;
  class: WaterClass;
  classNumber: number;
  /** The limit met (the class's), or the class V limit exceeded for 劣V; pH: the range 6–9. */
  limit: number | readonly [number, number];
  /** "max": the value must be at most the limit; "min": at least (DO); "range": pH. */
  kind: 'max' | 'min' | 'range';
}

export interface WaterClassResult {
  class: WaterClass;
  classNumber: number;
  label: { zh: string; en: string };
  items: Partial<Record<WaterItem, ItemClass>>;
  /** The items whose class is the sample's (the worst), in Table 1 order. */
  decisive: WaterItem[];
  /** Items given but not assessed for this water body (TN in a river). */
  notAssessed: WaterItem[];
}

const classAt = (n: number): WaterClass => WATER_CLASSES[n - 1] as WaterClass;

/** The class of one item's value (the value is a finite number, ≥ 0; pH 0–14). */
export function itemClass(item: WaterItem, value: number, waterBody: WaterBody): ItemClass {
  if (item === 'pH') {
    const ok = value >= PH_RANGE[0] && value <= PH_RANGE[1];
    return { value, class: ok ? 'I' : '劣V', classNumber: ok ? 1 : 6, limit: PH_RANGE, kind: 'range' };
  }
  if (item === 'dissolvedOxygen') {
    const i = DO_MIN.findIndex((min) => value >= min);
    const n = i < 0 ? 6 : i + 1;
    return {
      value,
      class: classAt(n),
      classNumber: n,
      limit: DO_MIN[Math.min(n, 5) - 1] as number,
      kind: 'min',
    };
  }
  const limits = item === 'totalPhosphorus' ? TP_LIMITS[waterBody] : MAX_LIMITS[item];
  const i = limits.findIndex((max) => value <= max);
  const n = i < 0 ? 6 : i + 1;
  return {
    value,
    class: classAt(n),
    classNumber: n,
    limit: limits[Math.min(n, 5) - 1] as number,
    kind: 'max',
  };
}

/**
 * The class of a sample: `sample` holds the measured items (mg/L; pH unitless), those not measured
 * left out. Throws a RangeError when no item can be assessed.
 */
export function waterClass(
  sample: Partial<Record<WaterItem, number>>,
  opts: { waterBody: WaterBody },
): WaterClassResult {
  const items: Partial<Record<WaterItem, ItemClass>> = {};
  const notAssessed: WaterItem[] = [];
  for (const item of WATER_ITEMS) {
    const value = sample[item];
    if (value === undefined) continue;
    // Table 1 item 10: total nitrogen is a limit for lakes and reservoirs only.
    if (item === 'totalNitrogen' && opts.waterBody === 'river') notAssessed.push(item);
    else items[item] = itemClass(item, value, opts.waterBody);
  }
  const assessed = Object.values(items);
  if (assessed.length === 0) throw new RangeError('No item of GB 3838-2002 Table 1 to assess');
  const worst = Math.max(...assessed.map((c) => c.classNumber));
  const cls = classAt(worst);
  return {
    class: cls,
    classNumber: worst,
    label: WATER_CLASS_LABELS[cls],
    items,
    decisive: WATER_ITEMS.filter((i) => items[i]?.classNumber === worst),
    notAssessed,
  };
}
