/**
 * A read-through cache of entity rows in front of the store, for Retrieve Entity (GET by id), the
 * read a dashboard or a client polling a sensor makes most. It holds rows as stored (sensitive
 * values still encrypted; the access layer above it filters, masks and decrypts every read) and
 * never serves a row older than what it was told about:
 *
 * - This instance's writes (every entity row write goes through the store's insert, update,
 *   write, delete and purge) drop their rows once their transaction is over (after COMMIT, so a
 *   read in between cannot keep the old row) and before the writer answers: a client always
 *   reads its own writes.
 * - Other instances' writes arrive by NOTIFY on the change channel (announced in the writing
 *   transaction, so at commit) and drop their rows; until that message arrives (milliseconds), a
 *   reader there may still see the earlier row, as if its read had come first.
 * - A read that raced a write (it started before the write's rows were dropped) does not fill the
 *   cache, so a stale row cannot be put back after the drop.
 * - Rows changed outside the hub (SQL by hand) are seen after `ttlMs` at most. If the LISTEN
 *   connection is lost, the cache empties and serves nothing until it listens again.
 *
 * Cached rows are frozen: a reader that tried to change one would throw rather than corrupt it.
 */
import type { StoredEntity } from '../core/entity-model.js';
import type { Store, StoreTx } from '../core/store.js';

export interface EntityCacheOptions {
  /** Most entities held (least recently used go first); default 20,000. */
  maxEntries?: number;
  /** Longest a row is served from the cache, in ms: the bound for changes made outside the hub; default 30,000. */
  ttlMs?: number;
  /** The channel other instances announce their changes on, as JSON `{origin, tenant, changes: [{id}]}`. */
  channel: string;
  /** The origin of this instance's own announcements, whose rows were already dropped. */
  ownOrigin?: () => string | undefined;
  /** How long to wait before listening again after the LISTEN connection was lost; default 1,000 ms. */
  relistenMs?: number;
  onError?: (err: unknown) => void;
  clock?: () => number;
  /**
   * Dropped keys remembered, so that a read in flight when its key was dropped does not fill it;
   * past this many, the record starts afresh and every read then in flight is distrusted.
   * Default 10,000.
   */
  rememberDrops?: number;
}

export interface EntityCacheStats {
  entries: number;
  hits: number;
  misses: number;
  /** Whether rows are served (false before start and while the LISTEN connection is down). */
  serving: boolean;
}

interface Entry {
  entity: StoredEntity | undefined;
  at: number;
}

