/**
 * The store as the access layer hands it to the services: every read made while serving a
 * request passes the department's read filter (types narrowed before the query runs, entities
 * outside policy or area dropped, attributes projected, tagged values masked, reads of tagged
 * data audited), and sensitive personal values are encrypted on the way in and decrypted on the
 * way out. Reads inside write transactions are never masked (they feed read-modify-write).
 *
 * Every write made for a request is checked here too, at the last step before SQL, whatever
 * service or route made it: an entity row written or deleted, and the history written or
 * deleted without one (temporal provision), needs the department's write rights on every type
 * the entity has before and after (the entity service checks each change earlier, so that a
 * batch item is refused alone; this check is the floor under it).
 */
import type { StoredEntity } from '../core/entity-model.js';
import { HubError } from '../core/errors.js';
import type { HistoryInstance, HistoryStore, HistoryTx } from '../core/history-store.js';
import type { EntityQuery, Store, StoreTx } from '../core/store.js';
import type { TypeExpr } from '../core/query/type-expr.js';
import type { QExpr, QPath } from '../core/query/q-parser.js';
import {
  canWrite,
  canWriteTenant,
  changedAttributes,
  typesOfChange,
  type ReadFilter,
} from '../core/access/read-filter.js';
import type { FieldCrypto } from './field-crypto.js';
import { currentAccess, type RequestAccess } from './request-access.js';

export interface GuardDeps {
  crypto?: FieldCrypto;
  /** Is this attribute of an entity of these types classified sensitive-personal? */
  isSensitive(tenant: string, types: string[], attr: string): boolean;
  /** Called after a filtered read that returned tagged data or used grants. */
  onRead(access: RequestAccess, tenant: string, filter: ReadFilter, entities: StoredEntity[]): Promise<void>;
}

const forbidden = (tenant: string) =>
  new HubError(
    'Forbidden',
    `Your department has no access to ${tenant === '' ? 'the default tenant' : `tenant ${tenant}`}`,
  );

