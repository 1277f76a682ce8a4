/**
 * The traffic performance index of GB/T 33171-2016 城市交通运行状况评价规范 (pure): a link's delay
 * time proportion (延误时间比, DTP), its traffic performance index (交通运行指数, TPI, 0–10) and
 * operating level (1 畅通 … 5 严重拥堵), and the index of a road network weighted by
 * vehicle-kilometres (车公里数). No I/O: the consumer, the jobs and the calculator use it.
 */

/** A level of GB/T 33171-2016 Appendix C, 1 (smooth) to 5 (severely congested). */
export type CongestionLevel = 1 | 2 | 3 | 4 | 5;

export interface LevelName {
  zh: string;
  en: string;
}

interface Band {
  level: CongestionLevel;
  /** DTP range [dtpLow, dtpHigh) (the last band includes 1). */
  dtpLow: number;
  dtpHigh: number;
  /** TPI range [tpiLow, tpiHigh). */
  tpiLow: number;
  tpiHigh: number;
  name: LevelName;
}

/**
 * GB/T 33171-2016 Appendix C: DTP → TPI and level. Equivalent speed ratios v/v_free: > 0.7,
 * 0.5–0.7, 0.4–0.5, 0.3–0.4, ≤ 0.3. The TPI is linear inside each band (the standard gives the
 * bands; linear interpolation is the convention its implementations follow).
 */
export const TPI_BANDS: readonly Band[] = [
  { level: 1, dtpLow: 0, dtpHigh: 0.3, tpiLow: 0, tpiHigh: 2, name: { zh: '畅通', en: 'Smooth' } },
  {
    level: 2,
    dtpLow: 0.3,
    dtpHigh: 0.5,
    tpiLow: 2,
    tpiHigh: 4,
    name: { zh: '基本畅通', en: 'Basically smooth' },
  },
  {
    level: 3,
    dtpLow: 0.5,
    dtpHigh: 0.6,
    tpiLow: 4,
    tpiHigh: 6,
    name: { zh: '轻度拥堵', en: 'Lightly congested' },
  },
  {
    level: 4,
    dtpLow: 0.6,
    dtpHigh: 0.7,
    tpiLow: 6,
    tpiHigh: 8,
    name: { zh: '中度拥堵', en: 'Moderately congested' },
  },
  {
    level: 5,
    dtpLow: 0.7,
    dtpHigh: 1,
    tpiLow: 8,
    tpiHigh: 10,
    name: { zh: '严重拥堵', en: 'Severely congested' },
  },
];

/**
 * Rounding to 1e-9 drops float noise (1 − 0.7 = 0.30000000000000004 must read as 0.3, not fall on
 * the wrong side of a band edge by accident of representation).
 */
const settle = (x: number) => Math.round(x * 1e9) / 1e9;

/**
 * The delay time proportion of a link, GB/T 33171-2016 §7.2.2.2: DTP = (t − t_free) / t
 * = 1 − v / v_free. A speed above the free-flow speed is capped (DTP 0), not refused: free flow
 * is an estimate, and a detector may see a faster moment. A speed of 0 (standstill) is DTP 1.
 */
export function delayTimeProportion(speed: number, freeFlowSpeed: number): number {
  if (!(freeFlowSpeed > 0)) throw new RangeError('the free-flow speed must be above 0');
  if (!(speed >= 0)) throw new RangeError('the speed must be 0 or more');
  return settle(Math.min(1, Math.max(0, 1 - speed / freeFlowSpeed)));
}

/** The band a DTP falls in (the upper edge belongs to the next band; DTP 1 to the last). */
function bandOf(dtp: number): Band {
  const d = settle(Math.min(1, Math.max(0, dtp)));
  return TPI_BANDS.find((b) => d < b.dtpHigh) ?? (TPI_BANDS[TPI_BANDS.length - 1] as Band);
}

export interface TpiResult {
  /** The DTP, 0–1. */
  dtp: number;
  /**
   * The TPI, 0–10, to two decimals, rounded down so that it never shows the next band's value
   * (DTP 0.2999 is TPI 1.99, level 1, not 2.00).
   */
  tpi: number;
  level: CongestionLevel;
  name: LevelName;
}

