/**
 * The reads of NGSI-LD discovery (§5.7.1-5.7.4), from the counts the writes keep
 * (discovery-counts.ts) and never from the entities. The set of names of a tenant (which types have
 * which attributes with which kinds) changes rarely, while counts change with every entity created
 * or deleted; so each store keeps the names of recently asked tenants in memory, tagged with the
 * tenant's version in `discovery_shapes`, and every answer reads the counts it needs together with
 * the version in one statement (one snapshot). When the version is the one kept, the answer is the
 * kept names plus those counts; when not, the names are brought up to that version from the log of
 * changes (`discovery_name_log`), or read whole when the log no longer reaches back. So every answer
 * is what a scan of the entities would give at that moment, and a listing costs reading its counts
 * (one row per type, or per attribute) rather than every (type, attribute, kind) row.
 */
import type pg from 'pg';
import type { QueryResultRow } from 'pg';
import type { AttributeSummary, TypeSummary } from '../core/store.js';
import { hot } from './prepared.js';

type Run = <R extends QueryResultRow>(sql: string, params?: unknown[]) => Promise<pg.QueryResult<R>>;

type AttributeOfType = TypeSummary['attributes'][number];
type TypesView = ReadonlyMap<string, readonly AttributeOfType[]>;
interface AttrEntry {
  kinds: string[];
  types: string[];
}

/** Rows of names as columns: type, attribute ('' for the type itself) and kind ('' likewise). */
type Columns = [string[], string[], string[]];

/** A logged change of names: a row of names created (added) or deleted. */
interface NameChange {
  type: string;
  attr: string;
  kind: string;
  added: boolean;
}

const freezeList = <T>(list: T[]): T[] => Object.freeze(list) as T[];

/** Code unit order: fast, and the same whatever the server's locale. */
const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Index of `name` in a list sorted by name, or where it would go (as -(position + 1)). */
function search<T>(list: readonly T[], name: string, nameOf: (x: T) => string): number {
  let lo = 0;
  let hi = list.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const c = compare(nameOf(list[mid]!), name);
    if (c === 0) return mid;
    if (c < 0) lo = mid + 1;
    else hi = mid - 1;
  }
  return -(lo + 1);
}

/** A type's attribute list (sorted, frozen) from attribute → kinds. */
function attributeList(byName: Map<string, Set<string>>): readonly AttributeOfType[] {
  return freezeList(
    [...byName.keys()]
      .sort(compare)
      .map((name) => Object.freeze({ name, kinds: freezeList([...byName.get(name)!].sort(compare)) })),
  );
}

/**
 * The names of one tenant at one version, in the two views discovery answers from: types with
 * their attributes and kinds, and attributes with their kinds and types. Shared between answers,
 * so frozen; a newer version is a new object (`apply`), made from this one and the logged changes.
 */
export class Names {
  private constructor(
    readonly version: string,
    readonly types: TypesView,
    /** Attribute names in order. */
    readonly attrNames: readonly string[],
    readonly attrs: ReadonlyMap<string, AttrEntry>,
  ) {}

  /** From every row of names of a version, in any order, as columns (type, attribute, kind). */
  static of(version: string, [t, a, k]: Columns): Names {
    const byType = new Map<string, Map<string, Set<string>>>();
    for (let i = 0; i < t.length; i++) {
      const type = t[i]!;
      const attr = a[i]!;
      const kind = k[i]!;
      let attrs = byType.get(type);
      if (!attrs) byType.set(type, (attrs = new Map()));
      if (attr === '') continue;
      let kinds = attrs.get(attr);
      if (!kinds) attrs.set(attr, (kinds = new Set()));
      kinds.add(kind);
    }
    const types = new Map<string, readonly AttributeOfType[]>();
    for (const type of [...byType.keys()].sort(compare)) types.set(type, attributeList(byType.get(type)!));
    const byAttr = new Map<string, { kinds: Set<string>; types: string[] }>();
    for (const [type, list] of types)
      for (const a of list) {
        let x = byAttr.get(a.name);
        if (!x) byAttr.set(a.name, (x = { kinds: new Set(), types: [] }));
        for (const k of a.kinds) x.kinds.add(k);
        x.types.push(type); // types come in order
      }
    const attrs = new Map<string, AttrEntry>();
    for (const [name, x] of byAttr)
      attrs.set(
        name,
        Object.freeze({ kinds: freezeList([...x.kinds].sort(compare)), types: freezeList(x.types) }),
      );
    return new Names(version, types, freezeList([...attrs.keys()].sort(compare)), attrs);
  }

