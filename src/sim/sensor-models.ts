/**
 * What each kind of demo sensor is in the hub (its Smart Data Models entity type, its IoT config
 * group: short measure names mapped to attributes with units, expressions where a unit changes)
 * and what it measures at a moment of simulated time: a daily rhythm (rush hours, night), the
 * season, real air-quality records, the incidents under way, and some noise.
 */
import type { AttributeMapping, StaticAttribute } from '../core/iot/device-model.js';
import type { AirReplay } from './air-replay.js';
import type { CityPlan, RoadSegment, Sensor, SensorKind } from './city-plan.js';
import type { Random } from './random.js';

export interface KindModel {
  entityType: string;
  apikey: string;
  /** Seconds of real time between two readings of one sensor. */
  intervalS: number;
  attributes: AttributeMapping[];
}

const unit = (code: string) => ({ unitCode: { type: 'Text', value: code } });
const n = (object_id: string, name: string, unitCode?: string, expression?: string): AttributeMapping => ({
  object_id,
  name,
  type: 'Number',
  ...(unitCode ? { metadata: unit(unitCode) } : {}),
  ...(expression ? { expression } : {}),
});
const t = (object_id: string, name: string): AttributeMapping => ({ object_id, name, type: 'Text' });

export const KIND_MODELS: Record<SensorKind, KindModel> = {
  traffic: {
    entityType: 'TrafficFlowObserved',
    apikey: 'demo-traffic',
    intervalS: 10,
    attributes: [
      n('q', 'intensity', 'E50'), // vehicles per hour
      n('v', 'averageVehicleSpeed', 'KMH'),
      n('occ', 'occupancy', 'C62'),
      { object_id: 'cg', name: 'congested', type: 'Boolean' },
    ],
  },
  air: {
    entityType: 'AirQualityObserved',
    apikey: 'demo-air',
    intervalS: 30,
    attributes: [
      n('pm25', 'pm25', 'GQ'),
      n('pm10', 'pm10', 'GQ'),
      n('so2', 'so2', 'GQ'),
      n('no2', 'no2', 'GQ'),
      n('o3', 'o3', 'GQ'),
      // The station reports CO in µg/m3; the hub keeps mg/m3, as HJ 633 tables do.
      n('co_ug', 'co', 'GP', 'round(co_ug / 1000, 2)'),
      n('tc', 'temperature', 'CEL'),
      n('p', 'atmosphericPressure', 'A97'),
      n('ws', 'windSpeed', 'MTS'),
      n('wd', 'windDirection', 'DD'),
      n('rain', 'precipitation', 'MMT'),
    ],
  },
  noise: {
    entityType: 'NoiseLevelObserved',
    apikey: 'demo-noise',
    intervalS: 10,
    attributes: [n('laeq', 'LAeq', '2N'), n('lamax', 'LAmax', '2N')],
  },
  parkingSpot: {
    entityType: 'ParkingSpot',
    apikey: 'demo-parking',
    intervalS: 20,
    attributes: [t('st', 'status')],
  },
  carPark: {
    entityType: 'OffStreetParking',
    apikey: 'demo-carpark',
    intervalS: 15,
    attributes: [
      { object_id: 'free', name: 'availableSpotNumber', type: 'Integer' },
      n('occ', 'occupancy', 'C62'),
    ],
  },
  streetlight: {
    entityType: 'Streetlight',
    apikey: 'demo-light',
    intervalS: 30,
    attributes: [t('ps', 'powerState'), n('lvl', 'illuminanceLevel'), t('st', 'status')],
  },
  water: {
    entityType: 'WaterQualityObserved',
    apikey: 'demo-water',
    intervalS: 30,
    attributes: [
      n('ph', 'pH'),
      n('o2', 'O2', 'M1'),
      n('tc', 'temperature', 'CEL'),
      n('tu', 'turbidity', 'NTU'),
      n('ec', 'conductivity', 'D10'),
      // GB 3838-2002 items, mg/L: ammonia nitrogen (as N), permanganate index, COD, total P and N
      n('nh4', 'NH4', 'M1'),
      n('codmn', 'permanganateIndex', 'M1'),
      n('cod', 'cod', 'M1'),
      n('tp', 'P-TOT', 'M1'),
      n('tn', 'N-TOT', 'M1'),
    ],
  },
  energy: {
    entityType: 'ThreePhaseAcMeasurement',
    apikey: 'demo-energy',
    intervalS: 15,
    attributes: [n('p', 'totalActivePower', 'KWT'), n('e', 'totalActiveEnergyImport', 'KWH')],
  },
};

