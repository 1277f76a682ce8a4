/**
 * Read-side retention: a row a retention policy has expired stays in its partition until the
 * hourly job drops the partition (hub-wide policy: up to a month later) or bulk-deletes it
 * (narrower policies); reads leave it out from the moment it expires. The policies are few and
 * cached for a short while, so a tenant without policies pays nothing per read.
 */
import type { RetentionPolicy } from '../core/history-store.js';
import type { Run } from './history-sql.js';

/** How long the policies are cached: a policy set from another process applies to reads within it. */
export const POLICY_CACHE_MS = 30_000;

export interface ExpiryFilter {
  /**
   * The condition keeping rows no policy has expired, on the `attribute_history` columns
   * (tenant, entity_id, attr, ts) behind `alias` ('' or 'h.'). Uses the database's now().
   */
  sql(params: unknown[], alias?: string): string;
  /** The shortest keep that applies, in ms: rows newer than now minus this are never expired. */
  minKeepMs: number;
}

/** Most specific first (attribute over type over tenant), as applyRetention ranks them. */
function specificity(p: RetentionPolicy): number {
  return (p.attr !== '*' ? 4 : 0) + (p.entityType !== '*' ? 2 : 0) + (p.tenant !== '*' ? 1 : 0);
}

/** Builds the filter of one tenant from the policies; undefined when none applies to it. */
export function expiryFilterOf(policies: RetentionPolicy[], tenant: string): ExpiryFilter | undefined {
  const mine = policies
    .filter((p) => p.tenant === '*' || p.tenant === tenant)
    // Of two equally specific policies that both match, the shorter one wins (both would delete).
    .sort((a, b) => specificity(b) - specificity(a) || a.keepSeconds - b.keepSeconds);
  if (mine.length === 0) return undefined;
  return {
    minKeepMs: Math.min(...mine.map((p) => p.keepSeconds)) * 1000,
    sql(params, alias = '') {
      const cases = mine.map((p) => {
        const conds: string[] = [];
        if (p.attr !== '*') conds.push(`${alias}attr = $${params.push(p.attr)}`);
        if (p.entityType !== '*')
          conds.push(
            `EXISTS (SELECT 1 FROM history_entities he WHERE he.tenant = ${alias}tenant AND he.id = ${alias}entity_id AND he.types @> ARRAY[$${params.push(p.entityType)}::text])`,
          );
        const when = conds.length > 0 ? conds.join(' AND ') : 'true';
        return `WHEN ${when} THEN $${params.push(p.keepSeconds)}::float8`;
      });
      // No matching policy: the CASE is NULL, and so is the bound: -infinity keeps the row.
      return `${alias}ts >= coalesce(now() - make_interval(secs => CASE ${cases.join(' ')} END), '-infinity'::timestamptz)`;
    },
  };
}

/** The policies, read at most every POLICY_CACHE_MS; `invalidate` after this process changes them. */
export function createExpiryFilters(run: Run, clock: () => number = Date.now) {
  let cached: { at: number; policies: Promise<RetentionPolicy[]> } | undefined;
  const load = async (): Promise<RetentionPolicy[]> => {
    const r = await run<{
      tenant: string;
      entity_type: string;
      attr: string;
      keep: string;
      keep_seconds: string;
    }>('SELECT tenant, entity_type, attr, keep, keep_seconds FROM history_retention');
    return r.rows.map((x) => ({
      tenant: x.tenant,
      entityType: x.entity_type,
      attr: x.attr,
      keep: x.keep,
      keepSeconds: Number(x.keep_seconds),
    }));
  };
  return {
    async forTenant(tenant: string): Promise<ExpiryFilter | undefined> {
      const now = clock();
      if (!cached || now - cached.at > POLICY_CACHE_MS) {
        const policies = load();
        cached = { at: now, policies };
        // A failed read is not cached.
        policies.catch(() => {
          if (cached?.policies === policies) cached = undefined;
        });
      }
      return expiryFilterOf(await cached.policies, tenant);
    },
    invalidate(): void {
      cached = undefined;
    },
  };
}

export type ExpiryFilters = ReturnType<typeof createExpiryFilters>;