  /**
   * These names with the changes of the versions after this one applied (in version order): a
   * copy of the maps, and work in proportion to the types and attributes changed.
   */
  apply(version: string, changes: NameChange[]): Names {
    // Net effect per row of names: its last change.
    const last = new Map<string, NameChange>();
    for (const c of changes) last.set(`${c.type}\0${c.attr}\0${c.kind}`, c);
    const byType = new Map<string, NameChange[]>();
    for (const c of last.values()) {
      const list = byType.get(c.type);
      if (list) list.push(c);
      else byType.set(c.type, [c]);
    }
    const types = new Map(this.types);
    let typesAddedOrGone = false;
    const touchedAttrs = new Map<string, Set<string>>(); // attribute → types changed for it
    for (const [type, list] of byType) {
      const attrs = new Map<string, Set<string>>();
      for (const a of types.get(type) ?? []) attrs.set(a.name, new Set(a.kinds));
      let present = types.has(type);
      for (const c of list) {
        if (c.attr === '') {
          present = c.added;
          continue;
        }
        let kinds = attrs.get(c.attr);
        if (c.added) {
          if (!kinds) attrs.set(c.attr, (kinds = new Set()));
          kinds.add(c.kind);
        } else if (kinds) {
          kinds.delete(c.kind);
          if (kinds.size === 0) attrs.delete(c.attr);
        }
        const t = touchedAttrs.get(c.attr);
        if (t) t.add(type);
        else touchedAttrs.set(c.attr, new Set([type]));
      }
      if (present !== types.has(type)) typesAddedOrGone = true;
      if (present) types.set(type, attributeList(attrs));
      else types.delete(type);
    }
    const sortedTypes = typesAddedOrGone ? new Map([...types].sort(([a], [b]) => compare(a, b))) : types;
    const attrs = new Map(this.attrs);
    let attrNames = this.attrNames;
    for (const [name, changedTypes] of touchedAttrs) {
      const kinds = new Set<string>();
      const typesOf: string[] = [];
      for (const type of new Set([...(this.attrs.get(name)?.types ?? []), ...changedTypes])) {
        const list = sortedTypes.get(type);
        const at = list ? search(list, name, (a) => a.name) : -1;
        if (at < 0) continue;
        for (const k of list![at]!.kinds) kinds.add(k);
        typesOf.push(type);
      }
      const at = search(attrNames, name, (n) => n);
      if (typesOf.length === 0) {
        attrs.delete(name);
        if (at >= 0) attrNames = attrNames.filter((n) => n !== name);
        continue;
      }
      attrs.set(
        name,
        Object.freeze({
          kinds: freezeList([...kinds].sort(compare)),
          types: freezeList(typesOf.sort(compare)),
        }),
      );
      if (at < 0) attrNames = [...attrNames.slice(0, -at - 1), name, ...attrNames.slice(-at - 1)];
    }
    return new Names(version, sortedTypes, freezeList([...attrNames]), attrs);
  }
}

/** Tenants whose names are kept; past this, the least recently read goes. */
const CACHED_TENANTS = 64;
/** Reads of counts and names that may disagree on the version before answering from rows. */
const ATTEMPTS = 3;

const VERSION = `coalesce((SELECT version FROM discovery_shapes WHERE tenant = $1), 0)::text`;
const NAMES = hot(`SELECT ${VERSION} AS version, (
    SELECT json_build_array(coalesce(array_agg(type), '{}'), coalesce(array_agg(attr), '{}'), coalesce(array_agg(kind), '{}'))
    FROM discovery_counts
    WHERE tenant = $1 AND type <> '' AND entities > 0
  ) AS keys`);
// The changes logged after a version, in order, with the number of versions they span.
const CHANGES = hot(`SELECT ${VERSION} AS version, (
    SELECT json_build_array(count(DISTINCT version), array_agg(type ORDER BY version), array_agg(attr ORDER BY version),
      array_agg(kind ORDER BY version), array_agg(added ORDER BY version))
    FROM discovery_name_log WHERE tenant = $1 AND version > $2::bigint
  ) AS changes`);