export function createGuardedStore(inner: Store, deps: GuardDeps): Store {
  const { crypto } = deps;

  const encrypt = (tenant: string, e: StoredEntity): StoredEntity => {
    if (!crypto) return e;
    let out: StoredEntity | undefined;
    for (const [iri, list] of Object.entries(e.attrs)) {
      if (!deps.isSensitive(tenant, e.types, iri)) continue;
      // GeoProperties stay clear: the geo index and geo-queries need them (they are coarsened on read).
      if (list.every((i) => i.type === 'GeoProperty')) continue;
      out ??= { ...e, attrs: { ...e.attrs } };
      out.attrs[iri] = list.map((i) => (i.type === 'GeoProperty' ? i : crypto.encrypt(i, `${e.id}\n${iri}`)));
    }
    return out ?? e;
  };
  const decrypt = (e: StoredEntity): StoredEntity => {
    if (!crypto) return e;
    let out: StoredEntity | undefined;
    for (const [iri, list] of Object.entries(e.attrs)) {
      if (!list.some((i) => crypto.isEncrypted(i))) continue;
      out ??= { ...e, attrs: { ...e.attrs } };
      out.attrs[iri] = list.map((i) => crypto.decrypt(i, `${e.id}\n${iri}`));
    }
    return out ?? e;
  };
  const encryptRows = (tenant: string, types: Map<string, string[]>, rows: HistoryInstance[]) =>
    crypto
      ? rows.map((r) =>
          r.instance.type !== 'GeoProperty' && deps.isSensitive(tenant, types.get(r.entityId) ?? [], r.attr)
            ? { ...r, instance: crypto.encrypt(r.instance, `${r.entityId}\n${r.attr}`) }
            : r,
        )
      : rows;
  const decryptRow = (r: HistoryInstance): HistoryInstance =>
    crypto && crypto.isEncrypted(r.instance)
      ? { ...r, instance: crypto.decrypt(r.instance, `${r.entityId}\n${r.attr}`) }
      : r;

  /** Reads inside a write: decrypted, not masked; a department without any right on the tenant is refused. */
  const mustTouchTenant = async (tenant: string) => {
    const a = currentAccess();
    if (!a) return;
    const f = await a.filter(tenant);
    if (!f.tenantReadable && !canWriteTenant(await a.policies(), tenant)) throw forbidden(tenant);
  };

  function wrapHistoryTx(tx: HistoryTx, w?: WriteGuard): HistoryTx {
    return {
      ...tx,
      async append(tenant, entities, rows, opts) {
        const types = new Map(entities.map((e) => [e.id, e.types]));
        if (w)
          for (const e of entities)
            await w.history(
              tenant,
              e.id,
              e.types,
              rows.filter((r) => r.entityId === e.id).map((r) => r.attr),
            );
        return tx.append(tenant, entities, encryptRows(tenant, types, rows), opts);
      },
      async deleteEntity(tenant, id) {
        if (w) await w.history(tenant, id, undefined, undefined);
        return tx.deleteEntity(tenant, id);
      },
      async deleteAttribute(tenant, id, attr, which) {
        if (w) await w.history(tenant, id, undefined, [attr]);
        return tx.deleteAttribute(tenant, id, attr, which);
      },
      async deleteInstance(tenant, id, attr, instanceId) {
        if (w) await w.history(tenant, id, undefined, [attr]);
        return tx.deleteInstance(tenant, id, attr, instanceId);
      },
      async getInstance(tenant, id, attr, instanceId) {
        const r = await tx.getInstance(tenant, id, attr, instanceId);
        return r && decryptRow(r);
      },
      async replaceInstance(tenant, row) {
        if (w) await w.history(tenant, row.entityId, undefined, [row.attr]);
        const he = await tx.getEntity(tenant, row.entityId);
        return tx.replaceInstance(
          tenant,
          encryptRows(tenant, new Map([[row.entityId, he?.types ?? []]]), [row])[0] as HistoryInstance,
        );
      },
    };
  }

  /**
   * The write check of one transaction: the rows it read (under lock, before changing them) are
   * the state a write replaces; a write without such a read reads the row itself.
   */
  function writeGuard(tx: StoreTx, transactional: boolean): WriteGuard {
    // Outside a transaction nothing is locked and nothing is remembered (the map would only grow).
    const seen = transactional ? new Map<string, StoredEntity>() : undefined;
    const key = (tenant: string, id: string) => `${tenant}\u0000${id}`;
    const current = async (tenant: string, id: string) => {
      const k = key(tenant, id);
      if (seen?.has(k)) return seen.get(k);
      const e = await tx.getEntity(tenant, id);
      return e && decrypt(e);
    };
    async function check(tenant: string, before?: StoredEntity, after?: StoredEntity, attrs?: string[]) {
      const a = currentAccess();
      if (!a) return;
      const types = typesOfChange(before, after);
      const ok = canWrite(
        await a.policies(),
        tenant,
        { types, ...(before ? { before } : {}), ...(after ? { after } : {}) },
        attrs ?? changedAttributes(before, after),
      );
      if (!ok)
        throw new HubError(
          'Forbidden',
          `Your department may not ${after ? 'write' : 'delete'} entity ${(after ?? before)?.id ?? ''}`,
        );
    }
    return {
      read(tenant, e) {
        if (currentAccess()) seen?.set(key(tenant, e.id), e);
      },
      async entity(tenant, id, after) {
        if (!currentAccess()) return;
        const before = await current(tenant, id);
        await check(tenant, before, after);
        if (after) seen?.set(key(tenant, id), after);
      },
      async deleted(tenant, e) {
        await check(tenant, e, undefined);
      },
      async history(tenant, id, types, attrs) {
        if (!currentAccess()) return;
        // The entity as it is (or was, earlier in this transaction), for its types and its area;
        // history without an entity is checked on the types the history knows, with no location.
        const e = (await current(tenant, id)) ?? {
          id,
          types: types ?? (await tx.history.getEntity(tenant, id))?.types ?? [],
          attrs: {},
        };
        const all = { ...e, types: [...new Set([...e.types, ...(types ?? [])])] };
        await check(tenant, all, all, attrs ?? Object.keys(e.attrs));
      },
    };
  }

  function wrapTx(tx: StoreTx, transactional = true): StoreTx {
    const w = writeGuard(tx, transactional);
    return {
      ...tx,
      async getEntity(tenant, id, opts) {
        await mustTouchTenant(tenant);
        const e = await tx.getEntity(tenant, id, opts);
        const clear = e && decrypt(e);
        if (clear && opts?.forUpdate) w.read(tenant, clear);
        return clear;
      },
      async getEntities(tenant, ids, opts) {
        await mustTouchTenant(tenant);
        const m = await tx.getEntities(tenant, ids, opts);
        const clear = new Map([...m].map(([k, e]) => [k, decrypt(e)]));
        if (opts?.forUpdate) for (const e of clear.values()) w.read(tenant, e);
        return clear;
      },
      async insertEntity(tenant, e) {
        await w.entity(tenant, e.id, e);
        return tx.insertEntity(tenant, encrypt(tenant, e));
      },
      async updateEntity(tenant, e) {
        await w.entity(tenant, e.id, e);
        return tx.updateEntity(tenant, encrypt(tenant, e));
      },
      async writeEntities(tenant, ins, upd, previous) {
        for (const e of [...ins, ...upd]) await w.entity(tenant, e.id, e);
        return tx.writeEntities(
          tenant,
          ins.map((e) => encrypt(tenant, e)),
          upd.map((e) => encrypt(tenant, e)),
          previous,
        );
      },
      async deleteEntity(tenant, id) {
        await w.entity(tenant, id, undefined);
        return tx.deleteEntity(tenant, id);
      },
      async deleteMatching(tenant, query) {
        await mustTouchTenant(tenant);
        // A purge selects what it deletes with a query: a read first, narrowed to what the
        // department may read and filter on (else its answer would tell what matched).
        const q = currentAccess() ? await narrowed(tenant, query) : query;
        const gone = (await tx.deleteMatching(tenant, q)).map(decrypt);
        // Deleted already, in this transaction: a refusal rolls all of it back.
        for (const e of gone) {
          await w.deleted(tenant, e);
          w.read(tenant, e);
        }
        return gone;
      },
      async queryEntities(tenant, query) {
        const r = await tx.queryEntities(tenant, query);
        return { ...r, entities: r.entities.map(decrypt) };
      },
      history: wrapHistoryTx(tx.history, w),
    };
  }

  /** Runs a read under the request's filter (no request: decrypted, unfiltered). */
  async function readFiltered(tenant: string, list: StoredEntity[]): Promise<StoredEntity[]> {
    const clear = list.map(decrypt);
    const a = currentAccess();
    if (!a) return clear;
    const f = await a.filter(tenant);
    if (!f.tenantReadable) throw forbidden(tenant);
    const out = clear.filter((e) => f.allows(e)).map((e) => f.project(e));
    if (out.length > 0) await deps.onRead(a, tenant, f, out);
    return out;
  }

  async function narrowed(tenant: string, query: EntityQuery): Promise<EntityQuery> {
    const a = currentAccess();
    if (!a) return query;
    const f = await a.filter(tenant);
    if (!f.tenantReadable) throw forbidden(tenant);
    return { ...query, ...narrowType(query.type, filterScope(f, query)) };
  }

  const history: HistoryStore = {
    ...inner.history,
    ...wrapHistoryTx(inner.history),
    async queryEntities(tenant, q) {
      const a = currentAccess();
      if (!a) return inner.history.queryEntities(tenant, q);
      const f = await a.filter(tenant);
      if (!f.tenantReadable) throw forbidden(tenant);
      const r = await inner.history.queryEntities(tenant, { ...q, ...narrowType(q.type, f.readableTypes) });
      return { ...r, entities: r.entities.filter((e) => f.allows({ ...e, attrs: {} })) };
    },
    async getEntity(tenant, id) {
      const e = await inner.history.getEntity(tenant, id);
      const a = currentAccess();
      if (!a || !e) return e;
      const f = await a.filter(tenant);
      if (!f.tenantReadable) throw forbidden(tenant);
      return f.allows({ ...e, attrs: {} }) ? e : undefined;
    },
    async instances(tenant, ids, sel, page) {
      const rows = (await inner.history.instances(tenant, ids, sel, page)).map(decryptRow);
      const a = currentAccess();
      if (!a || rows.length === 0) return rows;
      const f = await a.filter(tenant);
      const types = await historyTypes(tenant, ids);
      const out = rows
        .filter((r) => f.attrReadable(types.get(r.entityId) ?? [], r.attr))
        .map((r) => ({ ...r, instance: f.maskInstance(types.get(r.entityId) ?? [], r.attr, r.instance) }));
      if (f.report.tagged.size > 0) await deps.onRead(a, tenant, f, []);
      return out;
    },
    async aggregate(tenant, ids, sel, bounds, methods, grain) {
      const rows = await inner.history.aggregate(tenant, ids, sel, bounds, methods, grain);
      const a = currentAccess();
      if (!a) return rows;
      const f = await a.filter(tenant);
      const types = await historyTypes(tenant, ids);
      // Aggregates of masked values are left out too: a sum or a min can give a value away.
      const probe = { type: 'Property' as const, value: 0 };
      return rows.filter((r) => {
        const ty = types.get(r.entityId) ?? [];
        return f.attrReadable(ty, r.attr) && f.maskInstance(ty, r.attr, probe) === probe;
      });
    },
  };

  async function historyTypes(tenant: string, ids: string[]): Promise<Map<string, string[]>> {
    const r = await inner.history.queryEntities(tenant, {
      ids,
      limit: ids.length || 1,
      offset: 0,
      count: false,
    });
    return new Map(r.entities.map((e) => [e.id, e.types]));
  }

  const base = wrapTx(inner, false);
  return {
    ...inner,
    ...base,
    history,
    transaction: (fn) => inner.transaction((tx) => fn(wrapTx(tx))),
    async tenantExists(tenant) {
      await mustTouchTenant(tenant);
      return inner.tenantExists(tenant);
    },
    async getEntity(tenant, id) {
      const e = await inner.getEntity(tenant, id);
      if (!e) {
        // Unknown or invisible answer the same, but a tenant without access is refused either way.
        await narrowed(tenant, { limit: 0, offset: 0, count: false });
        return undefined;
      }
      return (await readFiltered(tenant, [e]))[0];
    },
    async getEntities(tenant, ids) {
      const m = await inner.getEntities(tenant, ids);
      const list = await readFiltered(tenant, [...m.values()]);
      return new Map(list.map((e) => [e.id, e]));
    },
    async queryEntities(tenant, query) {
      const q = await narrowed(tenant, query);
      const r = await inner.queryEntities(tenant, q);
      return { ...r, entities: await readFiltered(tenant, r.entities) };
    },
    async listTypes(tenant, only) {
      const a = currentAccess();
      const types = await inner.listTypes(tenant, only);
      if (!a) return types;
      const f = await a.filter(tenant);
      if (!f.tenantReadable) throw forbidden(tenant);
      return types
        .filter((t) => f.readableTypes === '*' || f.readableTypes.includes(t.type))
        .map((t) => ({ ...t, attributes: t.attributes.filter((x) => f.attrReadable([t.type], x.name)) }));
    },
    async listAttributes(tenant, only) {
      const a = currentAccess();
      const attrs = await inner.listAttributes(tenant, only);
      if (!a) return attrs;
      const f = await a.filter(tenant);
      if (!f.tenantReadable) throw forbidden(tenant);
      return attrs
        .map((x) => ({ ...x, types: x.types.filter((t) => f.attrReadable([t], x.name)) }))
        .filter((x) => x.types.length > 0);
    },
  };
}