/** TPI and level of a DTP, GB/T 33171-2016 Appendix C, linear inside the band. */
export function tpiOfDtp(dtp: number): TpiResult {
  const d = settle(Math.min(1, Math.max(0, dtp)));
  const b = bandOf(d);
  const exact = b.tpiLow + ((d - b.dtpLow) / (b.dtpHigh - b.dtpLow)) * (b.tpiHigh - b.tpiLow);
  // 1e-6: a value like 2.07 is 206.99999… hundredths in binary; the DTP was settled to 1e-9, so
  // the nudge cannot lift a value across a band edge (the largest level-1 TPI is 1.99999999).
  const tpi = Math.min(b.tpiHigh, Math.floor(exact * 100 + 1e-6) / 100);
  return { dtp: d, tpi, level: b.level, name: b.name };
}

/** TPI and level of a link from its speed and free-flow speed (km/h, or any one unit). */
export function linkTpi(speed: number, freeFlowSpeed: number): TpiResult {
  return tpiOfDtp(delayTimeProportion(speed, freeFlowSpeed));
}

/** The name of a level. */
export function levelName(level: CongestionLevel): LevelName {
  return (TPI_BANDS[level - 1] as Band).name;
}

/** One link of a network: its DTP and its weight's parts. */
export interface NetworkLink {
  dtp: number;
  /** Vehicles over the period (or a flow: only the ratio between links matters). */
  vehicles: number;
  /** Length (km, or any one unit). */
  length: number;
  /** The link's speed (km/h), for the network's travel speed; optional. */
  speed?: number;
}

export interface NetworkTpi extends TpiResult {
  /** Σ vehicles × length, in the units given. */
  vehicleKilometres: number;
  /** ΣVKT / Σ(VKT / v): the network's travel speed (distance over time); undefined without speeds. */
  speed?: number;
  /** What weighted the links: vehicle-kilometres, or length (no vehicle on any link), or none. */
  weighting: 'vehicle-kilometres' | 'length' | 'equal';
}

/**
 * The TPI of a road network: the TPI of its DTP weighted by vehicle-kilometres (vehicles ×
 * length), not the weighted mean of its links' TPIs. Why: GB/T 33171 aggregates the time-based
 * measure (the network's delay is a share of its travel time, like a link's), and Appendix C's
 * mapping is not linear — a band of 0.1 DTP spans as many TPI points as one of 0.3 — so averaging
 * TPIs would count a change in a congested band three times a change in a smooth one. Taking the
 * DTP first keeps the network's TPI and level on the same table as a link's.
 *
 * When no link carried a vehicle (a quiet night), the links are weighted by length; with no
 * length either, equally. An empty list has no index (undefined).
 */
export function networkTpi(links: readonly NetworkLink[]): NetworkTpi | undefined {
  if (links.length === 0) return undefined;
  const vkt = links.map((l) => Math.max(0, l.vehicles) * Math.max(0, l.length));
  const totalVkt = vkt.reduce((a, b) => a + b, 0);
  const lengths = links.map((l) => Math.max(0, l.length));
  const totalLength = lengths.reduce((a, b) => a + b, 0);
  const [weights, weighting] =
    totalVkt > 0
      ? ([vkt, 'vehicle-kilometres'] as const)
      : totalLength > 0
        ? ([lengths, 'length'] as const)
        : ([links.map(() => 1), 'equal'] as const);
  const total = weights.reduce((a, b) => a + b, 0);
  const dtp = links.reduce((s, l, i) => s + l.dtp * (weights[i] as number), 0) / total;
  // Travel speed: distance over time (a harmonic mean), over the links that give a speed above 0.
  let dist = 0;
  let time = 0;
  links.forEach((l, i) => {
    if (l.speed === undefined || !(l.speed > 0)) return;
    dist += weights[i] as number;
    time += (weights[i] as number) / l.speed;
  });
  return {
    ...tpiOfDtp(dtp),
    vehicleKilometres: totalVkt,
    ...(time > 0 ? { speed: dist / time } : {}),
    weighting,
  };
}
