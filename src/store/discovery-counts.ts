/**
 * The write side of NGSI-LD discovery (§5.7): counts kept in `discovery_counts`, changed in the
 * transaction of each entity write so that they are exact after every commit and rollback. One row
 * per thing discovery reports, per tenant, with the number of entities it holds for:
 *
 * - (type, '', '')        entities of that type (§5.7.2 entityCount);
 * - ('', attr, '')        entities with that attribute (§5.7.4 attributeCount);
 * - (type, attr, kind)    entities of that type whose attribute has an instance of that kind
 *                         (Property, Relationship, GeoProperty…: attributeTypes).
 *
 * A row is deleted when its count reaches 0. Each transaction tracks what its entities counted for
 * before (rows it read under lock, its own writes) and after, adds up the differences and applies
 * them in one statement just before COMMIT, in key order: the rows are locked for the COMMIT only,
 * two transactions lock them in the same order (no deadlock), and a write that keeps an entity's
 * types, attribute names and kinds (a value update, the usual write) sends no statement at all.
 * When rows of names (type <> '') appear or go, which is rare once a city's data is in, the tenant's
 * version in `discovery_shapes` goes up and the change is logged in `discovery_name_log` under the
 * new version: readers keep the names cached and bring them up to date from the log
 * (postgres-discovery.ts). The log keeps the last {@link LOGGED_VERSIONS} versions of a tenant.
 */
import type pg from 'pg';
import type { QueryResultRow } from 'pg';
import type { StoredEntity } from '../core/entity-model.js';
import { hot } from './prepared.js';

type Run = <R extends QueryResultRow>(sql: string, params?: unknown[]) => Promise<pg.QueryResult<R>>;

/** An entity as discovery sees it (a stored row or an entity about to be written). */
export type CountedEntity = Pick<StoredEntity, 'id' | 'types' | 'attrs'>;

/**
 * What an entity counts for, as one string (its types, then each attribute with the kinds of its
 * instances), cheap to make and compare: a write that keeps it changes no count. Entities with
 * equal signatures count for the same rows; NUL separates (it cannot occur in stored text), and
 * since no part is empty, two NULs in a row end a group. An attribute without an instance of a
 * kind (`type` member) counts for nothing.
 */
export function signatureOf(e: Pick<StoredEntity, 'types' | 'attrs'>): string {
  let s = '';
  for (const t of e.types) if (t !== '') s += `${t}\0`;
  s += '\0';
  for (const attr in e.attrs) {
    const list = e.attrs[attr];
    if (attr === '' || !Array.isArray(list)) continue;
    let kinds = '';
    let last: unknown;
    for (const inst of list as unknown[]) {
      const kind = (inst as { type?: unknown } | null)?.type;
      if (typeof kind !== 'string' || kind === '' || kind === last) continue;
      kinds += `${kind}\0`;
      last = kind;
    }
    if (kinds !== '') s += `${attr}\0${kinds}\0`;
  }
  return s;
}

/** The rows a signature counts for, as keys `type\0attr\0kind` (see the file comment). */
export function keysOf(signature: string): ReadonlySet<string> {
  const parts = signature.split('\0');
  const types = new Set<string>();
  let i = 0;
  for (; i < parts.length && parts[i] !== ''; i++) types.add(parts[i]!);
  const out = new Set<string>();
  for (const t of types) out.add(`${t}\0\0`);
  for (i++; i < parts.length && parts[i] !== ''; i++) {
    const attr = parts[i]!;
    out.add(`\0${attr}\0`);
    for (i++; i < parts.length && parts[i] !== ''; i++)
      for (const t of types) out.add(`${t}\0${attr}\0${parts[i]!}`);
  }
  return out;
}

/** The discovery counts of one transaction: what its entities counted for, and the net change. */
export interface DiscoveryTracker {
  /** Rows read under lock (FOR UPDATE): what they count for until this transaction writes them. */
  locked(tenant: string, rows: Iterable<CountedEntity>): void;
  /** Ids among entities about to be updated whose current counts are not known (to read under lock first). */
  unknown(tenant: string, updates: CountedEntity[]): string[];
  /** New rows, written. */
  inserted(tenant: string, rows: CountedEntity[]): void;
  /** Rows rewritten; only those whose earlier state is known count (the others were not there). */
  updated(tenant: string, rows: CountedEntity[]): void;
  /** Rows deleted, as the DELETE returned them. */
  deleted(tenant: string, rows: CountedEntity[]): void;
  /** Applies the net change; the last statements before COMMIT. */
  flush(run: Run): Promise<void>;
}

// Sorted by key so that concurrent transactions lock rows in the same order. Returns the rows
// created (their count is the change: no row stays at 0) and those that fell to 0 or below.
const APPLY_COUNTS = hot(`WITH x AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) AS x(tenant, type, attr, kind, n)
  ), up AS (
    INSERT INTO discovery_counts AS d (tenant, type, attr, kind, entities)
    SELECT tenant, type, attr, kind, n FROM x ORDER BY tenant, type, attr, kind
    ON CONFLICT (tenant, type, attr, kind) DO UPDATE SET entities = d.entities + EXCLUDED.entities
    RETURNING d.tenant, d.type, d.attr, d.kind, d.entities
  )
  SELECT up.tenant, up.type, up.attr, up.kind, up.entities <= 0 AS empty
  FROM up JOIN x USING (tenant, type, attr, kind)
  WHERE up.entities <= 0 OR up.entities = x.n`);