/** The entity of a sensor's device: `urn:ngsi-ld:{Type}:demo-{device_id}`. */
export function entityIdOf(s: Sensor): string {
  return `urn:ngsi-ld:${KIND_MODELS[s.kind].entityType}:demo-${s.deviceId}`;
}

export function roadSegmentIdOf(seg: RoadSegment | string): string {
  return `urn:ngsi-ld:RoadSegment:demo-${typeof seg === 'string' ? seg : seg.id}`;
}

/** What a device's entity holds from the start (provisioned as static attributes). */
export function staticAttributesOf(s: Sensor): StaticAttribute[] {
  const out: StaticAttribute[] = [
    { name: 'name', type: 'Text', value: s.name },
    { name: 'location', type: 'geo:json', value: { type: 'Point', coordinates: s.location } },
    { name: 'areaServed', type: 'Text', value: s.district },
  ];
  if (s.segment)
    out.push({ name: 'refRoadSegment', type: 'Relationship', value: roadSegmentIdOf(s.segment) });
  // The station's District entity (demo-city.ts), which the district AQI groups stations by.
  if (s.kind === 'air')
    out.push({ name: 'refDistrict', type: 'Relationship', value: `urn:ngsi-ld:District:demo-${s.district}` });
  if (s.kind === 'carPark' && s.capacity)
    out.push({ name: 'totalSpotNumber', type: 'Integer', value: s.capacity });
  if (s.kind === 'parkingSpot') out.push({ name: 'category', type: 'Text', value: 'onStreet' });
  if (s.kind === 'energy' && s.sector) out.push({ name: 'description', type: 'Text', value: s.sector });
  if (s.kind === 'energy' && s.unit)
    out.push({ name: 'refEnergyUnit', type: 'Relationship', value: energyUnitIdOf(s.unit) });
  return out;
}

/** The entity of a key energy-using unit of the demo (src/environment/energy-units.ts). */
export function energyUnitIdOf(unit: number): string {
  return `urn:ngsi-ld:KeyEnergyUnit:demo-unit-${String(unit).padStart(4, '0')}`;
}

/**
 * Average load over peak, per sector, near the profiles of readingOf (a year of weekdays and
 * weekends): what a unit's annual quota is set from.
 */
const LOAD_FACTOR: Record<string, number> = {
  'data centre': 0.85,
  hospital: 0.7,
  'shopping centre': 0.45,
};

/**
 * The demo's key energy-using units (one per enterprise), as entities in the core context: name,
 * sector, an annual quota of 5 % above the year its meters' profiles give (kWh; the month's quota
 * is its pro-rata share), and a floor area at 60 W/m² of peak load.
 */
export function energyUnitsOf(plan: CityPlan): Record<string, unknown>[] {
  const units = new Map<number, { sensors: Sensor[] }>();
  for (const s of plan.sensors)
    if (s.kind === 'energy' && s.unit) {
      const u = units.get(s.unit) ?? { sensors: [] };
      u.sensors.push(s);
      units.set(s.unit, u);
    }
  return [...units].map(([n, { sensors }]) => {
    const first = sensors[0] as Sensor;
    const peakKw = sensors.reduce((sum, s) => sum + (s.capacity ?? 1000), 0);
    const factor = LOAD_FACTOR[first.sector ?? ''] ?? 0.5;
    return {
      id: energyUnitIdOf(n),
      type: 'KeyEnergyUnit',
      name: { type: 'Property', value: first.name.replace(/ 电表 \d+$/, '') },
      sector: { type: 'Property', value: first.sector ?? 'other' },
      annualQuota: {
        type: 'Property',
        value: Math.round((peakKw * factor * 8760 * 1.05) / 1000) * 1000,
        unitCode: 'KWH',
      },
      floorArea: { type: 'Property', value: Math.round((peakKw * 1000) / 60 / 100) * 100, unitCode: 'MTK' },
      areaServed: { type: 'Property', value: first.district },
      location: { type: 'GeoProperty', value: { type: 'Point', coordinates: first.location } },
    };
  });
}

/** Incidents under way, as the models see them. */
export interface Effects {
  /** Multiplier of the speed on a road segment (a jam: 0.15). */
  speedFactor(segment: string): number;
  /** Multiplier of pollutant concentrations at an air station (an episode: 3). */
  pollutionFactor(station: number): number;
}

