/**
 * One fuzzed request from the seeded generator: a route of the hub (from the routes it
 * registered, so that a new route is fuzzed without editing the fuzzer), its path parameters from
 * the pools, the path spelled in one of the ways that must still reach the route (or, marked so,
 * one that must not), query parameters (the route's own, unknown ones, hostile values), a
 * principal and its credentials, tenant, @context, media-type headers, and a body.
 */
import type { FuzzRoute } from './fuzz-hub.js';
import type { Rng } from './prng.js';
import type { SeedIds } from './fuzz-seed.js';
import { PURPOSE } from './fuzz-seed.js';
import { bodyFor } from './fuzz-bodies.js';
import type { CredentialSet, PrincipalName } from './fuzz-principals.js';
import {
  BAD_TENANTS,
  HOSTILE,
  SERVICE_PATHS,
  TENANTS,
  UNDECLARED_PARAMS,
  UNKNOWN_PARAMS,
  idPools,
  poolOf,
  queryValue,
} from './fuzz-values.js';

export interface FuzzRequest {
  index: number;
  route: FuzzRoute;
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  principal: PrincipalName;
  /** How the credentials were presented. */
  credentialForm: string;
  /** Whether the hub should recognise the principal (false: the request is as good as anonymous). */
  authenticates: boolean;
  /** Whether the URL as spelled must reach `route` (false: it may route elsewhere or nowhere). */
  reachesRoute: boolean;
  /** The tenant as the hub reads it ('' default); undefined when the header is not a valid name. */
  tenant: string | undefined;
  purpose: string | undefined;
  /** Every @context URL the request names (Link header or body). */
  contextUrls: string[];
}

const CORE = 'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld';
const SDM = 'https://smart-data-models.github.io/dataModel.Transportation/context.jsonld';
const REL = 'rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"';
const TENANT_RE = /^[A-Za-z0-9_-]{1,64}$/;
/** What each department writes (fuzz-seed.ts policies). */
const OWN_TYPES: Partial<Record<PrincipalName, readonly string[]>> = {
  transport: ['TrafficFlowObserved'],
  'transport-key': ['TrafficFlowObserved'],
  health: ['Person', 'MedicalRecord'],
  'health-key': ['Person', 'MedicalRecord'],
};
const UNRESERVED = /[A-Za-z0-9\-._~]/;
/** The hub's router refuses a longer path parameter before any route (maxParamLength). */
const MAX_PARAM = 2048;

export interface GeneratorDeps {
  routes: readonly FuzzRoute[];
  ids: SeedIds;
  credentials: CredentialSet;
  /** An @context URL served by the fuzzer's sentinel: the hub must never fetch it. */
  sentinelContext: string;
}

