/**
 * The change feed on PostgreSQL (core/change-feed.ts).
 *
 * One row per writing transaction, holding all its changes (`entries`), so that a group commit of
 * 200 readings adds one row and one index entry, not 200 (rows written before migration 10 hold
 * one change in their columns and are read the same way).
 *
 * Order without gaps. A transaction's row gets `key` = the greatest of its transaction id and the
 * keys of its entities' previous changes (kept per entity in change_feed_heads, which the append
 * moves to the new key), and `seq` from an identity column. Readers take only rows whose key is
 * below the oldest transaction id still running (pg_snapshot_xmin): such rows are final, and every
 * transaction still to commit has an id, hence a key, at or above that line, so a cursor that
 * passed a row never passes a row committed later. An entity's writes are serialised by its row
 * lock, so its next change sees the previous one's head and takes a key at least as high: per
 * entity, feed order is commit order, even when an older transaction commits later. A deleted
 * entity's head stays (a later creation of the same id comes after the deletion); heads below
 * every key still in the feed and below the running transactions are of no use and are pruned.
 *
 * Holding. A consumer is held by a session-level advisory lock on a dedicated connection; when a
 * hub instance dies its connection ends and PostgreSQL lets the lock go, so another instance
 * takes the consumer over. The cursor moves only through the connection that holds the lock.
 */
import type pg from 'pg';
import type { QueryResultRow } from 'pg';
import type {
  ChangeFeedStore,
  ChangeFeedTx,
  ConsumerStatus,
  FeedChange,
  FeedCursor,
  FeedEntry,
  FeedSession,
} from '../core/change-feed.js';
import { WHOLE_ROW } from '../core/change-feed.js';
import { hot } from './prepared.js';

type Run = <R extends QueryResultRow>(sql: string, params?: unknown[]) => Promise<pg.QueryResult<R>>;

/** Advisory lock class of feed consumers ('CPCF'); the second key is hashtext(name). */
const LOCK_CLASS = 0x43504346;
/** Advisory lock class of singleton jobs ('CPJB'). */
const JOB_CLASS = 0x43504a42;
/** Rows deleted per statement when pruning. */
const PRUNE_BATCH = 10_000;
/** Lag counts stop here (a consumer this far behind is reported as at least this). */
const LAG_COUNT_CAP = 10_000_000;

/** Separates the IRIs of one entry's types and attributes in the append statement. */
const SEP = '\u001f';

const HORIZON = 'pg_snapshot_xmin(pg_current_snapshot())::text::bigint';

/**
 * A transaction's changes as one row: the key above its entities' heads, the heads moved to it.
 * $1, $2: the entities (tenant, id) without repeats; $3: the entries as JSON; $4: their number.
 */
const APPEND = hot(`
  WITH x AS (SELECT * FROM unnest($1::text[], $2::text[]) AS x(tenant, id)),
  k AS (
    SELECT greatest(pg_current_xact_id()::text::bigint, max(h.key)) AS key
    FROM x LEFT JOIN change_feed_heads h ON h.tenant = x.tenant AND h.entity_id = x.id
  ),
  heads AS (
    INSERT INTO change_feed_heads (tenant, entity_id, key)
    SELECT x.tenant, x.id, k.key FROM x, k
    ON CONFLICT (tenant, entity_id) DO UPDATE SET key = EXCLUDED.key
  )
  INSERT INTO change_feed (key, entries, changes) SELECT k.key, $3::jsonb, $4 FROM k`);

/** Rows from the cursor's own (it may have entries left) on, final ones only. */
const READ = `
  SELECT f.key::text AS key_text, f.seq::text AS seq_text, f.entries, f.tenant, f.entity_id, f.kind,
         f.types, f.attrs, to_json(f.at) #>> '{}' AS at_text
  FROM change_feed f
  WHERE (f.key, f.seq) >= ($1::bigint, $2::bigint) AND f.key < ${HORIZON}
  -- the columns, not text: the names of the output are other ones on purpose
  ORDER BY f.key, f.seq
  LIMIT $3 + 1`;

/** An entry of a row's `entries`: [tenant, id, kind, types, attributes]. */
type StoredEntry = [string, string, FeedChange['kind'], string[], string[]];

/** The feed's part of a write transaction: one statement, one row for all its changes. */
export function changeFeedTxOps(run: Run): ChangeFeedTx {
  return {
    async append(entries: FeedEntry[]) {
      if (entries.length === 0) return;
      const entities = new Map<string, [string, string]>();
      for (const e of entries) entities.set(`${e.tenant}${SEP}${e.id}`, [e.tenant, e.id]);
      const stored: StoredEntry[] = entries.map((e) => [e.tenant, e.id, e.kind, e.types, e.attributes]);
      await run(APPEND, [
        [...entities.values()].map((e) => e[0]),
        [...entities.values()].map((e) => e[1]),
        JSON.stringify(stored),
        entries.length,
      ]);
    },
  };
}

