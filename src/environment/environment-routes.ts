/**
 * The environment module's calculators as plain APIs: `POST /api/v1/environment/aqi` (HJ 633),
 * reading nothing stored. Bad input is a 400 ProblemDetails naming the field.
 */
import type { FastifyInstance } from 'fastify';
import { badRequest } from '../core/errors.js';
import { ACCOUNT, guarded } from '../http/route-access.js';
import {
  AQI_STANDARDS,
  AVERAGINGS,
  POLLUTANTS,
  computeAqi,
  type AqiStandard,
  type Averaging,
  type Pollutant,
} from './aqi.js';

/** The standard in force (HJ 633-2026 replaced HJ 633-2012 on 2026-03-01). */
export const DEFAULT_AQI_STANDARD: AqiStandard = 'HJ 633-2026';

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads an AQI request body; throws a 400 naming the field that is wrong. */
export function parseAqiRequest(
  body: unknown,
  defaultStandard: AqiStandard = DEFAULT_AQI_STANDARD,
): {
  standard: AqiStandard;
  averaging: Averaging;
  concentrations: Partial<Record<Pollutant, number>>;
} {
  if (!isObject(body)) throw badRequest('The request body must be a JSON object');
  for (const k of Object.keys(body))
    if (!['standard', 'averaging', 'concentrations'].includes(k))
      throw badRequest(`${k}: not a member of an AQI request (standard, averaging, concentrations)`);
  const standard = body.standard ?? defaultStandard;
  if (!AQI_STANDARDS.includes(standard as AqiStandard))
    throw badRequest(`standard: must be one of ${AQI_STANDARDS.map((s) => `"${s}"`).join(', ')}`);
  const averaging = body.averaging ?? '1h';
  if (!AVERAGINGS.includes(averaging as Averaging))
    throw badRequest(`averaging: must be "1h" (real-time report) or "24h" (daily report)`);
  const c = body.concentrations;
  if (!isObject(c)) throw badRequest('concentrations: must be an object of pollutant: concentration');
  const concentrations: Partial<Record<Pollutant, number>> = {};
  for (const [k, v] of Object.entries(c)) {
    if (!POLLUTANTS.includes(k as Pollutant))
      throw badRequest(`concentrations.${k}: not a pollutant of the index (${POLLUTANTS.join(', ')})`);
    if (v === null) continue; // not measured: left out, not taken as zero
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      throw badRequest(
        `concentrations.${k}: must be a concentration of 0 or more (µg/m³; CO in mg/m³), got ${JSON.stringify(v)}`,
      );
    concentrations[k as Pollutant] = v;
  }
  if (Object.keys(concentrations).length === 0)
    throw badRequest('concentrations: at least one pollutant is needed');
  return {
    standard: standard as AqiStandard,
    averaging: averaging as Averaging,
    concentrations,
  };
}

/** The routes; `standard`: the city's, used when a request names none. */
export function registerEnvironmentRoutes(app: FastifyInstance, standard: AqiStandard): void {
  app.post('/api/v1/environment/aqi', guarded(ACCOUNT, []), (req) => {
    const { averaging, concentrations, ...rest } = parseAqiRequest(req.body, standard);
    return Promise.resolve({
      standard: rest.standard,
      averaging,
      ...computeAqi(rest.standard, averaging, concentrations),
    });
  });
}
