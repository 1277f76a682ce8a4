/**
 * The PostgreSQL adapter of the Store port: entities as rows with their attributes in jsonb
 * (GIN-indexed), types in a GIN-indexed array, geometry bounding boxes in a GiST-indexed side table.
 * Database errors are translated to hub error codes (sql-errors.ts).
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { PoolClient, QueryResultRow } from 'pg';
import type { StoredEntity } from '../core/entity-model.js';
import { HubError } from '../core/errors.js';
import { boundingBox, matchesGeoQuery } from '../core/geo/geometry.js';
import type { GeoJsonGeometry } from '../core/geo/geometry.js';
import type { ContextRecord, EntityQuery, QueryResult, Store, StoreTx } from '../core/store.js';
import { migrate } from './migrations.js';
import { openPool, withTransaction } from './database.js';
import { translate } from './sql-errors.js';
import { hot, queryConfig } from './prepared.js';
import { buildEntityFilter } from './entity-filter.js';
import type { DiscoveryTracker } from './discovery-counts.js';
import { createDiscoveryTracker, UNTRACKED } from './discovery-counts.js';
import { createDiscoveryReader } from './postgres-discovery.js';
import { subscriptionStoreOps, subscriptionTxOps } from './postgres-subscriptions.js';
import { createPostgresHistory, historyTxOps } from './postgres-history.js';
import { changeFeedTxOps, createPostgresChangeFeed } from './postgres-change-feed.js';

/** Kept here for the store's other adapters; it lives in sql-errors.ts (no driver). */
export { translate };

// timestamptz → ISO string with the database's full precision kept as text.
pg.types.setTypeParser(1184, (v: string) => v);

type Queryable = Pick<PoolClient, 'query'>;

interface EntityRow extends QueryResultRow {
  id: string;
  types: string[];
  scopes: string[] | null;
  created_at: string;
  modified_at: string;
  attrs: StoredEntity['attrs'];
}

const ENTITY_COLUMNS = 'e.id, e.types, e.scopes, e.created_at, e.modified_at, e.attrs';

/** The write path's constant statements, built and marked for preparing once. */
const BY_ID = `SELECT ${ENTITY_COLUMNS} FROM entities e WHERE e.tenant = $1 AND e.id = $2`;
const BY_IDS = `SELECT ${ENTITY_COLUMNS} FROM entities e WHERE e.tenant = $1 AND e.id = ANY($2::text[]) ORDER BY e.id`;
const ENTITY_READS = {
  one: hot(BY_ID),
  oneLocked: hot(`${BY_ID} FOR UPDATE`),
  many: hot(BY_IDS),
  manyLocked: hot(`${BY_IDS} FOR UPDATE`),
};
const ROW_SHAPE =
  'x(id text, types text[], scopes text[], c timestamptz, m timestamptz, attrs jsonb, names text[])';
const INSERT_ENTITIES =
  hot(`INSERT INTO entities (tenant, id, types, scopes, created_at, modified_at, attrs, attr_names)
       SELECT $1, x.id, x.types, x.scopes, x.c, x.m, x.attrs, x.names FROM jsonb_to_recordset($2::jsonb) AS ${ROW_SHAPE}`);
const UPDATE_ENTITIES =
  hot(`UPDATE entities e SET types = x.types, scopes = x.scopes, modified_at = x.m, attrs = x.attrs, attr_names = x.names
       FROM jsonb_to_recordset($2::jsonb) AS ${ROW_SHAPE} WHERE e.tenant = $1 AND e.id = x.id`);
// Deletes return what the rows counted for in discovery, as they were when deleted.
const DELETE_ONE = hot('DELETE FROM entities WHERE tenant = $1 AND id = $2 RETURNING id, types, attrs');
const DELETE_MANY = hot(
  'DELETE FROM entities WHERE tenant = $1 AND id = ANY($2::text[]) RETURNING id, types, attrs',
);
const GEO_SCAN_PAGE = 1000;

export interface PostgresStoreOptions {
  url: string;
  /** The hub's pool (database.ts), which its owner ends; without one the store opens its own. */
  pool?: pg.Pool;
  /** Size of the store's own pool; default 10. */
  max?: number;
  /** Longest a statement of its own pool may run before it is cancelled (TooComplexQuery); default 30 s, 0 = none. */
  statementTimeoutMs?: number;
}

