/**
 * `POST /api/v1/environment/water-class`: the GB 3838-2002 class of a surface-water sample as a
 * plain API, reading nothing stored. Bad input is a 400 ProblemDetails naming the field.
 */
import type { FastifyInstance } from 'fastify';
import { badRequest } from '../core/errors.js';
import { ACCOUNT, guarded } from '../http/route-access.js';
import { WATER_BODIES, WATER_ITEMS, waterClass, type WaterBody, type WaterItem } from './water-class.js';

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads a water-class request; throws a 400 naming the field that is wrong. */
export function parseWaterClassRequest(body: unknown): {
  waterBody: WaterBody;
  values: Partial<Record<WaterItem, number>>;
} {
  if (!isObject(body)) throw badRequest('The request body must be a JSON object');
  for (const k of Object.keys(body))
    if (k !== 'waterBody' && k !== 'values')
      throw badRequest(`${k}: not a member of a water-class request (waterBody, values)`);
  const waterBody = body.waterBody;
  if (!WATER_BODIES.includes(waterBody as WaterBody))
    throw badRequest('waterBody: must be "river" or "lake" (lakes and reservoirs)');
  if (!isObject(body.values))
    throw badRequest('values: must be an object of item: value (mg/L; pH unitless)');
  const values: Partial<Record<WaterItem, number>> = {};
  for (const [k, v] of Object.entries(body.values)) {
    if (!WATER_ITEMS.includes(k as WaterItem))
      throw badRequest(`values.${k}: not an item of GB 3838-2002 Table 1 here (${WATER_ITEMS.join(', ')})`);
    if (v === null) continue; // not measured: left out
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (k === 'pH' && v > 14))
      throw badRequest(
        `values.${k}: must be ${k === 'pH' ? 'a pH from 0 to 14' : 'a concentration of 0 or more (mg/L)'}, got ${JSON.stringify(v)}`,
      );
    values[k as WaterItem] = v;
  }
  const assessable = Object.keys(values).filter((k) => k !== 'totalNitrogen' || waterBody === 'lake');
  if (assessable.length === 0)
    throw badRequest(
      'values: at least one item is needed (total nitrogen counts for lakes and reservoirs only)',
    );
  return { waterBody: waterBody as WaterBody, values };
}

export function registerWaterRoutes(app: FastifyInstance): void {
  app.post('/api/v1/environment/water-class', guarded(ACCOUNT, []), (req) => {
    const { waterBody, values } = parseWaterClassRequest(req.body);
    return Promise.resolve({ standard: 'GB 3838-2002', waterBody, ...waterClass(values, { waterBody }) });
  });
}