const TYPE_COUNTS = hot(`SELECT ${VERSION} AS version, (
    SELECT json_build_array(coalesce(array_agg(type), '{}'), coalesce(array_agg(entities), '{}')) FROM discovery_counts
    WHERE tenant = $1 AND attr = '' AND type <> '' AND entities > 0
  ) AS counts`);
const ATTR_COUNTS = hot(`SELECT ${VERSION} AS version, (
    SELECT json_build_array(coalesce(array_agg(attr), '{}'), coalesce(array_agg(entities), '{}')) FROM discovery_counts
    WHERE tenant = $1 AND type = '' AND attr <> '' AND entities > 0
  ) AS counts`);
const ONE_TYPE_COUNT = hot(`SELECT ${VERSION} AS version, (
    SELECT entities FROM discovery_counts WHERE tenant = $1 AND type = $2 AND attr = '' AND kind = '' AND entities > 0
  ) AS n`);
const ONE_ATTR_COUNT = hot(`SELECT ${VERSION} AS version, (
    SELECT entities FROM discovery_counts WHERE tenant = $1 AND type = '' AND attr = $2 AND kind = '' AND entities > 0
  ) AS n`);
// Answers from the rows alone: one type or attribute whose names are not cached, or a listing
// while the names kept changing.
const TYPE_ROWS = `SELECT type, attr, kind, entities FROM discovery_counts WHERE tenant = $1 AND type <> '' AND entities > 0`;
const ALL_TYPES_ROWS = hot(TYPE_ROWS);
const ONE_TYPE_ROWS = hot(`${TYPE_ROWS} AND type = $2`);
const ATTR_ROWS = `SELECT type, attr, kind, entities FROM discovery_counts WHERE tenant = $1 AND attr <> '' AND entities > 0`;
const ALL_ATTRS_ROWS = hot(ATTR_ROWS);
const ONE_ATTR_ROWS = hot(`${ATTR_ROWS} AND attr = $2`);

interface CountRow extends QueryResultRow {
  type: string;
  attr: string;
  kind: string;
  entities: string;
}

/** Names and their counts, as two arrays. */
type Counts = [string[], number[]] | null;

const countsOf = (json: Counts) => {
  const m = new Map<string, number>();
  if (json) for (let i = 0; i < json[0].length; i++) m.set(json[0][i]!, json[1][i]!);
  return m;
};

function typesOf(names: Names, counts: ReadonlyMap<string, number>): TypeSummary[] {
  const out: TypeSummary[] = [];
  for (const [type, attributes] of names.types) {
    const n = counts.get(type);
    if (n !== undefined) out.push({ type, attributes: [...attributes], entityCount: n });
  }
  return out;
}

function attrsOf(names: Names, counts: ReadonlyMap<string, number>): AttributeSummary[] {
  const out: AttributeSummary[] = [];
  for (const name of names.attrNames) {
    const n = counts.get(name);
    const a = names.attrs.get(name);
    if (n !== undefined && a) out.push({ name, kinds: a.kinds, types: a.types, entityCount: n });
  }
  return out;
}

/** Names and counts from count rows read in one statement. */
function fromRows(rows: CountRow[]): {
  names: Names;
  types: Map<string, number>;
  attrs: Map<string, number>;
} {
  const keys: Columns = [[], [], []];
  const types = new Map<string, number>();
  const attrs = new Map<string, number>();
  for (const r of rows) {
    if (r.type === '') {
      attrs.set(r.attr, Number(r.entities));
      continue;
    }
    if (r.attr === '') types.set(r.type, Number(r.entities));
    keys[0].push(r.type);
    keys[1].push(r.attr);
    keys[2].push(r.kind);
  }
  return { names: Names.of('', keys), types, attrs };
}

export interface DiscoveryReader {
  /**
   * The entity types of a tenant with their entity counts and attributes (NGSI-LD §5.7.1, §5.7.2),
   * by name; `only`: just that type, if it has entities. The attribute entries are shared and frozen.
   */
  listTypes(tenant: string, only?: { type: string }): Promise<TypeSummary[]>;
  /**
   * The attributes of a tenant with their kinds, the types that have them and the count of
   * entities that have them (NGSI-LD §5.7.3, §5.7.4), by name; `only`: just that attribute. The
   * kinds and types lists are shared and frozen.
   */
  listAttributes(tenant: string, only?: { name: string }): Promise<AttributeSummary[]>;
}