/** Applies migrations on the hub's pool (or opens a pool of its own), and returns the store. */
export async function createPostgresStore(opts: PostgresStoreOptions): Promise<Store> {
  const pool =
    opts.pool ??
    openPool({
      url: opts.url,
      max: opts.max ?? 10,
      ...(opts.statementTimeoutMs === undefined ? {} : { statementTimeoutMs: opts.statementTimeoutMs }),
    });
  await migrate(pool);
  function transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return withTransaction(
      pool,
      async (client) => {
        const counts = createDiscoveryTracker();
        const result = await fn(txOps(client, counts));
        // Last before COMMIT: the discovery count rows stay locked for the COMMIT only.
        await counts.flush(runner(client));
        return result;
      },
      translate,
    );
  }
  const discovery = createDiscoveryReader(runner(pool));
  const base = txOps(pool, UNTRACKED);
  return {
    ...base,
    // Outside a transaction a write is a transaction of its own, with its discovery counts.
    insertEntity: (tenant, e) => transaction((tx) => tx.insertEntity(tenant, e)),
    updateEntity: (tenant, e) => transaction((tx) => tx.updateEntity(tenant, e)),
    writeEntities: (tenant, ins, upd, prev) => transaction((tx) => tx.writeEntities(tenant, ins, upd, prev)),
    deleteEntity: (tenant, id) => transaction((tx) => tx.deleteEntity(tenant, id)),
    deleteMatching: (tenant, query) => transaction((tx) => tx.deleteMatching(tenant, query)),
    transaction,
    async tenantExists(tenant) {
      const r = await pool.query('SELECT 1 FROM tenants WHERE name = $1', [tenant]).catch((err: unknown) => {
        throw translate(err);
      });
      return (r.rowCount ?? 0) > 0;
    },
    async listTenants() {
      const r = await pool.query<{ name: string }>('SELECT name FROM tenants ORDER BY name');
      return r.rows.map((x) => x.name);
    },
    listTypes: (tenant, only) => discovery.listTypes(tenant, only),
    listAttributes: (tenant, only) => discovery.listAttributes(tenant, only),
    subscriptions: subscriptionStoreOps(async (sql, params = []) => {
      try {
        return await pool.query(sql, params);
      } catch (err) {
        throw translate(err);
      }
    }, opts.url),
    history: createPostgresHistory(pool, (sql, params = []) =>
      pool.query(sql, params).catch((err: unknown) => {
        throw translate(err);
      }),
    ),
    contexts: contextOps(pool),
    feed: createPostgresChangeFeed(runner(pool), async () => {
      const client = new pg.Client({ connectionString: opts.url });
      await client.connect();
      return client;
    }),
    async ping() {
      await pool.query('SELECT 1').catch((err: unknown) => {
        throw translate(err);
      });
    },
    async close() {
      if (!opts.pool) await pool.end();
    },
  };
}

/** Statements on a client or the pool, constant ones prepared, errors translated. */
function runner(db: Queryable): Run {
  return async <R extends QueryResultRow>(sql: string, params: unknown[] = []) => {
    try {
      return await db.query<R>(queryConfig(sql, params));
    } catch (err) {
      throw translate(err);
    }
  };
}

