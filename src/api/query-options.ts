/**
 * Query parameters of entity retrieval and query (NGSI-LD §6.4.3.2, §6.5.3.1): filters into an
 * EntityQuery, and options/format/attrs/pick/omit/lang into render options.
 */
import type { ActiveContext } from '../core/context/active-context.js';
import type { Format, RenderOptions } from '../core/entity-output.js';
import { HubError, badRequest, invalidRequest } from '../core/errors.js';
import { GeoQuerySyntaxError, parseGeoQuery } from '../core/geo/geo-query.js';
import { QuerySyntaxError, parseQ } from '../core/query/q-parser.js';
import { parseScopeQ } from '../core/query/scope-query.js';
import { mapTypeExpr, parseTypeExpr } from '../core/query/type-expr.js';
import type { EntityQuery, OrderKey } from '../core/store.js';
import { applyProjection, parseProjection } from './projection.js';
import type { Projection } from './projection.js';
import { isUri, isValidName } from '../core/validation.js';

export type Params = Record<string, unknown>;

export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 1000;

const OPTIONS = new Set([
  'keyValues',
  'simplified',
  'concise',
  'normalized',
  'sysAttrs',
  'noOverwrite',
  'replace',
  'update',
]);

export function str(p: Params, name: string): string | undefined {
  const v = p[name];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(',');
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export function list(p: Params, name: string): string[] | undefined {
  const s = str(p, name);
  if (s === undefined) return undefined;
  const items = s.split(',').map((x) => x.trim());
  if (items.some((x) => x.length === 0)) throw badRequest(`Empty item in ${name}`);
  return items;
}

/** Options of reads (NGSI-LD §6.3.7, §6.3.10 sysAttrs). */
export const READ_OPTIONS = ['keyValues', 'simplified', 'concise', 'normalized', 'sysAttrs'] as const;

/** The options= values, each checked against what the operation defines (InvalidRequest otherwise). */
export function optionSet(p: Params, allowed: readonly string[] = READ_OPTIONS): Set<string> {
  const opts = list(p, 'options') ?? [];
  for (const o of opts) {
    if (!OPTIONS.has(o)) throw invalidRequest(`Unknown option ${JSON.stringify(o)}`);
    if (!allowed.includes(o))
      throw invalidRequest(`The option ${JSON.stringify(o)} does not apply to this operation`);
  }
  return new Set(opts);
}

/** format= wins over options=keyValues|simplified|concise|normalized (NGSI-LD §6.3.7). */
export function formatOf(p: Params): Format {
  const opts = optionSet(p);
  const format = str(p, 'format');
  if (format !== undefined) {
    if (
      format !== 'keyValues' &&
      format !== 'concise' &&
      format !== 'normalized' &&
      format !== 'simplified'
    ) {
      throw invalidRequest(`Unknown format ${JSON.stringify(format)}`);
    }
    return format === 'simplified' ? 'keyValues' : format;
  }
  const chosen = new Set<Format>();
  if (opts.has('keyValues') || opts.has('simplified')) chosen.add('keyValues');
  if (opts.has('concise')) chosen.add('concise');
  if (opts.has('normalized')) chosen.add('normalized');
  if (chosen.size > 1) throw invalidRequest('Conflicting representation options');
  return [...chosen][0] ?? 'normalized';
}

/** pick or omit, parsed with nested projections into linked entities (NGSI-LD §4.21). */
export function projectionOf(p: Params): Projection | undefined {
  const pick = str(p, 'pick');
  const omit = str(p, 'omit');
  if (pick !== undefined && omit !== undefined) throw badRequest('pick and omit cannot be used together');
  if (pick !== undefined) return { mode: 'pick', tree: parseProjection(pick) };
  if (omit !== undefined) return { mode: 'omit', tree: parseProjection(omit) };
  return undefined;
}

export function renderOptionsOf(p: Params, ctx: ActiveContext): RenderOptions {
  const opts = optionSet(p);
  const attrs = list(p, 'attrs');
  const projection = projectionOf(p);
  if (projection && attrs) throw badRequest('attrs cannot be used with pick or omit');
  for (const n of attrs ?? []) {
    if (!isValidName(n)) throw badRequest(`Invalid attribute name ${JSON.stringify(n)}`);
  }
  let ro: RenderOptions = { format: formatOf(p), sysAttrs: opts.has('sysAttrs') };
  if (attrs) ro.only = new Set(attrs.map((n) => ctx.expand(n)));
  ro = applyProjection(ro, projection, ctx);
  const datasetIds = list(p, 'datasetId');
  if (datasetIds) {
    for (const d of datasetIds)
      if (d !== '@none' && !isUri(d)) throw badRequest(`Invalid datasetId ${JSON.stringify(d)}`);
    ro.datasetIds = new Set(datasetIds);
  }
  const lang = str(p, 'lang');
  if (lang !== undefined) {
    if (!/^[A-Za-z0-9*,;=.\s-]+$/.test(lang)) throw badRequest(`Invalid lang ${JSON.stringify(lang)}`);
    ro.lang = lang;
  }
  return ro;
}

/**
 * Builds an EntityQuery from GET /entities parameters or the POST /entityOperations/query body
 * (already flattened into the same names by the caller). Requires at least one filter.
 */
export function entityQueryOf(
  p: Params,
  ctx: ActiveContext,
  opts: { requireFilter: boolean; pagination: boolean },
): EntityQuery {
  const q: EntityQuery = { limit: DEFAULT_LIMIT, offset: 0, count: false };
  const ids = list(p, 'id');
  if (ids) {
    for (const id of ids) if (!isUri(id)) throw badRequest(`Invalid entity id ${JSON.stringify(id)}`);
    q.ids = ids;
  }
  const idPattern = str(p, 'idPattern');
  if (idPattern !== undefined) {
    try {
      new RegExp(idPattern);
    } catch {
      throw badRequest(`Invalid idPattern ${JSON.stringify(idPattern)}`);
    }
    q.idPattern = idPattern;
  }
  const type = str(p, 'type');
  if (type !== undefined) q.type = mapTypeExpr(parseTypeExpr(type), (t) => ctx.expand(t));
  const attrs = list(p, 'attrs');
  if (attrs) {
    for (const a of attrs) {
      if (!isValidName(a) || ctx.expand(a).startsWith('@'))
        throw badRequest(`Invalid attribute name ${JSON.stringify(a)} in attrs`);
    }
    q.withAnyAttr = attrs.map((a) => ctx.expand(a));
  }
  const qs = str(p, 'q');
  if (qs !== undefined) {
    try {
      q.q = { expr: parseQ(qs), expandAttr: (t) => ctx.expand(t), expandValue: (t) => ctx.expand(t) };
    } catch (err) {
      if (err instanceof QuerySyntaxError) throw badRequest(`Invalid q: ${err.message}`, err);
      throw err;
    }
  }
  const scopeQ = str(p, 'scopeQ');
  if (scopeQ !== undefined) {
    try {
      q.scopeQ = parseScopeQ(scopeQ);
    } catch (err) {
      if (err instanceof QuerySyntaxError) throw badRequest(`Invalid scopeQ: ${err.message}`, err);
      throw err;
    }
  }
  try {
    const geoInput: { georel?: string; geometry?: string; coordinates?: unknown; geoproperty?: string } = {};
    for (const k of ['georel', 'geometry', 'geoproperty'] as const) {
      const v = str(p, k);
      if (v !== undefined) geoInput[k] = v;
    }
    if (p.coordinates !== undefined) geoInput.coordinates = p.coordinates;
    const geo = parseGeoQuery(geoInput);
    if (geo) q.geo = { query: geo, geoPropertyIri: ctx.expand(geo.geoproperty) };
  } catch (err) {
    if (err instanceof GeoQuerySyntaxError) throw badRequest(`Invalid geo-query: ${err.message}`, err);
    throw err;
  }
  const local = str(p, 'local');
  if (local !== undefined && local !== 'true' && local !== 'false')
    throw badRequest('local must be true or false');
  // NGSI-LD §6.4.3.2: type, attrs, q, geoQ (or local=true) must narrow a query; ids alone do not.
  if (opts.requireFilter && local !== 'true' && !q.type && !q.withAnyAttr && !q.q && !q.geo && !q.scopeQ) {
    throw badRequest('A query needs at least one of: type, attrs, q, geoQ, scopeQ (or local=true)');
  }
  const orderBy = str(p, 'orderBy');
  if (orderBy !== undefined) {
    if (q.geo) throw new HubError('OperationNotSupported', 'orderBy cannot be combined with a geo-query yet');
    q.orderBy = parseOrderBy(orderBy, ctx);
  }
  if (opts.pagination) {
    q.limit = intParam(p, 'limit', DEFAULT_LIMIT, 0);
    q.offset = intParam(p, 'offset', 0, 0);
    if (q.limit > MAX_LIMIT)
      throw new HubError('TooManyResults', `limit ${q.limit} is above the maximum ${MAX_LIMIT}`);
    const count = str(p, 'count');
    if (count !== undefined && count !== 'true' && count !== 'false')
      throw badRequest('count must be true or false');
    q.count = count === 'true';
    if (q.limit === 0 && !q.count) throw badRequest('limit=0 is only allowed with count=true');
  }
  return q;
}

const ORDER_COLUMNS = new Set(['id', 'type', 'createdAt', 'modifiedAt']);
type OrderMember = 'createdAt' | 'modifiedAt' | 'observedAt' | 'unitCode';
const ORDER_MEMBERS = new Set<string>(['createdAt', 'modifiedAt', 'observedAt', 'unitCode']);

/** orderBy=name;desc,type,address.city;asc (NGSI-LD v1.9 §4.20): keys, each ascending unless ;desc. */
function parseOrderBy(s: string, ctx: ActiveContext): OrderKey[] {
  return s.split(',').map((item) => {
    const [path = '', dir, extra] = item.trim().split(';');
    if (extra !== undefined || (dir !== undefined && dir !== 'asc' && dir !== 'desc') || path === '') {
      throw badRequest(
        `Invalid orderBy item ${JSON.stringify(item)}: use attribute[.subAttribute][;asc|;desc]`,
      );
    }
    const desc = dir === 'desc';
    if (ORDER_COLUMNS.has(path)) return { column: path as 'id' | 'type' | 'createdAt' | 'modifiedAt', desc };
    const [attr = '', ...sub] = path.split('.');
    for (const n of [attr, ...sub])
      if (!isValidName(n)) throw badRequest(`Invalid attribute name ${JSON.stringify(n)} in orderBy`);
    // A trailing createdAt/modifiedAt/observedAt/unitCode names the attribute's own member.
    const last = sub[sub.length - 1];
    const member = last !== undefined && ORDER_MEMBERS.has(last) ? (sub.pop() as OrderMember) : undefined;
    const key: OrderKey = { attr: ctx.expand(attr), sub: sub.map((n) => ctx.expand(n)), desc };
    if (member) key.member = member;
    return key;
  });
}

function intParam(p: Params, name: string, dflt: number, min: number): number {
  const s = str(p, name);
  if (s === undefined) return dflt;
  if (!/^\d+$/.test(s)) throw badRequest(`${name} must be a non-negative integer`);
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n > 1_000_000_000) throw badRequest(`${name} is too large`);
  if (n < min) throw invalidRequest(`${name} must be at least ${min}`);
  return n;
}
