/**
 * `GET /api/v1/traffic/route?from=lon,lat&to=lon,lat[&depart=ISO 8601]`: the fastest route over
 * the tenant's road network (NGSILD-Tenant) at the current travel times, as a GeoJSON Feature.
 * From and to snap to the nearest node of the network (a segment end or junction); the answer
 * says how far each was moved. Bad input is a 400 naming the parameter; no network or no path a
 * 404 ProblemDetails.
 *
 * `depart`: a departure up to 15 minutes ahead (the freshness window of live values) uses the
 * current times; one further ahead uses free-flow times, as the live values will be stale by then
 * and the hub keeps no typical (time-of-day) profile yet; a departure in the past uses the current
 * times too (past networks are not rebuilt from the history).
 */
import type { FastifyInstance } from 'fastify';
import { badRequest, notFound } from '../core/errors.js';
import type { Position } from '../core/geo/geo-query.js';
import { tenantOf } from '../http/ngsi-request.js';
import { READS, guarded } from '../http/route-access.js';
import {
  FRESH_MS,
  fastestPath,
  nearestNode,
  currentCosts,
  travelTimeS,
  type CostBasis,
  type CostMode,
  type RoadSegmentData,
} from './road-graph.js';
import type { RoadNetworks } from './route-networks.js';

/** Reads `lon,lat` (WGS 84 degrees); throws a 400 naming `name`. */
export function parseLonLat(name: string, raw: unknown): Position {
  if (typeof raw !== 'string' || raw === '') throw badRequest(`${name}: required, as lon,lat`);
  const parts = raw.split(',');
  const [lon, lat] = parts.map((p) => (p.trim() === '' ? NaN : Number(p)));
  if (parts.length !== 2 || !Number.isFinite(lon) || !Number.isFinite(lat))
    throw badRequest(`${name}: must be lon,lat in decimal degrees, got ${JSON.stringify(raw)}`);
  if (Math.abs(lon as number) > 180) throw badRequest(`${name}: longitude must be within -180..180`);
  if (Math.abs(lat as number) > 90) throw badRequest(`${name}: latitude must be within -90..90`);
  return [lon as number, lat as number];
}

/** One query parameter given once (a repeated one is a 400). */
export function single(query: unknown, name: string): string | undefined {
  const v = (query as Record<string, unknown> | undefined)?.[name];
  if (Array.isArray(v)) throw badRequest(`${name}: given more than once`);
  return typeof v === 'string' ? v : undefined;
}

/** The costs a departure uses (see the file's header). */
export function costModeOf(depart: number, now: number): CostMode {
  return depart > now + FRESH_MS ? 'freeFlow' : 'current';
}

const round1 = (x: number) => Math.round(x * 10) / 10;

export function registerRouteRoutes(app: FastifyInstance, networks: RoadNetworks, now: () => number): void {
  app.get('/api/v1/traffic/route', guarded(READS, ['from', 'to', 'depart']), async (req, reply) => {
    const from = parseLonLat('from', single(req.query, 'from'));
    const to = parseLonLat('to', single(req.query, 'to'));
    const departRaw = single(req.query, 'depart');
    const t = now();
    let depart = t;
    if (departRaw !== undefined) {
      depart = Date.parse(departRaw);
      if (!Number.isFinite(depart) || !/^\d{4}-\d{2}-\d{2}T/.test(departRaw))
        throw badRequest(`depart: must be an ISO 8601 date-time, got ${JSON.stringify(departRaw)}`);
    }
    const mode = costModeOf(depart, t);
    const tenant = tenantOf(req);
    const net = await networks.network(tenant);
    if (!net) throw notFound('No road network: the tenant has no RoadSegment with a LineString location');
    const a = nearestNode(net, from);
    const b = nearestNode(net, to);
    if (!a || !b) throw notFound('No road network: no segment end to start or end at');
    const costs = currentCosts(net, t, mode);
    const path = fastestPath(net, a.key, b.key, costs);
    if (!path) throw notFound(`No path over the road network from ${from.join(',')} to ${to.join(',')}`);
    const basis: Record<CostBasis, number> = { live: 0, bpr: 0, freeFlow: 0 };
    for (const i of path.segmentIndexes)
      basis[travelTimeS(net.segments[i] as RoadSegmentData, t, mode).basis]++;
    void reply.type('application/geo+json');
    return {
      type: 'Feature',
      geometry: { type: 'LineString', coordinates: path.coordinates },
      properties: {
        lengthM: round1(path.lengthM),
        timeS: round1(path.timeS),
        freeFlowTimeS: round1(path.freeFlowTimeS),
        segments: path.segments,
        depart: new Date(depart).toISOString(),
        costs: mode,
        basis,
        from: { snappedTo: a.at, distanceM: round1(a.distanceM) },
        to: { snappedTo: b.at, distanceM: round1(b.distanceM) },
      },
    };
  });
}
