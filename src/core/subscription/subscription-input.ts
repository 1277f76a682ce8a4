/**
 * Reads a Subscription (NGSI-LD §5.2.12) or a Subscription fragment (§5.8.2 update) from a client
 * body: checks every member, expands names with the request's @context, and checks the members
 * together (§5.8.1). Every problem is a BadRequestData error naming the member.
 */
import type { ActiveContext } from '../context/active-context.js';
import { FORMATS, type Format } from '../entity-output.js';
import { badRequest } from '../errors.js';
import { GeoQuerySyntaxError, parseGeoQuery } from '../geo/geo-query.js';
import { QuerySyntaxError, parseQ } from '../query/q-parser.js';
import { parseScopeQ } from '../query/scope-query.js';
import { mapTypeExpr, parseTypeExpr, type TypeExpr } from '../query/type-expr.js';
import { isDateTime, isPlainObject, isUri, isValidName } from '../validation.js';
import {
  ENDPOINT_SCHEMES,
  NOTIFICATION_MEDIA,
  NOTIFICATION_TRIGGERS,
  type GeoQueryMember,
  type KeyValuePair,
  type NotificationEndpoint,
  type NotificationMedia,
  type NotificationParams,
  type NotificationTrigger,
  type Subscription,
  type SubscriptionEntitySelector,
} from './subscription-model.js';

/** Members a client may not set (they are the hub's). */
const READ_ONLY = ['status', 'createdAt', 'modifiedAt'] as const;

/** A Subscription's members as read from a fragment: undefined absent, null removed. */
export type SubscriptionPatch = {
  [K in keyof Subscription]?: Subscription[K] | null;
};

/**
 * Reads the members present in `body` (create or update). `@context`, `type` and the read-only
 * members are checked and dropped. Does not check the members together: see {@link checkSubscription}.
 */
export function parseSubscriptionMembers(
  body: unknown,
  ctx: ActiveContext,
  mode: 'create' | 'update',
): SubscriptionPatch {
  if (!isPlainObject(body)) throw badRequest('A subscription must be a JSON object');
  const out: SubscriptionPatch = {};
  for (const [key, value] of Object.entries(body)) {
    if (key === '@context') continue;
    if ((READ_ONLY as readonly string[]).includes(key)) continue;
    if (value === null) {
      if (mode === 'create') throw badRequest(`${key} must not be null`);
      (out as Record<string, unknown>)[key] = null;
      continue;
    }
    switch (key) {
      case 'id':
        if (!isUri(value)) throw badRequest(`Subscription id ${JSON.stringify(value)} is not a URI`);
        out.id = value;
        break;
      case 'type':
        if (value !== 'Subscription') throw badRequest('A subscription has type "Subscription"');
        break;
      case 'subscriptionName':
      case 'description':
        if (typeof value !== 'string') throw badRequest(`${key} must be a string`);
        out[key] = value;
        break;
      case 'entities':
        out.entities = parseSelectors(value, ctx);
        break;
      case 'watchedAttributes':
        out.watchedAttributes = attributeList(value, ctx, 'watchedAttributes');
        break;
      case 'notificationTrigger':
        out.notificationTrigger = parseTriggers(value);
        break;
      case 'timeInterval':
      case 'throttling':
        if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
          throw badRequest(`${key} must be a number of seconds greater than 0`);
        out[key] = value;
        break;
      case 'q':
        out.q = parseQMember(value);
        break;
      case 'scopeQ':
        if (typeof value !== 'string') throw badRequest('scopeQ must be a string');
        try {
          parseScopeQ(value);
        } catch (err) {
          if (err instanceof QuerySyntaxError) throw badRequest(`Invalid scopeQ: ${err.message}`, err);
          throw err;
        }
        out.scopeQ = value;
        break;
      case 'geoQ':
        out.geoQ = parseGeoQMember(value, ctx);
        break;
      case 'isActive':
        if (typeof value !== 'boolean') throw badRequest('isActive must be true or false');
        out.isActive = value;
        break;
      case 'expiresAt':
        if (!isDateTime(value)) throw badRequest(`expiresAt ${JSON.stringify(value)} is not a DateTime`);
        out.expiresAt = new Date(value).toISOString();
        break;
      case 'lang':
        if (typeof value !== 'string' || !/^[A-Za-z0-9*,;=.\s-]+$/.test(value))
          throw badRequest(`Invalid lang ${JSON.stringify(value)}`);
        out.lang = value;
        break;
      case 'datasetId': {
        const ids = Array.isArray(value) ? value : [value];
        if (ids.length === 0 || ids.some((d) => d !== '@none' && !isUri(d)))
          throw badRequest('datasetId must be a URI or a list of URIs');
        out.datasetId = ids as string[];
        break;
      }
      case 'jsonldContext':
        if (!isUri(value)) throw badRequest(`jsonldContext ${JSON.stringify(value)} is not a URI`);
        out.jsonldContext = value;
        break;
      case 'notification':
        // A fragment's notification replaces the held one as a whole, so it must be complete.
        out.notification = parseNotification(value, ctx);
        break;
      default:
        // Members of later versions (temporalQ, csf…) and extensions are ignored, as §5.8.1 allows.
        break;
    }
  }
  return out;
}