export function createRequestGenerator(deps: GeneratorDeps) {
  const pools = idPools(deps.ids);
  // inject's requests come from http://localhost:80, so that is where the seed's context is hosted.
  const hosted = `http://localhost:80/ngsi-ld/v1/jsonldContexts/${deps.ids.contexts[0] ?? 'none'}`;
  const linkValues: [number, (rng: Rng) => { header: string; urls: string[] }][] = [
    [4, () => ({ header: `<${CORE}>; ${REL}`, urls: [CORE] })],
    [3, () => ({ header: `<${SDM}>; ${REL}`, urls: [SDM] })],
    [2, () => ({ header: `<${deps.sentinelContext}>; ${REL}`, urls: [deps.sentinelContext] })],
    [
      1,
      () => ({
        header: `<https://example.org/unknown.jsonld>; ${REL}`,
        urls: ['https://example.org/unknown.jsonld'],
      }),
    ],
    [1, () => ({ header: `<file:///etc/passwd>; ${REL}`, urls: ['file:///etc/passwd'] })],
    // A @context the hub hosts (posted by transport while seeding): read from its own store.
    [1, () => ({ header: `<${hosted}>; ${REL}`, urls: [hosted] })],
    [1, () => ({ header: `<${CORE}>; ${REL}, <${SDM}>; ${REL}`, urls: [CORE, SDM] })],
    [
      3,
      (rng) => ({
        header: rng.pick([
          `<${CORE}`,
          `${CORE}; ${REL}`,
          `<>; ${REL}`,
          `<not a url>; ${REL}`,
          `<${CORE}>; rel=json-ld#context`,
          `<${CORE}>`,
          `<${CORE}>; rel="http://www.w3.org/ns/json-ld#context"; rel="next"`,
          ';;;,,,<<>>',
          `<${'https://x.org/' + 'a'.repeat(5000)}>; ${REL}`,
        ]),
        urls: [],
      }),
    ],
  ];

  function pathOf(rng: Rng, route: FuzzRoute): { path: string; reaches: boolean } {
    let reaches = true;
    const fixed: boolean[] = [];
    const segments = route.url.split('/').map((seg) => {
      if (!seg.startsWith(':')) {
        fixed.push(seg !== '');
        return seg;
      }
      fixed.push(false);
      const pool = pools[poolOf(seg.slice(1), route.url)] ?? pools.entity ?? [];
      const value = rng.chance(0.15) ? rng.pick(HOSTILE) : rng.pick(pool);
      if (value === '' || value === '.' || value === '..') reaches = false;
      if (rng.chance(0.1)) {
        // Raw: what a careless client sends.
        if (/[/?#%\\\s]|[^\x20-\x7e]/.test(value) || value.length > MAX_PARAM) reaches = false;
        return value;
      }
      try {
        const enc = encodeURIComponent(value);
        if (enc.length > MAX_PARAM) reaches = false;
        return enc;
      } catch {
        reaches = false; // a lone surrogate: no UTF-8 for it
        return '%ED%A0%80';
      }
    });
    // Spellings of the fixed segments that must reach the same route...
    if (rng.chance(0.15)) {
      const i = rng.int(0, segments.length - 1);
      if (fixed[i])
        segments[i] = [...(segments[i] as string)]
          .map((ch) => {
            if (!UNRESERVED.test(ch) || !rng.chance(0.3)) return ch;
            const hex = ch.charCodeAt(0).toString(16).padStart(2, '0');
            return `%${rng.chance(0.5) ? hex.toUpperCase() : hex}`;
          })
          .join('');
    }
    let path = segments.join('/');
    if (rng.chance(0.08)) {
      const slashes = [...path.matchAll(/\//g)].map((m) => m.index);
      const at = rng.pick(slashes);
      path = `${path.slice(0, at)}/${path.slice(at)}`;
    }
    if (rng.chance(0.08) && !path.endsWith('/')) path = `${path}/`;
    if (rng.chance(0.03)) path = path.replace(/^\/([^/]+)\//, '/$1/./');
    if (rng.chance(0.03)) path = path.replace(/^\/([^/]+)\//, '/$1/fz/../');
    // ...and ones that must not: upper case in a fixed segment, an encoded slash between two.
    if (rng.chance(0.05)) {
      const i = fixed.findIndex((f, k) => f && /[a-z]/.test(segments[k] ?? '') && rng.chance(0.5));
      if (i >= 0) {
        const seg = segments[i] as string;
        const upper = seg.replace(/[a-z]/, (c) => c.toUpperCase());
        path = path.replace(`/${seg}`, `/${upper}`);
        reaches = false;
      }
    }
    if (rng.chance(0.03) && path.split('/').length > 3) {
      path = path.replace(/^(\/[^/]+)\//, '$1%2F');
      reaches = false;
    }
    return { path, reaches };
  }

  function queryOf(rng: Rng, route: FuzzRoute, extra: [string, string] | undefined): string {
    const names = route.params ?? UNDECLARED_PARAMS;
    const pairs: [string, string][] = [];
    const n =
      names.length === 0
        ? 0
        : rng.weighted([
            [4, 0],
            [4, 1],
            [3, 2],
            [2, 3],
            [1, 5],
          ]);
    for (let i = 0; i < n; i++) {
      const name = rng.pick(names);
      pairs.push([name, queryValue(rng, name, deps.ids)]);
    }
    if (rng.chance(0.06)) pairs.push([rng.pick(UNKNOWN_PARAMS), 'x']);
    if (rng.chance(0.04) && pairs.length > 0) pairs.push(pairs[0] as [string, string]);
    if (extra) pairs.push(extra);
    if (pairs.length === 0) return '';
    const enc = (s: string, raw: boolean) => {
      if (raw) return s;
      try {
        return encodeURIComponent(s);
      } catch {
        return '%ED%A0%80';
      }
    };
    const raw = rng.chance(0.08);
    return `?${pairs.map(([k, v]) => `${enc(k, raw)}=${enc(v, raw)}`).join('&')}`;
  }

  return function generate(rng: Rng, index: number, principal: PrincipalName): FuzzRequest {
    const route = rng.pick(deps.routes);
    const cred = deps.credentials.credentials(rng, principal, route.access);
    const spelled = pathOf(rng, route);
    const path = spelled.path;
    let reaches = spelled.reaches;
    let method = route.method;
    if (rng.chance(0.03)) {
      method = rng.pick(['OPTIONS', 'TRACE', 'PROPFIND', 'PUT', 'DELETE', 'PATCH', 'SEARCH']);
      if (method !== route.method) reaches = false;
    }
    const url = path + queryOf(rng, route, cred.query);
    const headers: Record<string, string> = { ...cred.headers };
    const tenantHeader = rng.weighted<(() => void) | undefined>([
      [11, undefined],
      [4, () => (headers['ngsild-tenant'] = rng.pick(TENANTS))],
      [3, () => (headers['fiware-service'] = rng.pick(TENANTS))],
      [1, () => (headers[rng.pick(['ngsild-tenant', 'fiware-service'])] = rng.pick(BAD_TENANTS))],
      [
        1,
        () => {
          headers['ngsild-tenant'] = rng.pick(TENANTS);
          headers['fiware-service'] = rng.pick(TENANTS);
        },
      ],
    ]);
    tenantHeader?.();
    if (route.url.startsWith('/iot') ? rng.chance(0.6) : rng.chance(0.05))
      headers['fiware-servicepath'] = rng.pick(SERVICE_PATHS);
    const contextUrls: string[] = [];
    if (rng.chance(0.25)) {
      const link = rng.weighted(linkValues)(rng);
      headers.link = link.header;
      contextUrls.push(...link.urls);
    }
    if (rng.chance(0.2))
      headers.accept = rng.pick([
        'application/json',
        'application/ld+json',
        'application/geo+json',
        'text/html',
        '*/*',
        'application/json;q=0',
        'application/*;q=abc',
        'application/ld+json, application/json;q=0.5',
        '',
      ]);
    const mayPurpose = principal === 'health' || principal === 'health-key' ? 0.4 : 0.1;
    let purpose: string | undefined;
    if (rng.chance(mayPurpose)) {
      purpose = rng.pick([PURPOSE, PURPOSE, 'research', ` ${PURPOSE} `, 'Treatment', '']);
      headers['citypivot-purpose'] = purpose;
    }
    if (rng.chance(0.03))
      headers['x-forwarded-for'] = rng.pick(['10.0.0.1', '127.0.0.1, 1.2.3.4', 'garbage']);

    const contentType = rng.weighted([
      [20, 'application/json'],
      [4, 'application/ld+json'],
      [1, 'application/merge-patch+json'],
      [1, 'application/geo+json'],
      [2, 'text/plain'],
      [1, 'application/octet-stream'],
      [1, 'multipart/form-data; boundary=x'],
      [1, 'application/x-www-form-urlencoded'],
      [1, 'application/json; charset=latin1'],
      [1, 'APPLICATION/JSON'],
      [1, 'application/json;;;'],
      [1, ''],
    ]);
    let bodyContext: string | undefined;
    if (contentType === 'application/ld+json' && rng.chance(0.8))
      bodyContext = rng.weighted([
        [5, CORE],
        [2, SDM],
        [1, deps.sentinelContext],
      ]);
    const body = bodyFor(
      `${route.method} ${route.url}`,
      {
        rng,
        entityIds: pools.entity ?? [],
        deviceIds: deps.ids.devices,
        subscriptionIds: deps.ids.subscriptions,
        unknownContext: deps.sentinelContext,
        ownTypes: OWN_TYPES[principal] ?? [],
      },
      bodyContext,
    );
    if (body) {
      if (contentType !== '' || rng.chance(0.5)) headers['content-type'] = contentType;
      if (body.text.includes('@context'))
        for (const m of body.text.matchAll(/"((?:https?|file):[^"\\]*)"/g)) contextUrls.push(m[1] as string);
    }

    const rawTenant = headers['ngsild-tenant'] ?? headers['fiware-service'];
    const tenant =
      rawTenant === undefined || rawTenant === '' ? '' : TENANT_RE.test(rawTenant) ? rawTenant : undefined;
    return {
      index,
      route,
      method,
      url,
      headers,
      ...(body ? { body: body.text } : {}),
      principal,
      credentialForm: cred.form,
      authenticates: cred.authenticates,
      reachesRoute: reaches,
      tenant,
      purpose,
      contextUrls,
    };
  };
}