interface FeedRow extends QueryResultRow {
  key_text: string;
  seq_text: string;
  entries: StoredEntry[] | null;
  tenant: string | null;
  entity_id: string | null;
  kind: FeedChange['kind'] | null;
  types: string[] | null;
  attrs: string[] | null;
  at_text: string;
}

/** The changes of rows read from `cursor` on: those after it, at most `limit`. */
function changesAfter(rows: FeedRow[], cursor: FeedCursor, limit: number): FeedChange[] {
  const out: FeedChange[] = [];
  for (const x of rows) {
    const own = x.key_text === cursor.key && x.seq_text === cursor.seq;
    const entries: StoredEntry[] = x.entries ?? [
      [x.tenant ?? '', x.entity_id ?? '', x.kind ?? 'updated', x.types ?? [], x.attrs ?? []],
    ];
    for (let n = own ? cursor.n + 1 : 0; n < entries.length; n++) {
      const [tenant, id, kind, types, attributes] = entries[n] as StoredEntry;
      out.push({
        position: `${x.key_text}.${x.seq_text}.${n}`,
        tenant,
        id,
        kind,
        types,
        attributes,
        at: x.at_text,
      });
      if (out.length === limit) return out;
    }
  }
  return out;
}

/** Whether this session holds the consumer's lock (the fence of every cursor move). */
const HELD_HERE = `EXISTS (SELECT 1 FROM pg_locks l
  WHERE l.locktype = 'advisory' AND l.pid = pg_backend_pid() AND l.granted
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND l.classid = ${LOCK_CLASS}::oid AND l.objid = hashtext($1)::oid AND l.objsubid = 2)`;

const HELD_ANYWHERE = `EXISTS (SELECT 1 FROM pg_locks l
  WHERE l.locktype = 'advisory' AND l.granted
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND l.classid = ${LOCK_CLASS}::oid AND l.objid = hashtext(c.name)::oid AND l.objsubid = 2)`;

/**
 * The feed's part of the store. `connect` opens a dedicated connection for a session (not one of
 * the pool's: it lives as long as the instance runs consumers).
 */
