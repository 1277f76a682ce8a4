/**
 * The traffic calculator as a plain API: `POST /api/v1/traffic/tpi` gives each link's delay time
 * proportion, TPI and level, and the network's index weighted by vehicle-kilometres
 * (GB/T 33171-2016, tpi.ts), reading nothing stored. Bad input is a 400 ProblemDetails naming the
 * field (`links[2].speed`).
 */
import type { FastifyInstance } from 'fastify';
import { badRequest } from '../core/errors.js';
import { ACCOUNT, guarded } from '../http/route-access.js';
import { delayTimeProportion, networkTpi, tpiOfDtp, type LevelName } from './tpi.js';

/** One link of a request: km/h for the speeds, km for the length, vehicles over the period. */
export interface TpiLinkInput {
  id: string;
  speed: number;
  freeFlowSpeed: number;
  length: number;
  vehicles: number;
}

/** Links in one request: enough for a city's network, bounded so one request stays cheap. */
export const MAX_LINKS = 100_000;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const LINK_MEMBERS = ['id', 'speed', 'freeFlowSpeed', 'length', 'vehicles'] as const;

/** A number of 0 or more (above 0 with `positive`); throws a 400 naming the field. */
function number(v: unknown, field: string, what: string, positive = false): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (positive && v === 0))
    throw badRequest(
      `${field}: must be ${positive ? 'a number above 0' : 'a number of 0 or more'} (${what}), got ${JSON.stringify(v) ?? 'nothing'}`,
    );
  return v;
}

function parseLink(v: unknown, i: number): TpiLinkInput {
  const at = `links[${i}]`;
  if (!isObject(v)) throw badRequest(`${at}: must be an object {id, speed, freeFlowSpeed, length, vehicles}`);
  for (const k of Object.keys(v))
    if (!(LINK_MEMBERS as readonly string[]).includes(k))
      throw badRequest(`${at}.${k}: not a member of a link (${LINK_MEMBERS.join(', ')})`);
  if (typeof v.id !== 'string' || v.id === '') throw badRequest(`${at}.id: must be a non-empty string`);
  return {
    id: v.id,
    speed: number(v.speed, `${at}.speed`, 'km/h'),
    freeFlowSpeed: number(v.freeFlowSpeed, `${at}.freeFlowSpeed`, 'km/h', true),
    length: number(v.length, `${at}.length`, 'km'),
    vehicles: number(v.vehicles, `${at}.vehicles`, 'vehicles over the period'),
  };
}

/** Reads a TPI request body; throws a 400 naming the field that is wrong. */
export function parseTpiRequest(body: unknown): TpiLinkInput[] {
  if (!isObject(body)) throw badRequest('The request body must be a JSON object {"links": [...]}');
  for (const k of Object.keys(body))
    if (k !== 'links') throw badRequest(`${k}: not a member of a TPI request (links)`);
  const links = body.links;
  if (!Array.isArray(links)) throw badRequest('links: must be an array of links');
  if (links.length === 0) throw badRequest('links: at least one link is needed');
  if (links.length > MAX_LINKS) throw badRequest(`links: at most ${MAX_LINKS} links in one request`);
  const out = links.map(parseLink);
  const seen = new Set<string>();
  out.forEach((l, i) => {
    if (seen.has(l.id)) throw badRequest(`links[${i}].id: "${l.id}" is given twice`);
    seen.add(l.id);
  });
  return out;
}

export interface TpiAnswer {
  links: { id: string; dtp: number; tpi: number; level: number; name: LevelName }[];
  network: {
    dtp: number;
    tpi: number;
    level: number;
    name: LevelName;
    vehicleKilometres: number;
    speed?: number;
    weighting: string;
  };
}

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;

/** Each link's index and the network's. */
export function answerTpi(links: readonly TpiLinkInput[]): TpiAnswer {
  const dtps = links.map((l) => delayTimeProportion(l.speed, l.freeFlowSpeed));
  // Never undefined: the request has at least one link.
  const n = networkTpi(
    links.map((l, i) => ({ dtp: dtps[i] as number, vehicles: l.vehicles, length: l.length, speed: l.speed })),
  ) as NonNullable<ReturnType<typeof networkTpi>>;
  return {
    links: links.map((l, i) => {
      const r = tpiOfDtp(dtps[i] as number);
      return { id: l.id, dtp: round(r.dtp, 4), tpi: r.tpi, level: r.level, name: r.name };
    }),
    network: {
      dtp: round(n.dtp, 4),
      tpi: n.tpi,
      level: n.level,
      name: n.name,
      vehicleKilometres: round(n.vehicleKilometres, 3),
      ...(n.speed === undefined ? {} : { speed: round(n.speed, 1) }),
      weighting: n.weighting,
    },
  };
}

/** The traffic routes of the transport module. */
export function registerTrafficRoutes(app: FastifyInstance): void {
  app.post('/api/v1/traffic/tpi', guarded(ACCOUNT, []), (req) =>
    Promise.resolve(answerTpi(parseTpiRequest(req.body))),
  );
}