function txOps(db: Queryable, counts: DiscoveryTracker): StoreTx {
  const run = runner(db);
  return {
    async ensureTenant(tenant) {
      await run(hot('INSERT INTO tenants (name) VALUES ($1) ON CONFLICT DO NOTHING'), [tenant]);
    },
    async getEntity(tenant, id, opts) {
      const r = await run<EntityRow>(opts?.forUpdate ? ENTITY_READS.oneLocked : ENTITY_READS.one, [
        tenant,
        id,
      ]);
      const row = r.rows[0];
      if (row && opts?.forUpdate) counts.locked(tenant, [row]);
      return row ? toEntity(row) : undefined;
    },
    async getEntities(tenant, ids, opts) {
      const r = await run<EntityRow>(opts?.forUpdate ? ENTITY_READS.manyLocked : ENTITY_READS.many, [
        tenant,
        ids,
      ]);
      if (opts?.forUpdate) counts.locked(tenant, r.rows);
      return new Map(r.rows.map((row) => [row.id, toEntity(row)]));
    },
    insertEntity: (tenant, e) => writeRows(run, counts, tenant, [e], []),
    updateEntity: (tenant, e) =>
      writeRows(
        run,
        counts,
        tenant,
        [],
        [e],
        () => new HubError('ResourceNotFound', `Entity ${e.id} does not exist`),
      ),
    writeEntities: (tenant, inserts, updates, previous) =>
      writeRows(
        run,
        counts,
        tenant,
        inserts,
        updates,
        () => new HubError('Conflict', 'Some entities of the batch changed while it ran'),
        previous,
      ),
    async deleteEntity(tenant, id) {
      const r = await run<EntityRow>(DELETE_ONE, [tenant, id]);
      counts.deleted(tenant, r.rows);
      return (r.rowCount ?? 0) > 0;
    },
    async deleteMatching(tenant, query) {
      const deleted: StoredEntity[] = [];
      // Page through the matches so that the exact geometry test (in code) applies too.
      for (;;) {
        const page = await queryEntities(run, tenant, { ...query, limit: 1000, offset: 0, count: false });
        if (page.entities.length === 0) break;
        const batch = page.entities.map((e) => e.id);
        counts.deleted(tenant, (await run<EntityRow>(DELETE_MANY, [tenant, batch])).rows);
        deleted.push(...page.entities);
        if (page.entities.length < 1000) break;
      }
      return deleted;
    },
    queryEntities: (tenant, query) => queryEntities(run, tenant, query),
    outbox: subscriptionTxOps(run),
    history: historyTxOps(run),
    changeFeed: changeFeedTxOps(run),
    auditTrail: {
      async stage(events, at) {
        if (events.length === 0) return;
        await run(
          hot(`INSERT INTO access_audit_staged (at, event) SELECT $1, e FROM unnest($2::jsonb[]) AS e`),
          [at, events.map((e) => JSON.stringify(e))],
        );
      },
    },
  };
}

type Run = <R extends QueryResultRow>(sql: string, params?: unknown[]) => Promise<pg.QueryResult<R>>;

/**
 * Writes entity rows, new and changed, in at most two statements, then their geometry boxes, and
 * notes the change of their discovery counts (applied at COMMIT). The one place the entity columns
 * are written. `missing` is the error when a row to update is gone.
 */
async function writeRows(
  run: Run,
  counts: DiscoveryTracker,
  tenant: string,
  inserts: StoredEntity[],
  updates: StoredEntity[],
  missing?: () => HubError,
  previous?: ReadonlyMap<string, StoredEntity>,
): Promise<void> {
  const rows = (list: StoredEntity[]) =>
    JSON.stringify(
      list.map((e) => ({
        id: e.id,
        types: e.types,
        scopes: e.scopes ?? null,
        c: e.createdAt,
        m: e.modifiedAt,
        attrs: e.attrs,
        names: Object.keys(e.attrs),
      })),
    );
  if (inserts.length > 0) {
    await run(INSERT_ENTITIES, [tenant, rows(inserts)]);
    counts.inserted(tenant, inserts);
  }
  if (updates.length > 0) {
    // Rows not read under lock by this transaction (the services always read them first): what
    // they counted for before, read under lock.
    const unknown = counts.unknown(tenant, updates);
    if (unknown.length > 0)
      counts.locked(tenant, (await run<EntityRow>(ENTITY_READS.manyLocked, [tenant, unknown])).rows);
    const r = await run(UPDATE_ENTITIES, [tenant, rows(updates)]);
    counts.updated(tenant, updates);
    if (r.rowCount !== updates.length && missing) throw missing();
  }
  await writeGeometry(run, tenant, inserts, updates, previous);
}

/** An entity's geometry boxes as one comparable string. */
const boxesKey = (e: StoredEntity) =>
  [...geoBoxes(e)]
    .map(([iri, box]) => `${iri} ${box.join(' ')}`)
    .sort()
    .join('\n');

/**
 * Geometry boxes. New entities: their boxes inserted. Changed entities: one statement that drops
 * the boxes of GeoProperties they no longer have and upserts the others, writing nothing (and
 * leaving the GiST index alone) where a box did not move.
 */
