/**
 * What must hold for every answer, whatever was asked:
 * 1. no 5xx (a 503 LdContextNotAvailable for an @context the hub may not fetch is the one the
 *    standard asks for), no hang; every 4xx/5xx body an NGSI-LD ProblemDetails;
 * 2. a refused request (401, 403) wrote nothing;
 * 3. nothing outside policy is read: no answer holds a marker its caller may not see, a request
 *    without valid credentials to a route that is not public gets 401, a principal gets no
 *    success where its role, its tenant rights or its TOTP enrolment say no;
 * and, the other side of 3, nothing outside policy is written: an entity changed by a request
 * (or by a device, for the department that provisioned it) is one its department may write.
 */
import type { RouteAccess } from '../../src/http/route-access.js';
import type { RowChange } from './data-watch.js';
import { BOOKKEEPING_TABLES } from './data-watch.js';
import { CIPHERTEXT_PREFIX, HIDDEN, MARKERS, PURPOSE } from './fuzz-seed.js';
import { RIGHTS, type PrincipalName } from './fuzz-principals.js';

export const FINDING_KINDS = [
  'server-error',
  'hang',
  'not-problem-details',
  'write-on-refusal',
  'leak',
  'anonymous-not-401',
  'unauthorized-write',
  'role-escape',
  'tenant-escape',
  'enrolment-escape',
  'no-answer',
  'garbled-answer',
  'context-fetched',
  'watch-gap',
] as const;
export type FindingKind = (typeof FINDING_KINDS)[number];

export interface Finding {
  kind: FindingKind;
  detail: string;
}

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
  ms: number;
}

/** What the oracles need to know of a request. */
export interface Asked {
  method: string;
  /** The request's own text (URL, headers, body): a marker it contains may be echoed back. */
  text: string;
  principal: PrincipalName;
  authenticates: boolean;
  purpose: string | undefined;
  /** The route the request was made for, and whether its URL must reach it. */
  access: RouteAccess | undefined;
  reachesRoute: boolean;
  tenant: string | undefined;
  /** @context URLs it names; a 503 LdContextNotAvailable is right when one is not available. */
  unavailableContext: boolean;
}

/** Roles of the seeded principals. */
const ROLES: Partial<Record<PrincipalName, readonly string[]>> = {
  admin: ['system-administrator', 'security-administrator'],
  transport: ['department-admin'],
  health: ['department-admin'],
  auditor: ['auditor'],
  'transport-key': ['department-user'],
  'health-key': ['department-user'],
};

/** The principal the hub should see: credentials that do not work make a request anonymous. */
export function effectivePrincipal(a: Pick<Asked, 'principal' | 'authenticates'>): PrincipalName {
  if (!a.authenticates) return 'anonymous';
  // Good credentials in the wrong place that still work (a query token where a route takes one).
  return a.principal === 'misplaced-credentials' ? 'transport' : a.principal;
}

/** Strings the principal of a request may never read. */
export function forbiddenStrings(a: Pick<Asked, 'principal' | 'authenticates' | 'purpose'>): string[] {
  const who = effectivePrincipal(a);
  const healthLike = who === 'health' || who === 'health-key';
  const transportLike = who === 'transport' || who === 'transport-key';
  // No grant covers these: masked for every caller, administrators included.
  const out: string[] = [MARKERS.mobile, MARKERS.idNumber, CIPHERTEXT_PREFIX];
  if (!(healthLike && a.purpose?.trim() === PURPOSE)) out.push(MARKERS.diagnosis);
  if (!healthLike && who !== 'admin') out.push(MARKERS.note);
  // The audit log names the entities written: auditors may see ids, never values.
  if (!healthLike && who !== 'admin' && who !== 'auditor') out.push(HIDDEN.health);
  if (!transportLike && who !== 'admin' && who !== 'auditor') out.push(HIDDEN.transport);
  return out;
}

function isProblemDetails(status: number, body: string): string | undefined {
  let pd: unknown;
  try {
    pd = JSON.parse(body);
  } catch {
    return `the body is not JSON: ${JSON.stringify(body.slice(0, 200))}`;
  }
  if (typeof pd !== 'object' || pd === null || Array.isArray(pd)) return 'the body is not a JSON object';
  const p = pd as Record<string, unknown>;
  const missing = ['type', 'title', 'detail'].filter((k) => typeof p[k] !== 'string');
  if (missing.length > 0) return `${missing.join(', ')} missing or not strings in ${body.slice(0, 200)}`;
  if (p.status !== status) return `status ${JSON.stringify(p.status)} in the body, ${status} on the answer`;
  return undefined;
}