/**
 * Checks a whole subscription's members together (NGSI-LD §5.8.1): something to watch, an endpoint,
 * no timeInterval with watchedAttributes or throttling, expiresAt in the future.
 */
export function checkSubscription(s: Subscription, now: string, expiresAtChanged: boolean): void {
  if (!s.notification) throw badRequest('A subscription needs a notification member');
  if (s.timeInterval === undefined && !s.entities && !s.watchedAttributes)
    throw badRequest('A subscription needs entities or watchedAttributes');
  if (s.timeInterval !== undefined && s.watchedAttributes)
    throw badRequest('timeInterval and watchedAttributes cannot be used together');
  if (s.timeInterval !== undefined && s.throttling !== undefined)
    throw badRequest('timeInterval and throttling cannot be used together');
  if (s.timeInterval !== undefined && !s.entities)
    throw badRequest('A periodic subscription (timeInterval) needs entities');
  if (expiresAtChanged && s.expiresAt !== undefined && Date.parse(s.expiresAt) <= Date.parse(now))
    throw badRequest(`expiresAt ${s.expiresAt} is not in the future`);
}

function parseSelectors(value: unknown, ctx: ActiveContext): SubscriptionEntitySelector[] {
  if (!Array.isArray(value) || value.length === 0)
    throw badRequest('entities must be a non-empty list of entity selectors');
  return value.map((v, i) => {
    if (!isPlainObject(v)) throw badRequest(`entities[${i}] must be an object`);
    const sel: SubscriptionEntitySelector = {};
    if (v.id !== undefined) {
      if (!isUri(v.id)) throw badRequest(`entities[${i}].id ${JSON.stringify(v.id)} is not a URI`);
      sel.id = v.id;
    }
    if (v.idPattern !== undefined) {
      if (typeof v.idPattern !== 'string') throw badRequest(`entities[${i}].idPattern must be a string`);
      try {
        new RegExp(v.idPattern);
      } catch {
        throw badRequest(
          `entities[${i}].idPattern ${JSON.stringify(v.idPattern)} is not a regular expression`,
        );
      }
      sel.idPattern = v.idPattern;
    }
    if (v.type === undefined) throw badRequest(`entities[${i}] needs a type`);
    if (typeof v.type !== 'string' || v.type.length === 0)
      throw badRequest(`entities[${i}].type must be a type name or type selection`);
    let expr: TypeExpr;
    try {
      expr = parseTypeExpr(v.type);
    } catch (err) {
      throw badRequest(`entities[${i}].type: ${(err as Error).message}`, err);
    }
    sel.type = printTypeExpr(mapTypeExpr(expr, (t) => ctx.expand(t)));
    return sel;
  });
}

/** Writes a type selection back as text (NGSI-LD §4.17). */
export function printTypeExpr(e: TypeExpr, nested = false): string {
  if (e.kind === 'type') return e.name;
  const text = e.items.map((i) => printTypeExpr(i, true)).join(e.kind === 'or' ? ',' : ';');
  return nested ? `(${text})` : text;
}