export function createEntityCache(inner: Store, opts: EntityCacheOptions) {
  const maxEntries = Math.max(1, opts.maxEntries ?? 20_000);
  const ttlMs = opts.ttlMs ?? 30_000;
  const clock = opts.clock ?? Date.now;
  const rememberDrops = opts.rememberDrops ?? 10_000;
  const entries = new Map<string, Entry>();
  /** Bumped by every drop; a read remembers it at its start. */
  let epoch = 0;
  /** Epoch of the latest drop of each key, for the last `rememberDrops` keys dropped. */
  let dropped = new Map<string, number>();
  /**
   * Reads that started before this epoch may not fill the cache: what was dropped while they ran
   * is no longer known (the drop record was reset, or everything was dropped).
   */
  let floor = 0;
  let serving = false;
  let stopped = false;
  let listener: { close(): Promise<void> } | undefined;
  let retry: NodeJS.Timeout | undefined;
  let hits = 0;
  let misses = 0;

  const keyOf = (tenant: string, id: string) => `${tenant}\u0000${id}`;

  function drop(tenant: string, ids: Iterable<string>): void {
    epoch++;
    for (const id of ids) {
      const k = keyOf(tenant, id);
      entries.delete(k);
      dropped.delete(k);
      dropped.set(k, epoch);
    }
    if (dropped.size > rememberDrops) {
      dropped = new Map();
      floor = epoch;
    }
  }

  function dropAll(): void {
    entries.clear();
    dropped = new Map();
    floor = ++epoch;
  }

  function fill(k: string, started: number, entity: StoredEntity | undefined): void {
    if (!serving || started < floor || (dropped.get(k) ?? 0) > started) return;
    if (entries.size >= maxEntries) {
      const oldest = entries.keys().next();
      if (!oldest.done) entries.delete(oldest.value);
    }
    entries.set(k, { entity: entity && deepFreeze(entity), at: clock() });
  }

  async function getEntity(tenant: string, id: string, o?: { forUpdate?: boolean }) {
    if (o?.forUpdate) return inner.getEntity(tenant, id, o);
    const k = keyOf(tenant, id);
    const hit = entries.get(k);
    if (hit && serving && clock() - hit.at < ttlMs) {
      hits++;
      // Most recently used goes last.
      entries.delete(k);
      entries.set(k, hit);
      return hit.entity;
    }
    misses++;
    const started = epoch;
    const e = await inner.getEntity(tenant, id);
    fill(k, started, e);
    return e;
  }

  /** The transaction's writes, noted so their rows are dropped when it ends. */
  function tracking(tx: StoreTx, touched: { tenant: string; id: string }[]): StoreTx {
    return {
      ...tx,
      async insertEntity(tenant, e) {
        touched.push({ tenant, id: e.id });
        await tx.insertEntity(tenant, e);
      },
      async updateEntity(tenant, e) {
        touched.push({ tenant, id: e.id });
        await tx.updateEntity(tenant, e);
      },
      async writeEntities(tenant, inserts, updates, previous) {
        for (const e of inserts) touched.push({ tenant, id: e.id });
        for (const e of updates) touched.push({ tenant, id: e.id });
        await tx.writeEntities(tenant, inserts, updates, previous);
      },
      async deleteEntity(tenant, id) {
        touched.push({ tenant, id });
        return tx.deleteEntity(tenant, id);
      },
      async deleteMatching(tenant, query) {
        try {
          const gone = await tx.deleteMatching(tenant, query);
          for (const e of gone) touched.push({ tenant, id: e.id });
          return gone;
        } catch (err) {
          // What was deleted before the failure is unknown.
          dropAll();
          throw err;
        }
      },
    };
  }

  function dropTouched(touched: { tenant: string; id: string }[]): void {
    const byTenant = new Map<string, string[]>();
    for (const t of touched) {
      const ids = byTenant.get(t.tenant);
      if (ids) ids.push(t.id);
      else byTenant.set(t.tenant, [t.id]);
    }
    for (const [tenant, ids] of byTenant) drop(tenant, ids);
  }

  /**
   * Runs writes and drops the rows they touched once they are over (committed or not). Never
   * before: a read between the drop and the COMMIT would see the old row and keep it.
   */
  async function tracked<T>(run: (track: (tx: StoreTx) => StoreTx) => Promise<T>): Promise<T> {
    const touched: { tenant: string; id: string }[] = [];
    try {
      return await run((tx) => tracking(tx, touched));
    } finally {
      dropTouched(touched);
    }
  }

  function onAnnouncement(payload: string): void {
    try {
      const a = JSON.parse(payload) as { origin?: unknown; tenant?: unknown; changes?: { id?: unknown }[] };
      if (typeof a.tenant !== 'string' || !Array.isArray(a.changes)) throw new Error('unexpected shape');
      if (a.origin !== undefined && a.origin === opts.ownOrigin?.()) return;
      drop(
        a.tenant,
        a.changes.flatMap((c) => (typeof c.id === 'string' ? [c.id] : [])),
      );
    } catch (err) {
      dropAll();
      opts.onError?.(new Error(`entity cache: unreadable change announcement (${(err as Error).message})`));
    }
  }

  async function listen(): Promise<void> {
    retry = undefined;
    if (stopped) return;
    try {
      listener = await inner.subscriptions.listen(opts.channel, onAnnouncement, () => {
        // Announcements may have been missed: nothing cached can be trusted any more.
        serving = false;
        dropAll();
        listener = undefined;
        if (!stopped) retry = setTimeout(() => void listen(), opts.relistenMs ?? 1000);
      });
      if (stopped) {
        await listener.close();
        return;
      }
      dropAll();
      serving = true;
    } catch (err) {
      opts.onError?.(err);
      if (!stopped) retry = setTimeout(() => void listen(), opts.relistenMs ?? 1000);
    }
  }

  const store: Store = {
    ...inner,
    getEntity,
    transaction: (fn) => tracked((track) => inner.transaction((tx) => fn(track(tx)))),
    // Outside a transaction each statement commits when it returns.
    insertEntity: (tenant, e) => tracked((track) => track(inner).insertEntity(tenant, e)),
    updateEntity: (tenant, e) => tracked((track) => track(inner).updateEntity(tenant, e)),
    writeEntities: (tenant, ins, upd, prev) =>
      tracked((track) => track(inner).writeEntities(tenant, ins, upd, prev)),
    deleteEntity: (tenant, id) => tracked((track) => track(inner).deleteEntity(tenant, id)),
    deleteMatching: (tenant, query) => tracked((track) => track(inner).deleteMatching(tenant, query)),
  };

  return {
    store,
    /** Starts listening for other instances' changes; rows are served from then on. */
    start: listen,
    async stop(): Promise<void> {
      stopped = true;
      serving = false;
      if (retry) clearTimeout(retry);
      await listener?.close();
      listener = undefined;
      entries.clear();
    },
    stats(): EntityCacheStats {
      return { entries: entries.size, hits, misses, serving };
    },
  };
}

export type EntityCache = ReturnType<typeof createEntityCache>;

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
