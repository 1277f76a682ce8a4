/**
 * `POST /api/v1/environment/noise`: GB 3096-2008 as a plain API, reading nothing stored. Two forms:
 *
 * - `{"zone": "2", "period": "day"|"night", "levels": [62.1, {"level": 58, "durationS": 600}], "LAmax": 70}`:
 *   the equivalent level of the levels (energy mean, weighted by duration when given), the zone's
 *   limit for the period and the exceedance; `LAmax` (night only) is checked against limit + 15.
 * - `{"zone": "2", "readings": [{"observedAt": "…", "LAeq": 62.1, "LAmax": 75, "durationS": 10}, …]}`:
 *   the readings grouped by the day or night (city time, UTC+8) they fall in, each assessed so.
 *
 * Bad input is a 400 ProblemDetails naming the field.
 */
import type { FastifyInstance } from 'fastify';
import { badRequest } from '../core/errors.js';
import { ACCOUNT, guarded } from '../http/route-access.js';
import {
  NOISE_PERIODS,
  NOISE_ZONES,
  assessLevel,
  assessNightLmax,
  equivalentLevel,
  periodOf,
  type LevelSample,
  type NoisePeriod,
  type NoiseZone,
} from './noise-level.js';

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const MAX_LEVELS = 100_000;

/** A sound level in dB(A): 0 to 200 (beyond is no environmental noise a sensor reports). */
function level(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 200)
    throw badRequest(`${field}: must be a level in dB(A) from 0 to 200, got ${JSON.stringify(v)}`);
  return v;
}

function duration(v: unknown, field: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
    throw badRequest(`${field}: must be a duration in seconds above 0, got ${JSON.stringify(v)}`);
  return v;
}

function zoneOf(v: unknown): NoiseZone {
  const z = typeof v === 'number' ? String(v) : v;
  if (!NOISE_ZONES.includes(z as NoiseZone))
    throw badRequest(
      `zone: must be a GB 3096-2008 zone class, one of ${NOISE_ZONES.map((x) => `"${x}"`).join(', ')}`,
    );
  return z as NoiseZone;
}

function list(v: unknown, field: string): unknown[] {
  if (!Array.isArray(v) || v.length === 0) throw badRequest(`${field}: must be a non-empty array`);
  if (v.length > MAX_LEVELS) throw badRequest(`${field}: at most ${MAX_LEVELS} entries`);
  return v;
}

type Reading = { at: number; sample: LevelSample; lmax?: number };

export type NoiseRequest =
  | { form: 'levels'; zone: NoiseZone; period: NoisePeriod; levels: LevelSample[]; lmax?: number }
  | { form: 'readings'; zone: NoiseZone; readings: Reading[] };

/** Reads a noise request; throws a 400 naming the field that is wrong. */
export function parseNoiseRequest(body: unknown): NoiseRequest {
  if (!isObject(body)) throw badRequest('The request body must be a JSON object');
  const readingsForm = 'readings' in body;
  const members = readingsForm ? ['zone', 'readings'] : ['zone', 'period', 'levels', 'LAmax'];
  for (const k of Object.keys(body))
    if (!members.includes(k))
      throw badRequest(
        `${k}: not a member of a noise request (zone, period, levels, LAmax; or zone, readings)`,
      );
  const zone = zoneOf(body.zone);
  if (readingsForm) {
    const readings = list(body.readings, 'readings').map((r, i): Reading => {
      const f = `readings[${i}]`;
      if (!isObject(r)) throw badRequest(`${f}: must be an object (observedAt, LAeq, LAmax, durationS)`);
      for (const k of Object.keys(r))
        if (!['observedAt', 'LAeq', 'LAmax', 'durationS'].includes(k))
          throw badRequest(`${f}.${k}: not a member of a reading (observedAt, LAeq, LAmax, durationS)`);
      const at = typeof r.observedAt === 'string' ? Date.parse(r.observedAt) : NaN;
      if (!Number.isFinite(at)) throw badRequest(`${f}.observedAt: must be a date-time (ISO 8601)`);
      const d = duration(r.durationS, `${f}.durationS`);
      const LAeq = level(r.LAeq, `${f}.LAeq`);
      return {
        at,
        sample: d === undefined ? LAeq : { level: LAeq, durationS: d },
        ...(r.LAmax === undefined ? {} : { lmax: level(r.LAmax, `${f}.LAmax`) }),
      };
    });
    return { form: 'readings', zone, readings };
  }
  const period = body.period;
  if (!NOISE_PERIODS.includes(period as NoisePeriod))
    throw badRequest('period: must be "day" (06:00–22:00) or "night" (22:00–06:00)');
  const levels = list(body.levels, 'levels').map((l, i): LevelSample => {
    if (!isObject(l)) return level(l, `levels[${i}]`);
    for (const k of Object.keys(l))
      if (k !== 'level' && k !== 'durationS')
        throw badRequest(`levels[${i}].${k}: not a member (level, durationS)`);
    const d = duration(l.durationS, `levels[${i}].durationS`);
    const v = level(l.level, `levels[${i}].level`);
    return d === undefined ? v : { level: v, durationS: d };
  });
  if (body.LAmax !== undefined && period !== 'night')
    throw badRequest('LAmax: GB 3096-2008 limits the maximum level at night only');
  return {
    form: 'levels',
    zone,
    period: period as NoisePeriod,
    levels,
    ...(body.LAmax === undefined ? {} : { lmax: level(body.LAmax, 'LAmax') }),
  };
}

/** One period's assessment: the equivalent level, the limit, the exceedance, the night maximum. */
function assessPeriod(zone: NoiseZone, period: NoisePeriod, levels: LevelSample[], lmax: number | undefined) {
  return {
    period,
    ...assessLevel(equivalentLevel(levels), zone, period),
    count: levels.length,
    ...(lmax === undefined || period !== 'night' ? {} : { LAmax: assessNightLmax(lmax, zone) }),
  };
}

export function answerNoise(req: NoiseRequest) {
  const base = { standard: 'GB 3096-2008', zone: req.zone };
  if (req.form === 'levels') return { ...base, ...assessPeriod(req.zone, req.period, req.levels, req.lmax) };
  const byStart = new Map<number, { p: ReturnType<typeof periodOf>; readings: Reading[] }>();
  for (const r of req.readings) {
    const p = periodOf(r.at);
    const group = byStart.get(p.start) ?? { p, readings: [] };
    group.readings.push(r);
    byStart.set(p.start, group);
  }
  const periods = [...byStart.values()]
    .sort((a, b) => a.p.start - b.p.start)
    .map(({ p, readings }) => {
      const lmaxes = readings.flatMap((r) => (r.lmax === undefined ? [] : [r.lmax]));
      return {
        start: new Date(p.start).toISOString(),
        end: new Date(p.end).toISOString(),
        ...assessPeriod(
          req.zone,
          p.period,
          readings.map((r) => r.sample),
          lmaxes.length ? lmaxes.reduce((a, b) => Math.max(a, b)) : undefined,
        ),
      };
    });
  return { ...base, periods };
}

export function registerNoiseRoutes(app: FastifyInstance): void {
  app.post('/api/v1/environment/noise', guarded(ACCOUNT, []), (req) =>
    Promise.resolve(answerNoise(parseNoiseRequest(req.body))),
  );
}