function attributeList(value: unknown, ctx: ActiveContext, member: string): string[] {
  if (!Array.isArray(value) || value.length === 0)
    throw badRequest(`${member} must be a non-empty list of attribute names`);
  return value.map((n) => {
    if (!isValidName(n)) throw badRequest(`Invalid attribute name ${JSON.stringify(n)} in ${member}`);
    return ctx.expand(n);
  });
}

function parseTriggers(value: unknown): NotificationTrigger[] {
  if (!Array.isArray(value) || value.length === 0)
    throw badRequest('notificationTrigger must be a non-empty list');
  for (const t of value) {
    if (!(NOTIFICATION_TRIGGERS as readonly unknown[]).includes(t))
      throw badRequest(
        `Unknown notificationTrigger ${JSON.stringify(t)}; use ${NOTIFICATION_TRIGGERS.join(', ')}`,
      );
  }
  return [...new Set(value as NotificationTrigger[])];
}

function parseQMember(input: unknown): string {
  if (typeof input !== 'string') throw badRequest('q must be a string');
  let value = input;
  // Clients write q as they would in a URL (name=="Eiffel%20Tower"); a lone % stays as it is.
  try {
    value = decodeURIComponent(value);
  } catch {
    // not percent-encoded
  }
  try {
    parseQ(value);
  } catch (err) {
    if (err instanceof QuerySyntaxError) throw badRequest(`Invalid q: ${err.message}`, err);
    throw err;
  }
  return value;
}

function parseGeoQMember(value: unknown, ctx: ActiveContext): GeoQueryMember {
  if (!isPlainObject(value)) throw badRequest('geoQ must be an object');
  const { geometry, coordinates, georel, geoproperty } = value;
  try {
    const parsed = parseGeoQuery({ geometry, coordinates, georel, geoproperty } as Parameters<
      typeof parseGeoQuery
    >[0]);
    if (!parsed) throw badRequest('geoQ needs georel, geometry and coordinates');
  } catch (err) {
    if (err instanceof GeoQuerySyntaxError) throw badRequest(`Invalid geoQ: ${err.message}`, err);
    throw err;
  }
  const out: GeoQueryMember = {
    geometry: geometry as string,
    coordinates,
    georel: georel as string,
  };
  if (geoproperty !== undefined) out.geoproperty = ctx.expand(geoproperty as string);
  return out;
}

function parseNotification(value: unknown, ctx: ActiveContext): NotificationParams {
  if (!isPlainObject(value)) throw badRequest('notification must be an object');
  const endpoint = parseEndpoint(value.endpoint);
  const n: NotificationParams = { format: 'normalized', sysAttrs: false, showChanges: false, endpoint };
  if (value.attributes !== undefined)
    n.attributes = attributeList(value.attributes, ctx, 'notification.attributes');
  if (value.format !== undefined) {
    if (value.format === 'simplified') {
      n.format = 'keyValues';
      n.simplified = true;
    } else if ((FORMATS as readonly unknown[]).includes(value.format)) n.format = value.format as Format;
    else throw badRequest(`Unknown notification format ${JSON.stringify(value.format)}`);
  }
  for (const k of ['sysAttrs', 'showChanges'] as const) {
    if (value[k] === undefined) continue;
    if (typeof value[k] !== 'boolean') throw badRequest(`notification.${k} must be true or false`);
    n[k] = value[k];
  }
  const pick = memberList(value.pick, 'pick', ctx);
  const omit = memberList(value.omit, 'omit', ctx);
  if (pick && n.attributes) throw badRequest('notification.pick cannot be used with notification.attributes');
  if (omit && n.attributes) throw badRequest('notification.omit cannot be used with notification.attributes');
  if (pick && omit && pick.some((m) => omit.includes(m)))
    throw badRequest('A member cannot be both in notification.pick and notification.omit');
  if (pick) n.pick = pick;
  if (omit) n.omit = omit;
  if (value.join !== undefined) {
    if (value.join !== 'flat' && value.join !== 'inline' && value.join !== '@none')
      throw badRequest('notification.join must be flat, inline or @none');
    n.join = value.join;
  }
  if (value.joinLevel !== undefined) {
    if (typeof value.joinLevel !== 'number' || !Number.isInteger(value.joinLevel) || value.joinLevel < 1)
      throw badRequest('notification.joinLevel must be a whole number of at least 1');
    n.joinLevel = value.joinLevel;
  }
  return n;
}