// Rows this transaction just decremented to 0 (so already holds locked).
const DROP_EMPTY = hot(`DELETE FROM discovery_counts d
  USING unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS x(tenant, type, attr, kind)
  WHERE d.tenant = x.tenant AND d.type = x.type AND d.attr = x.attr AND d.kind = x.kind AND d.entities <= 0`);
/** Versions of a tenant's names kept in the log; a reader further behind reads all names again. */
export const LOGGED_VERSIONS = 1000;
// After the count rows, in tenant order: the same lock order in every transaction. The version row
// stays locked until COMMIT, so versions commit in order and each is logged whole.
const LOG_NAMES = hot(`WITH v AS (
    INSERT INTO discovery_shapes AS s (tenant, version)
    SELECT DISTINCT t, 1 FROM unnest($1::text[]) AS t ORDER BY t
    ON CONFLICT (tenant) DO UPDATE SET version = s.version + 1
    RETURNING tenant, version
  ), logged AS (
    INSERT INTO discovery_name_log (tenant, version, type, attr, kind, added)
    SELECT x.tenant, v.version, x.type, x.attr, x.kind, x.added
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::boolean[]) AS x(tenant, type, attr, kind, added)
    JOIN v USING (tenant)
  )
  DELETE FROM discovery_name_log l USING v
  WHERE l.tenant = v.tenant AND l.version <= v.version - ${LOGGED_VERSIONS}`);

interface Applied extends QueryResultRow {
  tenant: string;
  type: string;
  attr: string;
  kind: string;
  empty: boolean;
}

/**
 * For the store's operations outside a transaction, whose writes each run in a transaction of
 * their own: a read under lock there ends with its statement, so there is nothing to remember.
 */
export const UNTRACKED: DiscoveryTracker = {
  locked: () => undefined,
  unknown: (_tenant, updates) => updates.map((e) => e.id),
  inserted: () => undefined,
  updated: () => undefined,
  deleted: () => undefined,
  flush: () => Promise.resolve(),
};

export function createDiscoveryTracker(): DiscoveryTracker {
  // tenant\0id → the signature of the row now, for rows this transaction holds locked.
  const held = new Map<string, string>();
  // tenant → signature → entities added (negative: removed).
  const net = new Map<string, Map<string, number>>();

  const netOf = (tenant: string) => {
    let m = net.get(tenant);
    if (!m) net.set(tenant, (m = new Map()));
    return m;
  };
  const add = (m: Map<string, number>, signature: string, n: number) =>
    m.set(signature, (m.get(signature) ?? 0) + n);

  return {
    locked(tenant, rows) {
      for (const r of rows) {
        const k = `${tenant}\0${r.id}`;
        if (!held.has(k)) held.set(k, signatureOf(r));
      }
    },
    unknown(tenant, updates) {
      return updates.filter((e) => !held.has(`${tenant}\0${e.id}`)).map((e) => e.id);
    },
    inserted(tenant, rows) {
      const m = netOf(tenant);
      for (const e of rows) {
        const sig = signatureOf(e);
        add(m, sig, 1);
        held.set(`${tenant}\0${e.id}`, sig);
      }
    },
    updated(tenant, rows) {
      const m = netOf(tenant);
      for (const e of rows) {
        const k = `${tenant}\0${e.id}`;
        const before = held.get(k);
        if (before === undefined) continue;
        const after = signatureOf(e);
        if (after === before) continue;
        add(m, before, -1);
        add(m, after, 1);
        held.set(k, after);
      }
    },
    deleted(tenant, rows) {
      const m = netOf(tenant);
      for (const e of rows) {
        add(m, signatureOf(e), -1);
        held.delete(`${tenant}\0${e.id}`);
      }
    },
    async flush(run) {
      // The net change per row, from the net change per signature.
      const delta = new Map<string, number>();
      for (const [tenant, m] of net)
        for (const [sig, n] of m) {
          if (n === 0) continue;
          for (const key of keysOf(sig)) {
            const dk = `${tenant}\0${key}`;
            delta.set(dk, (delta.get(dk) ?? 0) + n);
          }
        }
      net.clear();
      const cols: [string[], string[], string[], string[]] = [[], [], [], []];
      const counts: number[] = [];
      for (const [key, n] of delta) {
        if (n === 0) continue;
        const parts = key.split('\0');
        for (let i = 0; i < 4; i++) cols[i]!.push(parts[i]!);
        counts.push(n);
      }
      if (counts.length === 0) return;
      const applied = (await run<Applied>(APPLY_COUNTS, [...cols, counts])).rows;
      if (applied.length === 0) return;
      const empty = applied.filter((r) => r.empty);
      if (empty.length > 0)
        await run(DROP_EMPTY, [
          empty.map((r) => r.tenant),
          empty.map((r) => r.type),
          empty.map((r) => r.attr),
          empty.map((r) => r.kind),
        ]);
      // Rows of names created or deleted (those of attribute counts come and go with them).
      const names = applied.filter((r) => r.type !== '');
      if (names.length > 0)
        await run(LOG_NAMES, [
          names.map((r) => r.tenant),
          names.map((r) => r.type),
          names.map((r) => r.attr),
          names.map((r) => r.kind),
          names.map((r) => !r.empty),
        ]);
    },
  };
}