/** Oracles 1 and 3 on one answer. */
export function checkAnswer(a: Asked, r: Answer, slowMs: number): Finding[] {
  const out: Finding[] = [];
  const pdType = (() => {
    try {
      return (JSON.parse(r.body) as { type?: unknown }).type;
    } catch {
      return undefined;
    }
  })();
  if (r.status >= 500) {
    // A HEAD answer has no body to tell which 503 it is.
    const contextMissing =
      r.status === 503 &&
      a.unavailableContext &&
      (pdType === 'https://uri.etsi.org/ngsi-ld/errors/LdContextNotAvailable' || a.method === 'HEAD');
    if (!contextMissing) out.push({ kind: 'server-error', detail: `${r.status}: ${r.body.slice(0, 300)}` });
  }
  if (r.ms > slowMs) out.push({ kind: 'hang', detail: `answered after ${Math.round(r.ms)} ms` });
  if (r.status >= 400 && a.method !== 'HEAD') {
    const why = isProblemDetails(r.status, r.body);
    if (why) out.push({ kind: 'not-problem-details', detail: `${r.status}: ${why}` });
  }

  const seen = `${Object.values(r.headers).join('\n')}\n${r.body}`;
  for (const s of forbiddenStrings(a))
    if (!a.text.includes(s) && seen.includes(s))
      out.push({
        kind: 'leak',
        detail: `${r.status} answer to ${effectivePrincipal(a)} holds ${JSON.stringify(s)}`,
      });

  const rule = a.access;
  const open = rule === undefined || rule.who === 'anyone' || rule.who === 'device';
  if (a.reachesRoute && !open) {
    const who = effectivePrincipal(a);
    if (who === 'anonymous') {
      if (r.status !== 401)
        out.push({ kind: 'anonymous-not-401', detail: `${r.status} to a request without valid credentials` });
    } else if (who === 'enrolment-only') {
      const enrolment = rule.who === 'account' && rule.enrolment === true;
      if (!enrolment && r.status < 400)
        out.push({ kind: 'enrolment-escape', detail: `${r.status} to a token that may only enrol TOTP` });
    } else {
      const roles = ROLES[who] ?? [];
      if (rule.who === 'role' && !rule.roles.some((x) => roles.includes(x)) && r.status < 400)
        out.push({
          kind: 'role-escape',
          detail: `${r.status} to ${who} (${roles.join(', ')}) on a route for ${rule.roles.join(', ')}`,
        });
      const tenants = RIGHTS[who].tenants;
      if (
        rule.who === 'data' &&
        a.tenant !== undefined &&
        tenants !== 'all' &&
        !tenants.includes(a.tenant) &&
        r.status < 400
      )
        out.push({
          kind: 'tenant-escape',
          detail: `${r.status} to ${who} in tenant ${JSON.stringify(a.tenant)}`,
        });
    }
  }
  return out;
}

/** Oracle 2: the data changes a refused request left (sessions are bookkeeping, not data). */
export function checkRefusedWrites(status: number, changes: readonly RowChange[]): Finding[] {
  if (status !== 401 && status !== 403) return [];
  const data = changes.filter((c) => !BOOKKEEPING_TABLES.has(c.table));
  if (data.length === 0) return [];
  const shown = data
    .slice(0, 5)
    .map((c) => `${c.op} ${c.table} ${c.rowId ?? ''} ${c.row ?? ''}`.trim())
    .join('; ');
  return [{ kind: 'write-on-refusal', detail: `${status} but ${data.length} row change(s): ${shown}` }];
}

const DEFAULT_CONTEXT = 'https://uri.etsi.org/ngsi-ld/default-context/';

/** Where each department may write entities (fuzz-seed.ts): any type in its tenant, these in the default one. */
const WRITE_RIGHTS: Record<string, { tenant: string; types: readonly string[] }> = {
  transport: { tenant: 'traffic', types: [`${DEFAULT_CONTEXT}TrafficFlowObserved`] },
  health: { tenant: 'clinic', types: [`${DEFAULT_CONTEXT}Person`, `${DEFAULT_CONTEXT}MedicalRecord`] },
};

/** Whether a department may write an entity of these types (before and after) in a tenant. */
export function mayWrite(department: string, tenant: string, types: readonly string[]): boolean {
  if (department === 'city') return true; // the root department's policy: everything
  const r = WRITE_RIGHTS[department];
  return (
    r !== undefined && (tenant === r.tenant || (tenant === '' && types.every((t) => r.types.includes(t))))
  );
}

/**
 * Entity rows a request changed on behalf of departments none of which may write them.
 * `actors`: the departments acting (the principal's, or those that provisioned the device
 * writing); empty for anonymous requests; undefined when not known (nothing is checked).
 */
export function checkWriteRights(
  actors: ReadonlySet<string> | undefined,
  changes: readonly RowChange[],
): Finding[] {
  if (!actors) return [];
  const bad = changes.filter(
    (c) => c.table === 'entities' && ![...actors].some((d) => mayWrite(d, c.tenant ?? '', c.types ?? [])),
  );
  if (bad.length === 0) return [];
  const shown = bad
    .slice(0, 3)
    .map(
      (c) =>
        `${c.op} ${c.rowId ?? ''} in tenant ${JSON.stringify(c.tenant ?? '')} (${(c.types ?? []).join(', ')})`,
    )
    .join('; ');
  const who = actors.size === 0 ? 'nobody' : [...actors].join(' or ');
  return [{ kind: 'unauthorized-write', detail: `written for ${who}: ${shown}` }];
}