async function writeGeometry(
  run: Run,
  tenant: string,
  inserts: StoredEntity[],
  updates: StoredEntity[],
  previous?: ReadonlyMap<string, StoredEntity>,
): Promise<void> {
  const boxesOf = (list: StoredEntity[]) => {
    const out = { ids: [] as string[], attrs: [] as string[], b: [[], [], [], []] as number[][] };
    for (const e of list)
      for (const [iri, box] of geoBoxes(e)) {
        out.ids.push(e.id);
        out.attrs.push(iri);
        for (let i = 0; i < 4; i++) out.b[i]!.push(box[i]!);
      }
    return out;
  };
  const ins = boxesOf(inserts);
  if (ins.ids.length > 0) {
    await run(
      hot(`INSERT INTO entity_geo (tenant, entity_id, attr, bbox)
       SELECT $1, i, a, box(point(x1, y1), point(x2, y2))
       FROM unnest($2::text[], $3::text[], $4::float8[], $5::float8[], $6::float8[], $7::float8[]) AS t(i, a, x1, y1, x2, y2)`),
      [tenant, ins.ids, ins.attrs, ...ins.b],
    );
  }
  // Entities whose boxes are those they had when this transaction read them need no statement.
  const moved = previous
    ? updates.filter((e) => {
        const was = previous.get(e.id);
        return !was || boxesKey(was) !== boxesKey(e);
      })
    : updates;
  if (moved.length > 0) {
    const upd = boxesOf(moved);
    await run(
      hot(`WITH new AS (
         SELECT i, a, box(point(x1, y1), point(x2, y2)) AS bbox
         FROM unnest($3::text[], $4::text[], $5::float8[], $6::float8[], $7::float8[], $8::float8[]) AS t(i, a, x1, y1, x2, y2)
       ), gone AS (
         DELETE FROM entity_geo g WHERE g.tenant = $1 AND g.entity_id = ANY($2::text[])
           AND NOT EXISTS (SELECT 1 FROM new WHERE new.i = g.entity_id AND new.a = g.attr)
       )
       INSERT INTO entity_geo AS g (tenant, entity_id, attr, bbox)
       SELECT $1, i, a, bbox FROM new
       ON CONFLICT (tenant, entity_id, attr) DO UPDATE SET bbox = EXCLUDED.bbox
         WHERE NOT (g.bbox ~= EXCLUDED.bbox)`),
      [tenant, moved.map((e) => e.id), upd.ids, upd.attrs, ...upd.b],
    );
  }
}

/** The union bounding box of each GeoProperty of an entity. */
function geoBoxes(e: StoredEntity): [string, number[]][] {
  const out: [string, number[]][] = [];
  for (const [iri, instances] of Object.entries(e.attrs)) {
    let box: number[] | undefined;
    for (const inst of instances) {
      if (inst.type !== 'GeoProperty' || inst.value === undefined) continue;
      const g = boundingBox(inst.value as GeoJsonGeometry);
      box = box
        ? [Math.min(box[0]!, g[0]), Math.min(box[1]!, g[1]), Math.max(box[2]!, g[2]), Math.max(box[3]!, g[3])]
        : [...g];
    }
    if (box) out.push([iri, box]);
  }
  return out;
}

/** ORDER BY for a query: its orderBy keys (missing values last), else creation order; the id breaks ties. */
function orderSql(query: EntityQuery, params: unknown[]): string {
  const keys = (query.orderBy ?? []).map((k) => {
    const dir = k.desc ? 'DESC' : 'ASC';
    if ('column' in k) {
      const col = { id: 'e.id', type: 'e.types', createdAt: 'e.created_at', modifiedAt: 'e.modified_at' }[
        k.column
      ];
      return `${col} ${dir}`;
    }
    // The default instance's value (else the first instance's), through sub-attributes.
    let expr = `(e.attrs -> $${params.push(k.attr)}::text -> 0)`;
    for (const s of k.sub) expr = `(${expr} -> 'sub' -> $${params.push(s)}::text)`;
    if (k.member) return `${expr} -> '${k.member}' ${dir} NULLS LAST`;
    return `coalesce(${expr} -> 'value', ${expr} -> 'object', ${expr} -> 'languageValues') ${dir} NULLS LAST`;
  });
  return [...(keys.length > 0 ? keys : ['e.created_at']), 'e.id'].join(', ');
}

