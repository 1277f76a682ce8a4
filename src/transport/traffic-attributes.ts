/**
 * The names (expanded IRIs) the traffic indicators read and write. Smart Data Models
 * Transportation terms where the model has one (RoadSegment, TrafficFlowObserved,
 * averageVehicleSpeed, intensity, length, maximumAllowedSpeed, refRoadSegment); the NGSI-LD
 * default context for the terms it lacks (freeFlowSpeed, delayTimeProportion,
 * trafficPerformanceIndex, congestionLevel…), so that they compact to those short names whatever
 * @context a client sends.
 *
 * A contract with the routes (route-*.ts): a RoadSegment's `averageVehicleSpeed` (km/h),
 * `intensity` (vehicles/h) and `freeFlowSpeed` (km/h) are these IRIs.
 */

const SDM_TRANSPORT = 'https://smartdatamodels.org/dataModel.Transportation/';
const DEFAULT = 'https://uri.etsi.org/ngsi-ld/default-context/';

export const ROAD_SEGMENT = `${SDM_TRANSPORT}RoadSegment`;
export const TRAFFIC_FLOW_OBSERVED = `${SDM_TRANSPORT}TrafficFlowObserved`;
/** District and city indexes (ids `urn:ngsi-ld:TrafficPerformanceIndex:district-<id>`, `…:city`). */
export const TRAFFIC_PERFORMANCE_INDEX_TYPE = `${DEFAULT}TrafficPerformanceIndex`;

export const TRAFFIC = {
  /** km/h (KMH): a detector's reading, a segment's mean, an area's travel speed. */
  averageVehicleSpeed: `${SDM_TRANSPORT}averageVehicleSpeed`,
  /** Vehicles per hour (E50, as the demo's detectors send it). */
  intensity: `${SDM_TRANSPORT}intensity`,
  refRoadSegment: `${SDM_TRANSPORT}refRoadSegment`,
  /** Metres (MTR) in the demo; km (KMT) honoured. */
  length: `${SDM_TRANSPORT}length`,
  /** km/h. */
  maximumAllowedSpeed: `${SDM_TRANSPORT}maximumAllowedSpeed`,
  /** The district a segment lies in (its id, a Text). */
  areaServed: 'https://smartdatamodels.org/areaServed',
  /** km/h; configured (no `derivedFrom`), learned from history or the speed limit. */
  freeFlowSpeed: `${DEFAULT}freeFlowSpeed`,
  /** Sub-property of a free-flow speed the hub derived: "history" or "maximumAllowedSpeed". */
  derivedFrom: `${DEFAULT}derivedFrom`,
  /** GB/T 33171-2016 延误时间比, 0–1. */
  delayTimeProportion: `${DEFAULT}delayTimeProportion`,
  /** GB/T 33171-2016 交通运行指数, 0–10. */
  trafficPerformanceIndex: `${DEFAULT}trafficPerformanceIndex`,
  /** GB/T 33171-2016 level, 1 畅通 … 5 严重拥堵. */
  congestionLevel: `${DEFAULT}congestionLevel`,
  /** Segments an area's index was computed over. */
  segmentCount: `${DEFAULT}segmentCount`,
  /** Vehicle-kilometres per hour over an area (Σ intensity × length). */
  vehicleKilometres: `${DEFAULT}vehicleKilometres`,
} as const;

/** Where a free-flow speed the hub wrote came from. */
export type FreeFlowSource = 'history' | 'maximumAllowedSpeed';
