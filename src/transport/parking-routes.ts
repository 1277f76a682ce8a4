/**
 * `GET /api/v1/parking/nearest?near=lon,lat[&min=N][&by=distance|time][&limit=K]`: the car parks
 * (`OffStreetParking`) of the tenant with at least `min` free spaces (default 1), nearest first:
 * by great-circle distance (`by=distance`, the default), or by travel time over the road network
 * at the current travel times (`by=time`: one Dijkstra from the node nearest `near` to every node;
 * each car park counts from the node nearest to it; those the network does not reach come last,
 * without `timeS`). Each: id, name, free, total, distanceM (timeS), observedAt of the free count.
 * Car parks are read per request (a city has hundreds, not tens of thousands). Bad parameters are
 * a 400 naming the parameter.
 */
import type { FastifyInstance } from 'fastify';
import { badRequest, notFound } from '../core/errors.js';
import { distanceMetres } from '../core/geo/geometry.js';
import type { Position } from '../core/geo/geo-query.js';
import type { EntityQuery } from '../core/query/entity-query.js';
import type { QueryResult } from '../core/store.js';
import { tenantOf } from '../http/ngsi-request.js';
import { READS, guarded } from '../http/route-access.js';
import { OFF_STREET_PARKING_TYPES, carParkOf, type CarPark } from './parking-data.js';
import { currentCosts, nearestNode, timesTo } from './road-graph.js';
import type { RoadNetworks } from './route-networks.js';
import { typeExprOf } from './route-networks.js';
import { parseLonLat, single } from './route-routes.js';

const PAGE = 1000;
export const DEFAULT_LIMIT = 10;
export const MAX_LIMIT = 100;

/** A whole number in [lo, hi]; throws a 400 naming `name`. */
export function parseCount(
  name: string,
  raw: string | undefined,
  dflt: number,
  lo: number,
  hi: number,
): number {
  if (raw === undefined) return dflt;
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < lo || n > hi)
    throw badRequest(`${name}: must be a whole number from ${lo} to ${hi}, got ${JSON.stringify(raw)}`);
  return n;
}

export interface NearestCarPark {
  id: string;
  name?: string;
  free: number;
  total?: number;
  distanceM: number;
  timeS?: number;
  observedAt?: string;
}

async function carParks(
  queryEntities: (tenant: string, q: EntityQuery) => Promise<QueryResult>,
  tenant: string,
): Promise<CarPark[]> {
  const out: CarPark[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const { entities } = await queryEntities(tenant, {
      type: typeExprOf(OFF_STREET_PARKING_TYPES),
      orderBy: [{ column: 'id', desc: false }],
      limit: PAGE,
      offset,
      count: false,
    });
    for (const e of entities) {
      const p = carParkOf(e);
      if (p) out.push(p);
    }
    if (entities.length < PAGE) return out;
  }
}

export function registerParkingRoutes(
  app: FastifyInstance,
  deps: {
    queryEntities(tenant: string, q: EntityQuery): Promise<QueryResult>;
    networks: RoadNetworks;
    now: () => number;
  },
): void {
  app.get('/api/v1/parking/nearest', guarded(READS, ['near', 'min', 'by', 'limit']), async (req) => {
    const near = parseLonLat('near', single(req.query, 'near'));
    const min = parseCount('min', single(req.query, 'min'), 1, 0, 1_000_000);
    const limit = parseCount('limit', single(req.query, 'limit'), DEFAULT_LIMIT, 1, MAX_LIMIT);
    const by = single(req.query, 'by') ?? 'distance';
    if (by !== 'distance' && by !== 'time')
      throw badRequest(`by: must be "distance" or "time", got ${JSON.stringify(by)}`);
    const tenant = tenantOf(req);
    const found = (await carParks((t, q) => deps.queryEntities(t, q), tenant))
      .filter((p): p is CarPark & { free: number } => p.free !== undefined && p.free >= min)
      .map((p) => ({
        at: p.at,
        out: {
          id: p.id,
          ...(p.name !== undefined ? { name: p.name } : {}),
          free: p.free,
          ...(p.total !== undefined ? { total: p.total } : {}),
          distanceM: Math.round(distanceMetres(near, p.at)),
          ...(p.observedAt !== undefined ? { observedAt: p.observedAt } : {}),
        },
      }));
    if (by === 'time') await addTimes(deps.networks, deps.now(), tenant, near, found);
    const key = (p: NearestCarPark) => (by === 'time' ? (p.timeS ?? Infinity) : p.distanceM);
    const ordered = found
      .map((f) => f.out)
      .sort((a, b) => key(a) - key(b) || a.distanceM - b.distanceM || (a.id < b.id ? -1 : 1));
    return { near, min, by, carParks: ordered.slice(0, limit) };
  });
}

async function addTimes(
  networks: RoadNetworks,
  now: number,
  tenant: string,
  near: Position,
  found: { at: Position; out: NearestCarPark }[],
): Promise<void> {
  const net = await networks.network(tenant);
  if (!net)
    throw notFound('by=time: no road network (the tenant has no RoadSegment with a LineString location)');
  const start = nearestNode(net, near);
  if (!start) throw notFound('by=time: no road network to start from');
  const nodeOf = new Map<NearestCarPark, string>();
  for (const { at, out } of found) {
    const n = nearestNode(net, at);
    if (n) nodeOf.set(out, n.key);
  }
  const times = timesTo(net, start.key, new Set(nodeOf.values()), currentCosts(net, now, 'current'));
  for (const [p, node] of nodeOf) {
    const t = times.get(node);
    if (t !== undefined) p.timeS = Math.round(t * 10) / 10;
  }
}