export function createPostgresChangeFeed(run: Run, connect: () => Promise<pg.Client>): ChangeFeedStore {
  return {
    async openSession(): Promise<FeedSession> {
      const client = await connect();
      const held = new Set<string>();
      const jobs = new Set<string>();
      let broken: Error | undefined;
      client.on('error', (err) => {
        broken = err;
      });
      // The consumers' and jobs' loops share the connection: their statements go one at a time
      // (pg queues a query sent while another runs, but that use is deprecated).
      let last: Promise<unknown> = Promise.resolve();
      const q = <R extends QueryResultRow>(sql: string, params: unknown[]) => {
        const run = last.then(() => {
          if (broken) throw broken;
          return client.query<R>(sql, params);
        });
        last = run.catch(() => undefined);
        return run;
      };
      return {
        async tryHold(consumer, holder) {
          if (!held.has(consumer)) {
            const r = await q<{ ok: boolean }>(
              `SELECT pg_try_advisory_lock(${LOCK_CLASS}, hashtext($1)) AS ok`,
              [consumer],
            );
            if (!r.rows[0]?.ok) return undefined;
            held.add(consumer);
          }
          // A new consumer starts at the feed's end: the changes that commit from now on.
          const r = await q<{ key: string; seq: string; n: number }>(
            `INSERT INTO change_feed_consumers (name, cursor_key, cursor_seq, cursor_n, holder)
             VALUES ($1, ${HORIZON} - 1, 9223372036854775807, ${WHOLE_ROW}, $2)
             ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder
             RETURNING cursor_key::text AS key, cursor_seq::text AS seq, cursor_n AS n`,
            [consumer, holder],
          );
          const row = r.rows[0];
          if (!row) throw new Error(`change feed consumer ${consumer}: no cursor`);
          return { key: row.key, seq: row.seq, n: row.n };
        },
        async release(consumer) {
          if (!held.delete(consumer)) return;
          await q(`UPDATE change_feed_consumers SET holder = NULL WHERE name = $1 AND ${HELD_HERE}`, [
            consumer,
          ]);
          await q(`SELECT pg_advisory_unlock(${LOCK_CLASS}, hashtext($1))`, [consumer]);
        },
        async read(cursor, limit) {
          // A row holds one change or more: `limit` rows after the cursor's hold at least `limit` changes.
          const r = await q<FeedRow>(READ, [cursor.key, cursor.seq, limit]);
          return changesAfter(r.rows, cursor, limit);
        },
        async advance(consumer, to: FeedCursor) {
          const r = await q(
            `UPDATE change_feed_consumers SET cursor_key = $2, cursor_seq = $3, cursor_n = $4, updated_at = now()
             WHERE name = $1 AND ${HELD_HERE}`,
            [consumer, to.key, to.seq, to.n],
          );
          if ((r.rowCount ?? 0) !== 1) {
            held.delete(consumer);
            throw new Error(`change feed consumer ${consumer} is no longer held by this instance`);
          }
        },
        async tryLock(job) {
          if (jobs.has(job)) return true;
          const r = await q<{ ok: boolean }>(
            `SELECT pg_try_advisory_lock(${JOB_CLASS}, hashtext($1)) AS ok`,
            [job],
          );
          if (r.rows[0]?.ok) jobs.add(job);
          return jobs.has(job);
        },
        async unlock(job) {
          if (!jobs.delete(job)) return;
          await q(`SELECT pg_advisory_unlock(${JOB_CLASS}, hashtext($1))`, [job]);
        },
        async close() {
          held.clear();
          jobs.clear();
          await client.end().catch(() => undefined);
        },
      };
    },

    async consumers(): Promise<ConsumerStatus[]> {
      const r = await run<{
        name: string;
        holder: string | null;
        held: boolean;
        updated_at: string;
        lag: string;
        lag_s: number | null;
      }>(
        `SELECT c.name, c.holder, ${HELD_ANYWHERE} AS held, to_json(c.updated_at) #>> '{}' AS updated_at,
           (SELECT coalesce(sum(s.left_over), 0) FROM (
              SELECT CASE WHEN (f.key, f.seq) = (c.cursor_key, c.cursor_seq)
                       THEN greatest(0, f.changes - 1 - c.cursor_n) ELSE f.changes END AS left_over
              FROM change_feed f WHERE (f.key, f.seq) >= (c.cursor_key, c.cursor_seq)
              LIMIT ${LAG_COUNT_CAP}) s)::text AS lag,
           (SELECT extract(epoch FROM now() - f.at)::float8 FROM change_feed f
              WHERE (f.key, f.seq) > (c.cursor_key, c.cursor_seq)
                 OR ((f.key, f.seq) = (c.cursor_key, c.cursor_seq) AND f.changes - 1 > c.cursor_n)
              ORDER BY f.key, f.seq LIMIT 1) AS lag_s
         FROM change_feed_consumers c ORDER BY c.name`,
      );
      return r.rows.map((x) => ({
        name: x.name,
        lagChanges: Number(x.lag),
        lagSeconds: Math.max(0, x.lag_s ?? 0),
        ...(x.held && x.holder ? { holder: x.holder } : {}),
        updatedAt: x.updated_at,
      }));
    },

    async removeConsumer(name) {
      const r = await run('DELETE FROM change_feed_consumers WHERE name = $1', [name]);
      return (r.rowCount ?? 0) > 0;
    },

    async prune(olderThanMs) {
      let total = 0;
      for (;;) {
        const r = await run(
          `WITH low AS (
             SELECT cursor_key, cursor_seq, cursor_n FROM change_feed_consumers
             ORDER BY cursor_key, cursor_seq, cursor_n LIMIT 1
           ), gone AS (
             SELECT f.key, f.seq FROM change_feed f
             WHERE f.at < now() - make_interval(secs => $1::float8 / 1000)
               AND (NOT EXISTS (SELECT 1 FROM low)
                    OR (f.key, f.seq) < (SELECT low.cursor_key, low.cursor_seq FROM low)
                    OR ((f.key, f.seq) = (SELECT low.cursor_key, low.cursor_seq FROM low)
                        AND f.changes - 1 <= (SELECT low.cursor_n FROM low)))
             ORDER BY f.key, f.seq
             LIMIT ${PRUNE_BATCH}
           )
           DELETE FROM change_feed f USING gone WHERE f.key = gone.key AND f.seq = gone.seq`,
          [olderThanMs],
        );
        total += r.rowCount ?? 0;
        if ((r.rowCount ?? 0) < PRUNE_BATCH) break;
      }
      // Heads below every key left and below the running transactions order nothing any more:
      // every change still to come takes a key above them.
      for (;;) {
        const r = await run(
          `DELETE FROM change_feed_heads h USING (
             SELECT tenant, entity_id FROM change_feed_heads
             WHERE key < ${HORIZON} AND key < coalesce((SELECT min(key) FROM change_feed), ${HORIZON})
             LIMIT ${PRUNE_BATCH}) old
           WHERE h.tenant = old.tenant AND h.entity_id = old.entity_id`,
        );
        if ((r.rowCount ?? 0) < PRUNE_BATCH) return total;
      }
    },
  };
}