/** Discovery reads on the pool (`run`), with the names of recently asked tenants cached. */
export function createDiscoveryReader(run: Run): DiscoveryReader {
  const cache = new Map<string, Names>();
  // One refresh of a tenant's names at a time: requests arriving meanwhile wait for it.
  const refreshing = new Map<string, Promise<Names>>();

  const cached = (tenant: string, version: string): Names | undefined => {
    const names = cache.get(tenant);
    if (names?.version !== version) return undefined;
    cache.delete(tenant);
    cache.set(tenant, names); // most recently used last
    return names;
  };

  /** The names as of now: the cached ones with the logged changes since, or all read again. */
  async function current(tenant: string): Promise<Names> {
    const held = cache.get(tenant);
    let names: Names | undefined;
    if (held) {
      type Logged = [number, string[] | null, string[] | null, string[] | null, boolean[] | null];
      const r = await run<{ version: string; changes: Logged | null }>(CHANGES, [tenant, held.version]);
      const { version, changes } = r.rows[0]!;
      const [spans, t, a, k, added] = changes ?? [0, null, null, null, null];
      // Every version in between is logged (none pruned, the database not replaced).
      if (version === held.version) names = held;
      else if (t && a && k && added && BigInt(version) - BigInt(held.version) === BigInt(spans))
        names = held.apply(
          version,
          t.map((type, i) => ({ type, attr: a[i]!, kind: k[i]!, added: added[i]! })),
        );
    }
    if (!names) {
      const r = await run<{ version: string; keys: Columns | null }>(NAMES, [tenant]);
      names = Names.of(r.rows[0]!.version, r.rows[0]!.keys ?? [[], [], []]);
    }
    cache.delete(tenant);
    if (cache.size >= CACHED_TENANTS) cache.delete(cache.keys().next().value!);
    cache.set(tenant, names);
    return names;
  }

  const refresh = (tenant: string): Promise<Names> => {
    let p = refreshing.get(tenant);
    if (!p) {
      p = current(tenant).finally(() => refreshing.delete(tenant));
      refreshing.set(tenant, p);
    }
    return p;
  };

  /** Counts (read with the version) and the names of that version; undefined if they kept changing. */
  async function consistent(
    tenant: string,
    statement: string,
  ): Promise<{ counts: Map<string, number>; names: Names } | undefined> {
    for (let i = 0; i < ATTEMPTS; i++) {
      const c = (await run<{ version: string; counts: Counts }>(statement, [tenant])).rows[0]!;
      const names = cached(tenant, c.version) ?? (await refresh(tenant));
      if (names.version === c.version) return { counts: countsOf(c.counts), names };
    }
    return undefined;
  }

  return {
    async listTypes(tenant, only) {
      if (only) {
        const r = (await run<{ version: string; n: string | null }>(ONE_TYPE_COUNT, [tenant, only.type]))
          .rows[0]!;
        if (r.n === null) return [];
        const attributes = cached(tenant, r.version)?.types.get(only.type);
        if (attributes) return [{ type: only.type, attributes: [...attributes], entityCount: Number(r.n) }];
        // Names not cached at this version: that type's rows only (one index range).
        const x = fromRows((await run<CountRow>(ONE_TYPE_ROWS, [tenant, only.type])).rows);
        return typesOf(x.names, x.types);
      }
      const got = await consistent(tenant, TYPE_COUNTS);
      if (got) return typesOf(got.names, got.counts);
      const x = fromRows((await run<CountRow>(ALL_TYPES_ROWS, [tenant])).rows);
      return typesOf(x.names, x.types);
    },

    async listAttributes(tenant, only) {
      if (only) {
        const r = (await run<{ version: string; n: string | null }>(ONE_ATTR_COUNT, [tenant, only.name]))
          .rows[0]!;
        if (r.n === null) return [];
        const a = cached(tenant, r.version)?.attrs.get(only.name);
        if (a) return [{ name: only.name, kinds: a.kinds, types: a.types, entityCount: Number(r.n) }];
        const x = fromRows((await run<CountRow>(ONE_ATTR_ROWS, [tenant, only.name])).rows);
        return attrsOf(x.names, x.attrs);
      }
      const got = await consistent(tenant, ATTR_COUNTS);
      if (got) return attrsOf(got.names, got.counts);
      const x = fromRows((await run<CountRow>(ALL_ATTRS_ROWS, [tenant])).rows);
      return attrsOf(x.names, x.attrs);
    },
  };
}
