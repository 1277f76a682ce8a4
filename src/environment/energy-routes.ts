/**
 * The energy monitoring's plain API: `GET /api/v1/energy/units` (each key energy-using unit of
 * the request's tenant with its current figures, read with the caller's rights) and
 * `POST /api/v1/energy/consumption` (a calculator: consumption per local hour, day or month from
 * cumulative meter readings, reading nothing stored). Bad input is a 400 ProblemDetails naming
 * the field.
 */
import type { FastifyInstance } from 'fastify';
import type { StoredEntity } from '../core/entity-model.js';
import { badRequest } from '../core/errors.js';
import type { EntityQuery, QueryResult } from '../core/store.js';
import { tenantOf } from '../http/ngsi-request.js';
import { ACCOUNT, READS, guarded } from '../http/route-access.js';
import {
  CITY_UTC_OFFSET_MS,
  consumptionByPeriod,
  DAY_MS,
  HOUR_MS,
  kWhToTce,
  localPeriods,
  type MeterReading,
} from './energy-consumption.js';
import { FIGURES, UNIT_ATTRIBUTES, UNIT_TYPE } from './energy-units.js';

export const INTERVALS = ['hour', 'day', 'month'] as const;
export type Interval = (typeof INTERVALS)[number];
const MAX_READINGS = 100_000;
const MAX_PERIODS = 10_000;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export interface ConsumptionRequest {
  readings: MeterReading[];
  interval: Interval;
  rolloverAt?: number;
  before?: number;
}

/** Reads a consumption request; throws a 400 naming the field that is wrong. */
export function parseConsumptionRequest(body: unknown): ConsumptionRequest {
  if (!isObject(body)) throw badRequest('The request body must be a JSON object');
  for (const k of Object.keys(body))
    if (!['readings', 'interval', 'rolloverAt', 'before'].includes(k))
      throw badRequest(
        `${k}: not a member of a consumption request (readings, interval, rolloverAt, before)`,
      );
  const interval = body.interval ?? 'hour';
  if (!INTERVALS.includes(interval as Interval))
    throw badRequest(`interval: must be one of ${INTERVALS.map((i) => `"${i}"`).join(', ')}`);
  const list = body.readings;
  if (!Array.isArray(list) || list.length === 0)
    throw badRequest('readings: must be a non-empty array of { observedAt, value } (kWh, cumulative)');
  if (list.length > MAX_READINGS) throw badRequest(`readings: at most ${MAX_READINGS} readings`);
  const readings = list.map((r: unknown, i): MeterReading => {
    if (!isObject(r)) throw badRequest(`readings[${i}]: must be an object { observedAt, value }`);
    const at = typeof r.observedAt === 'string' ? Date.parse(r.observedAt) : NaN;
    if (!Number.isFinite(at) || !/^\d{4}-\d\d-\d\dT/.test(String(r.observedAt)))
      throw badRequest(`readings[${i}].observedAt: must be an ISO 8601 date-time`);
    if (typeof r.value !== 'number' || !Number.isFinite(r.value) || r.value < 0)
      throw badRequest(`readings[${i}].value: must be a register reading of 0 kWh or more`);
    return { at, kWh: r.value };
  });
  const positive = (k: 'rolloverAt' | 'before', v: unknown, min: number) => {
    if (v === undefined) return {};
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min)
      throw badRequest(`${k}: must be a number of ${min === 0 ? '0' : 'more than 0'} kWh or more`);
    return { [k]: v };
  };
  return {
    readings,
    interval: interval as Interval,
    ...positive('rolloverAt', body.rolloverAt, Number.MIN_VALUE),
    ...positive('before', body.before, 0),
  };
}

/** The next local period start after `b`. */
function nextBound(b: number, interval: Interval): number {
  if (interval === 'hour') return b + HOUR_MS;
  if (interval === 'day') return b + DAY_MS;
  return localPeriods(b).nextMonth;
}