async function queryEntities(run: Run, tenant: string, query: EntityQuery): Promise<QueryResult> {
  const params: unknown[] = [tenant];
  const { from, where } = buildEntityFilter(query, params);
  if (!query.geo) {
    const countParams = [...params];
    const order = orderSql(query, params);
    const limitAt = params.push(query.limit);
    const offsetAt = params.push(query.offset);
    const rows =
      query.limit > 0
        ? (
            await run<EntityRow>(
              `SELECT ${ENTITY_COLUMNS} FROM ${from} WHERE ${where} ORDER BY ${order} LIMIT $${limitAt} OFFSET $${offsetAt}`,
              params,
            )
          ).rows
        : [];
    const result: QueryResult = { entities: rows.map(toEntity) };
    if (query.count) {
      const c = await run<{ n: string }>(`SELECT count(*) AS n FROM ${from} WHERE ${where}`, countParams);
      result.count = Number(c.rows[0]?.n ?? 0);
    }
    return result;
  }
  // Geometry: the GiST box filter in SQL, the exact test here, pages by id (keyset).
  const geo = query.geo;
  const matches: StoredEntity[] = [];
  let total = 0;
  let after = '';
  const want = query.offset + query.limit;
  for (;;) {
    const p = [...params];
    const afterAt = p.push(after);
    const pageAt = p.push(GEO_SCAN_PAGE);
    const rows = (
      await run<EntityRow>(
        `SELECT ${ENTITY_COLUMNS} FROM ${from} WHERE ${where} AND e.id > $${afterAt} ORDER BY e.id LIMIT $${pageAt}`,
        p,
      )
    ).rows;
    for (const row of rows) {
      const e = toEntity(row);
      const hit = (e.attrs[geo.geoPropertyIri] ?? []).some(
        (i) => i.type === 'GeoProperty' && matchesGeoQuery(geo.query, i.value as GeoJsonGeometry),
      );
      if (!hit) continue;
      if (total >= query.offset && total < want) matches.push(e);
      total++;
    }
    if (rows.length < GEO_SCAN_PAGE) break;
    if (!query.count && total >= want) break;
    after = rows[rows.length - 1]!.id;
  }
  const result: QueryResult = { entities: matches };
  if (query.count) result.count = total;
  return result;
}

function toEntity(row: EntityRow): StoredEntity {
  const e: StoredEntity = {
    id: row.id,
    types: row.types,
    createdAt: isoOf(row.created_at),
    modifiedAt: isoOf(row.modified_at),
    attrs: row.attrs,
  };
  if (row.scopes && row.scopes.length > 0) e.scopes = row.scopes;
  return e;
}

function isoOf(pgTimestamp: string): string {
  return new Date(pgTimestamp).toISOString();
}

function contextOps(pool: pg.Pool): Store['contexts'] {
  interface Row extends QueryResultRow {
    url: string;
    local_id: string;
    document: unknown;
    origin: ContextRecord['origin'];
    created_at: string;
    last_used_at: string | null;
    use_count: string;
  }
  const toRecord = (r: Row): ContextRecord => ({
    url: r.url,
    localId: r.local_id,
    document: r.document,
    origin: r.origin,
    createdAt: isoOf(r.created_at),
    lastUsedAt: r.last_used_at === null ? null : isoOf(r.last_used_at),
    useCount: Number(r.use_count),
  });
  return {
    async get(url) {
      const r = await pool.query<Row>('SELECT * FROM jsonld_contexts WHERE url = $1', [url]);
      return r.rows[0] ? toRecord(r.rows[0]) : undefined;
    },
    async getByLocalId(localId) {
      const r = await pool.query<Row>('SELECT * FROM jsonld_contexts WHERE local_id = $1', [localId]);
      return r.rows[0] ? toRecord(r.rows[0]) : undefined;
    },
    async put(url, document, origin, localId) {
      const r = await pool.query<{ local_id: string }>(
        `INSERT INTO jsonld_contexts (url, local_id, document, origin) VALUES ($1, $2, $3, $4)
         ON CONFLICT (url) DO UPDATE SET document = EXCLUDED.document, origin = EXCLUDED.origin
         RETURNING local_id`,
        [url, localId ?? randomUUID(), JSON.stringify(document), origin],
      );
      return r.rows[0]?.local_id ?? '';
    },
    async list() {
      const r = await pool.query<Row>('SELECT * FROM jsonld_contexts ORDER BY url');
      return r.rows.map(toRecord);
    },
    async delete(url) {
      const r = await pool.query('DELETE FROM jsonld_contexts WHERE url = $1', [url]);
      return (r.rowCount ?? 0) > 0;
    },
    async touch(url) {
      await pool.query(
        'UPDATE jsonld_contexts SET last_used_at = now(), use_count = use_count + 1 WHERE url = $1',
        [url],
      );
    },
  };
}