/** The write check of one transaction (see writeGuard in createGuardedStore). */
interface WriteGuard {
  /** A row read under lock: the state the next write of it replaces. */
  read(tenant: string, e: StoredEntity): void;
  /** An entity row written (after) or deleted (undefined). */
  entity(tenant: string, id: string, after: StoredEntity | undefined): Promise<void>;
  /** Rows already deleted by a query (purge). */
  deleted(tenant: string, e: StoredEntity): Promise<void>;
  /** History of an entity written or deleted: `types` it records, `attrs` touched (undefined: all). */
  history(
    tenant: string,
    id: string,
    types: string[] | undefined,
    attrs: string[] | undefined,
  ): Promise<void>;
}

/** The attributes a query filters or sorts on (expanded), with the types a linked path names. */
interface AttrRef {
  attr: string;
  /** A linked path's target types, when it names them. */
  types?: string[];
  /** A linked path without types: the target may be of any type. */
  anyType?: boolean;
}

function referencedAttrs(query: EntityQuery): AttrRef[] {
  const out: AttrRef[] = [];
  const q = query.q;
  if (q) {
    const path = (p: QPath) => {
      out.push({ attr: q.expandAttr(p.attr) });
      if (p.linked) {
        const types = p.linked.types?.map((t) => q.expandAttr(t));
        out.push({ attr: q.expandAttr(p.linked.path.attr), ...(types ? { types } : { anyType: true }) });
      }
    };
    const walk = (e: QExpr) => {
      if (e.kind === 'term') path(e.path);
      else for (const i of e.items) walk(i);
    };
    walk(q.expr);
  }
  for (const k of query.orderBy ?? []) if ('attr' in k) out.push({ attr: k.attr });
  if (query.geo) out.push({ attr: query.geo.geoPropertyIri });
  return out;
}