/** Local hour of day (UTC+8) with fractions, and the day of the year. */
export function localClock(at: Date): { hour: number; dayOfYear: number; weekend: boolean } {
  const local = new Date(at.getTime() + 8 * 3600_000);
  const start = Date.UTC(local.getUTCFullYear(), 0, 1);
  const dayOfYear = Math.floor((local.getTime() - start) / 86_400_000) + 1;
  const hour = local.getUTCHours() + local.getUTCMinutes() / 60 + local.getUTCSeconds() / 3600;
  const dow = local.getUTCDay();
  return { hour, dayOfYear, weekend: dow === 0 || dow === 6 };
}

const bump = (h: number, peak: number, width: number) => Math.exp(-((h - peak) ** 2) / (2 * width * width));

/** Travel demand, 0 to 1: morning and evening rush hours, a midday plateau, quiet nights. */
export function trafficDemand(hour: number, weekend: boolean): number {
  if (weekend) return Math.min(1, 0.1 + 0.55 * bump(hour, 11, 3) + 0.5 * bump(hour, 17, 3));
  return Math.min(1, 0.08 + 0.9 * bump(hour, 8, 1.1) + 0.85 * bump(hour, 18, 1.3) + 0.45 * bump(hour, 13, 3));
}

/** Zhengzhou's sunrise and sunset (local hours) over the year, near enough for streetlights. */
export function daylight(dayOfYear: number): { sunrise: number; sunset: number } {
  const c = Math.cos((2 * Math.PI * (dayOfYear - 172)) / 365);
  return { sunrise: 6.25 - 1.1 * c, sunset: 18.45 + 1.2 * c };
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/** A sensor's state between readings (sticky parking status, meter totals, slow drifts). */
export type SensorState = Record<string, number | string>;

export interface ReadingContext {
  at: Date;
  /** Simulated hours since the previous reading of this sensor. */
  elapsedH: number;
  rng: Random;
  effects: Effects;
  plan: CityPlan;
  segments: Map<string, RoadSegment>;
  air?: AirReplay;
  /** Index of the sensor among those of its kind. */
  ordinal: number;
}

/** One reading's measures, keyed by object_id. */
export function readingOf(s: Sensor, state: SensorState, c: ReadingContext): Record<string, unknown> {
  const { hour, dayOfYear, weekend } = localClock(c.at);
  const { rng } = c;
  switch (s.kind) {
    case 'traffic': {
      const seg = c.segments.get(s.segment ?? '');
      const vf = seg?.speedLimit ?? 50;
      const lanes = seg?.lanes ?? 1;
      const classLoad = seg?.roadClass === 'street' ? 0.6 : 1;
      const vc = clamp(trafficDemand(hour, weekend) * classLoad * rng.normal(1, 0.08), 0.02, 1.3);
      // BPR link performance: travel time grows with (v/c)^4 (DOMAIN.md 3.3).
      let speed = vf / (1 + 0.15 * (vc / 0.62) ** 4);
      let flow = lanes * 1800 * vc;
      const factor = c.effects.speedFactor(s.segment ?? '');
      if (factor < 1) {
        speed *= factor;
        flow *= 0.35 + factor;
      }
      speed = clamp(speed * rng.normal(1, 0.04), 3, vf * 1.1);
      const occupancy = clamp(((flow / lanes / speed) * 7.5) / 1000, 0, 0.98);
      return {
        q: Math.round(flow),
        v: round(speed),
        occ: round(occupancy, 3),
        cg: speed / vf < 0.5,
      };
    }
    case 'air': {
      const r = c.air?.reading(c.ordinal, c.at) ?? {};
      const f = c.effects.pollutionFactor(c.ordinal);
      const jitter = () => rng.normal(1, 0.03);
      const out: Record<string, unknown> = {};
      const put = (k: string, v: number | undefined, d = 0, scale = 1) => {
        if (v !== undefined) out[k] = round(Math.max(0, v * scale * jitter()), d);
      };
      put('pm25', r.pm25, 0, f);
      put('pm10', r.pm10, 0, f);
      put('so2', r.so2, 0, f);
      put('no2', r.no2, 0, f);
      put('o3', r.o3, 0);
      put('co_ug', r.co, 0, f);
      if (r.temperature !== undefined) out.tc = round(r.temperature);
      if (r.atmosphericPressure !== undefined) out.p = round(r.atmosphericPressure);
      if (r.windSpeed !== undefined) out.ws = round(r.windSpeed);
      if (r.windDirection !== undefined) out.wd = r.windDirection;
      if (r.precipitation !== undefined) out.rain = round(r.precipitation);
      return out;
    }
    case 'noise': {
      const laeq = 46 + 24 * trafficDemand(hour, weekend) + rng.normal(0, 1.5);
      return { laeq: round(laeq), lamax: round(laeq + rng.between(6, 16)) };
    }
    case 'parkingSpot': {
      const busy = 0.25 + 0.6 * Math.min(1, bump(hour, 11, 3) + bump(hour, 16, 2.5) + (hour > 19 ? 0.4 : 0));
      const was = state.st;
      // Spots keep their state most of the time; a car stays a while.
      if (was === undefined || rng.chance(0.15)) state.st = rng.chance(busy) ? 'occupied' : 'free';
      return { st: state.st };
    }
    case 'carPark': {
      const total = s.capacity ?? 100;
      const busy = clamp(
        0.15 + 0.75 * Math.min(1, bump(hour, 10.5, 2.5) + bump(hour, 15, 3)) + rng.normal(0, 0.03),
        0,
        1,
      );
      const free = Math.round(total * (1 - busy));
      return { free, occ: round(1 - free / total, 3) };
    }
    case 'streetlight': {
      const { sunrise, sunset } = daylight(dayOfYear);
      const dark = hour >= sunset || hour < sunrise;
      if (state.st === undefined) state.st = 'ok';
      if (state.st === 'ok' && rng.chance(0.0005)) state.st = 'defectiveLamp';
      const on = dark && state.st === 'ok';
      // Energy saving: dimmed after midnight.
      const level = on ? (hour >= 0 && hour < sunrise - 1 ? 0.5 : 1) : 0;
      return { ps: on ? 'on' : 'off', lvl: level, st: state.st };
    }
    case 'water': {
      const season = 16 - 11 * Math.cos((2 * Math.PI * (dayOfYear - 20)) / 365);
      state.ph = clamp(Number(state.ph ?? 7.6) + rng.normal(0, 0.02), 6.8, 8.6);
      const temp = season + 1.5 * bump(hour, 15, 4) + rng.normal(0, 0.1);
      // Load: how polluted the station's water is, 0 clean to 1 foul; spread over the stations
      // (golden-ratio steps) and drifting slowly around that, so the classes run from I to 劣V.
      const q0 = (c.ordinal * 0.618034 + 0.1) % 1;
      const q = clamp(
        Number(state.q ?? q0) + 0.02 * (q0 - Number(state.q ?? q0)) + rng.normal(0, 0.01),
        0,
        1,
      );
      state.q = q;
      const o2 = 14.6 - 0.33 * temp + 0.8 * bump(hour, 15, 3) - 5 * q + rng.normal(0, 0.1);
      const near = (x: number) => Math.max(0, x * rng.normal(1, 0.04));
      return {
        ph: round(Number(state.ph), 2),
        o2: round(Math.max(0.5, o2), 2),
        tc: round(temp),
        tu: round(clamp(4 + 20 * q + rng.normal(0, 1.2), 0.5, 40)),
        ec: Math.round(560 + 400 * q + rng.normal(0, 25)),
        nh4: round(near(0.1 + 2.2 * q ** 1.5), 3),
        codmn: round(near(1.5 + 9 * q), 2),
        cod: round(near(8 + 28 * q), 1),
        tp: round(near(0.015 + 0.35 * q), 3),
        tn: round(near(0.3 + 2.2 * q), 2),
      };
    }
    case 'energy': {
      const peak = s.capacity ?? 1000;
      const profile =
        s.sector === 'data centre'
          ? 0.85
          : s.sector === 'hospital'
            ? 0.55 + 0.35 * bump(hour, 11, 4)
            : s.sector === 'shopping centre'
              ? 0.15 + 0.8 * bump(hour, 15, 4)
              : weekend
                ? 0.3
                : 0.25 + 0.7 * Math.min(1, bump(hour, 10, 2.2) + bump(hour, 15, 2.2));
      const kw = Math.max(0, peak * profile * rng.normal(1, 0.04));
      state.e = Number(state.e ?? peak * 2000) + kw * c.elapsedH;
      return { p: round(kw), e: round(Number(state.e)) };
    }
  }
}
