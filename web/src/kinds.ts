/**
 * What the dashboard knows of sensor types: a label, the value a marker is coloured by, and the
 * colour scale. Scales follow the standards the domain uses: HJ 633-2026 PM2.5 bands and colours
 * for air, GB/T 33171 speed-ratio levels for congestion, GB 3096 daytime limits for noise.
 */
import type { KeyValues } from './api';
import { shortName } from './api';
import type { Lang } from './i18n';

export interface Kind {
  label: Record<Lang, string>;
  /** The attribute (short name) shown and charted first. */
  main: string;
  color(e: Record<string, unknown>): string;
}

const GREY = '#7b8794';
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);
const band = (x: number | undefined, limits: number[], colors: string[]) => {
  if (x === undefined) return GREY;
  const i = limits.findIndex((l) => x <= l);
  return colors[i < 0 ? colors.length - 1 : i];
};

/** HJ 633 colours, Annex A: 优 良 轻度 中度 重度 严重. */
export const AQI_COLORS = ['#00e400', '#ffff00', '#ff7e00', '#ff0000', '#99004c', '#7e0023'];
/** GB/T 33171 levels by speed ratio v/vf: >0.7, 0.5–0.7, 0.4–0.5, 0.3–0.4, ≤0.3. */
export const CONGESTION_COLORS = ['#1a9641', '#a6d96a', '#fdae61', '#e8590c', '#b2182b'];

export function congestionLevel(speed: number, freeFlow: number): number {
  const r = speed / freeFlow;
  return r > 0.7 ? 0 : r > 0.5 ? 1 : r > 0.4 ? 2 : r > 0.3 ? 3 : 4;
}

export const KINDS: Record<string, Kind> = {
  TrafficFlowObserved: {
    label: { zh: '交通检测器', en: 'Traffic detectors' },
    main: 'averageVehicleSpeed',
    color: (e) => (e.congested === true ? CONGESTION_COLORS[3] : CONGESTION_COLORS[0]),
  },
  AirQualityObserved: {
    label: { zh: '空气质量站', en: 'Air quality' },
    main: 'pm25',
    // PM2.5 breakpoints of HJ 633-2026 (IAQI 50/100/150/200/300).
    color: (e) => band(num(e.pm25), [35, 60, 115, 150, 250], AQI_COLORS),
  },
  NoiseLevelObserved: {
    label: { zh: '噪声监测', en: 'Noise' },
    main: 'LAeq',
    color: (e) =>
      band(num(e.LAeq), [55, 60, 65, 70], ['#2b8a3e', '#94d82d', '#fab005', '#f76707', '#c92a2a']),
  },
  ParkingSpot: {
    label: { zh: '路侧泊位', en: 'Parking spots' },
    main: 'status',
    color: (e) => (e.status === 'free' ? '#37b24d' : e.status === 'occupied' ? '#e03131' : GREY),
  },
  OffStreetParking: {
    label: { zh: '停车场', en: 'Car parks' },
    main: 'availableSpotNumber',
    color: (e) => band(num(e.occupancy), [0.5, 0.8, 0.95], ['#37b24d', '#fab005', '#f76707', '#e03131']),
  },
  Streetlight: {
    label: { zh: '路灯', en: 'Streetlights' },
    main: 'illuminanceLevel',
    color: (e) => (e.status && e.status !== 'ok' ? '#e03131' : e.powerState === 'on' ? '#ffd43b' : '#495057'),
  },
  WaterQualityObserved: {
    label: { zh: '水质监测', en: 'Water quality' },
    main: 'pH',
    color: (e) => {
      const ph = num(e.pH);
      return ph === undefined ? GREY : ph >= 6.5 && ph <= 8.5 ? '#1c7ed6' : '#e03131';
    },
  },
  ThreePhaseAcMeasurement: {
    label: { zh: '重点用能单位', en: 'Energy meters' },
    main: 'totalActivePower',
    color: (e) =>
      band(num(e.totalActivePower), [500, 1500, 3000], ['#d0bfff', '#9775fa', '#7048e8', '#5f3dc4']),
  },
  Alert: {
    label: { zh: '告警', en: 'Alerts' },
    main: 'description',
    color: () => '#f03e3e',
  },
};

/** keyValues with full IRIs → the same with short names. */
export function shorten(e: KeyValues): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) out[k === 'id' || k === 'type' ? k : shortName(k)] = v;
  const t = Array.isArray(e.type) ? e.type[0] : e.type;
  out.type = shortName(String(t));
  return out;
}

export function kindOf(type: string): Kind | undefined {
  return KINDS[shortName(type)];
}