function memberList(value: unknown, member: string, ctx: ActiveContext): string[] | undefined {
  if (value === undefined) return undefined;
  const items = typeof value === 'string' ? value.split(',') : value;
  if (!Array.isArray(items) || items.length === 0)
    throw badRequest(`notification.${member} must be a non-empty list of names`);
  return items.map((m) => {
    if (!isValidName(m)) throw badRequest(`Invalid name ${JSON.stringify(m)} in notification.${member}`);
    return m === 'id' || m === 'type' ? m : ctx.expand(m);
  });
}

/**
 * Refuses a body (create, or update fragment) whose `notification.endpoint.uri` has a host the
 * outbound rules refuse: BadRequestData with the reason. `refusal(host)` gives that reason for a
 * URL host (core/addresses/endpoint-rules.ts `hostRefusal`): only IP addresses are judged here; a name is
 * judged on the addresses it resolves to, at each delivery (a refusal then is the subscription's
 * lastFailure). A body without a readable endpoint URI passes, for the parser to report.
 */
export function checkNotificationEndpoint(
  body: unknown,
  refusal: (host: string) => string | undefined,
): void {
  if (!isPlainObject(body) || !isPlainObject(body.notification)) return;
  const endpoint = body.notification.endpoint;
  if (!isPlainObject(endpoint) || typeof endpoint.uri !== 'string') return;
  let host: string;
  try {
    host = new URL(endpoint.uri).hostname;
  } catch {
    return;
  }
  const reason = refusal(host);
  if (reason !== undefined) throw badRequest(`notification.endpoint.uri ${endpoint.uri}: ${reason}`);
}

function parseEndpoint(value: unknown): NotificationEndpoint {
  if (!isPlainObject(value)) throw badRequest('notification.endpoint must be an object with a uri');
  if (!isUri(value.uri)) throw badRequest('notification.endpoint.uri must be a URI');
  let url: URL;
  try {
    url = new URL(value.uri);
  } catch {
    throw badRequest(`notification.endpoint.uri ${JSON.stringify(value.uri)} is not a URL`);
  }
  if (!(ENDPOINT_SCHEMES as readonly string[]).includes(url.protocol))
    throw badRequest(`Notification endpoints must be http, https, mqtt or mqtts, not ${url.protocol}`);
  const ep: NotificationEndpoint = { uri: value.uri, accept: 'application/json' };
  if (value.accept !== undefined) {
    if (!(NOTIFICATION_MEDIA as readonly unknown[]).includes(value.accept))
      throw badRequest(`notification.endpoint.accept must be one of ${NOTIFICATION_MEDIA.join(', ')}`);
    ep.accept = value.accept as NotificationMedia;
  }
  if (value.timeout !== undefined) {
    if (typeof value.timeout !== 'number' || !(value.timeout > 0))
      throw badRequest('notification.endpoint.timeout must be a number of milliseconds');
    ep.timeout = value.timeout;
  }
  for (const k of ['receiverInfo', 'notifierInfo'] as const) {
    if (value[k] !== undefined) ep[k] = keyValues(value[k], `notification.endpoint.${k}`);
  }
  return ep;
}

function keyValues(value: unknown, member: string): KeyValuePair[] {
  if (!Array.isArray(value)) throw badRequest(`${member} must be a list of {key, value}`);
  return value.map((kv) => {
    if (!isPlainObject(kv) || typeof kv.key !== 'string' || typeof kv.value !== 'string' || kv.key === '')
      throw badRequest(`${member} must be a list of {key, value} strings`);
    return { key: kv.key, value: kv.value };
  });
}