function typeLeaves(t: TypeExpr): string[] {
  return t.kind === 'type' ? [t.name] : t.items.flatMap(typeLeaves);
}

/** Every entity type a query names (its type expression and each selector's). */
export function namedTypes(query: EntityQuery): string[] {
  return [
    ...(query.type ? typeLeaves(query.type) : []),
    ...(query.anyOf ?? []).flatMap((s) => (s.type ? typeLeaves(s.type) : [])),
  ];
}

/**
 * The types a query may run on, given the attributes it filters or sorts on: a query that names
 * its types is refused (403) when one of them has such an attribute unreadable or masked; one that
 * does not is narrowed to the readable types where all of them are filterable (so that `q` on a
 * masked or hidden attribute never tells which entities match). `strict` (subscriptions, whose
 * filters run later without narrowing) refuses that case too.
 */
export function filterScope(f: ReadFilter, query: EntityQuery, strict = false): '*' | string[] {
  const refs = referencedAttrs(query);
  if (refs.length === 0) return f.readableTypes;
  const named = namedTypes(query);
  const implicit = !query.type && (!query.anyOf?.length || query.anyOf.some((s) => !s.type));
  const refuse = (attr: string, type?: string) =>
    new HubError(
      'Forbidden',
      `Your department may not filter or sort on ${attr}${type ? ` of ${type}` : ''}: it is not readable or it is masked for you`,
    );
  const ok = (type: string, r: AttrRef) =>
    r.anyType ? f.maskedTypes(r.attr).length === 0 : f.attrFilterable(r.types ?? [type], r.attr);
  const requireFilterable = (types: string[]) => {
    for (const t of types) {
      const bad = refs.find((r) => !ok(t, r));
      if (bad) throw refuse(bad.attr, t);
    }
  };
  // Named types the department cannot read at all are narrowed away later, not refused here.
  requireFilterable(named.filter((t) => f.readableTypes === '*' || f.readableTypes.includes(t)));
  if (!implicit) return f.readableTypes;
  if (f.readableTypes === '*') {
    // Every type is in scope: the attribute must be filterable everywhere.
    for (const r of refs) if (!ok('*', r) || f.maskedTypes(r.attr).length > 0) throw refuse(r.attr);
    return '*';
  }
  if (strict) requireFilterable(f.readableTypes);
  return f.readableTypes.filter((t) => refs.every((r) => ok(t, r)));
}

/** ANDs the department's readable types into a query's type selection. */
function narrowType(type: TypeExpr | undefined, readable: '*' | string[]): { type?: TypeExpr } {
  if (readable === '*') return type ? { type } : {};
  // No readable type at all: a type nobody has, so that the query finds nothing.
  const allowed: TypeExpr =
    readable.length === 0
      ? { kind: 'type', name: 'urn:citypivot:access:no-type' }
      : readable.length === 1
        ? { kind: 'type', name: readable[0] as string }
        : { kind: 'or', items: readable.map((name) => ({ kind: 'type' as const, name })) };
  return { type: type ? { kind: 'and', items: [type, allowed] } : allowed };
}