/** Consumption per local period from the first reading's period to the last reading's. */
export function computeConsumption(req: ConsumptionRequest) {
  const times = req.readings.map((r) => r.at);
  const first = localPeriods(Math.min(...times));
  const last = Math.max(...times);
  const start = req.interval === 'hour' ? first.hour : req.interval === 'day' ? first.day : first.month;
  const bounds = [start];
  while ((bounds.at(-1) as number) <= last) {
    if (bounds.length > MAX_PERIODS)
      throw badRequest(`readings: they span more than ${MAX_PERIODS} ${req.interval}s`);
    bounds.push(nextBound(bounds.at(-1) as number, req.interval));
  }
  const kWh = consumptionByPeriod(req.readings, bounds, {
    ...(req.rolloverAt !== undefined ? { rolloverAt: req.rolloverAt } : {}),
    ...(req.before !== undefined ? { before: req.before } : {}),
  });
  const total = kWh.reduce((s, x) => s + x, 0);
  const r6 = (x: number) => Math.round(x * 1e6) / 1e6;
  const r9 = (x: number) => Math.round(x * 1e9) / 1e9;
  return {
    interval: req.interval,
    timeZone: `UTC+${CITY_UTC_OFFSET_MS / HOUR_MS}`,
    totalKWh: r6(total),
    totalTce: r9(kWhToTce(total)),
    periods: kWh.map((x, k) => ({
      start: new Date(bounds[k] as number).toISOString(),
      end: new Date(bounds[k + 1] as number).toISOString(),
      kWh: r6(x),
      tce: r9(kWhToTce(x)),
    })),
  };
}

/** A unit as the API shows it: what it declares and its current figures. */
export function unitView(e: StoredEntity) {
  const value = (iri: string) => e.attrs[iri]?.[0]?.value;
  const details = e.attrs[FIGURES.details]?.[0];
  const figures = { ...((details?.json ?? {}) as Record<string, unknown>) };
  const meters = Object.keys(figures.meters ?? {});
  delete figures.meters;
  return {
    id: e.id,
    // `name` in the core context's default vocabulary, or the Smart Data Models' own.
    name: value(UNIT_ATTRIBUTES.name) ?? value('https://smartdatamodels.org/name') ?? null,
    sector: value(UNIT_ATTRIBUTES.sector) ?? null,
    monthlyQuota: value(UNIT_ATTRIBUTES.monthlyQuota) ?? null,
    annualQuota: value(UNIT_ATTRIBUTES.annualQuota) ?? null,
    floorArea: value(UNIT_ATTRIBUTES.floorArea) ?? null,
    output: value(UNIT_ATTRIBUTES.output) ?? null,
    observedAt: details?.observedAt ?? null,
    consumptionAnomaly: value(FIGURES.anomaly) ?? null,
    figures: details ? figures : null,
    meters,
  };
}

function pageOf(query: unknown): { limit: number; offset: number } {
  const q = isObject(query) ? query : {};
  const int = (k: string, dflt: number, min: number, max: number) => {
    const raw = q[k];
    if (raw === undefined) return dflt;
    const n = Number(raw);
    if (typeof raw !== 'string' || !/^\d+$/.test(raw) || n < min || n > max)
      throw badRequest(`${k}: must be an integer from ${min} to ${max}`);
    return n;
  };
  return { limit: int('limit', 100, 1, 1000), offset: int('offset', 0, 0, 1_000_000) };
}

/** The routes; `query`: the entity service's query (through the access layer). */
export function registerEnergyRoutes(
  app: FastifyInstance,
  query: (tenant: string, q: EntityQuery) => Promise<QueryResult>,
): void {
  app.get('/api/v1/energy/units', guarded(READS, ['limit', 'offset']), async (req) => {
    const page = pageOf(req.query);
    const result = await query(tenantOf(req), {
      type: { kind: 'type', name: UNIT_TYPE },
      orderBy: [{ column: 'id', desc: false }],
      ...page,
      count: false,
    });
    return result.entities.map(unitView);
  });

  app.post('/api/v1/energy/consumption', guarded(ACCOUNT, []), (req) =>
    Promise.resolve(computeConsumption(parseConsumptionRequest(req.body))),
  );
}
