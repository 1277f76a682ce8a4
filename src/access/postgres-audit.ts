/**
 * The audit log table (migration 5): appended under a transaction-scoped advisory lock so that
 * records from several hub instances form one chain with seq numbers without gaps; UPDATE, DELETE
 * and TRUNCATE are refused by a trigger.
 */
import type pg from 'pg';
import type { QueryResultRow } from 'pg';
import type { AuditEvent, AuditOutcome, AuditRecord } from '../core/access/audit-chain.js';
import { GENESIS_HASH, auditHash } from '../core/access/audit-chain.js';
import type { AuditFilter, AuditStore } from '../core/access/access-store.js';
import { translate } from '../store/sql-errors.js';
import { withTransaction } from '../store/database.js';

const AUDIT_LOCK = 7_253_005;

function recordOf(r: QueryResultRow): AuditRecord {
  const rec: AuditRecord = {
    seq: Number(r.seq),
    at: new Date(r.at as string).toISOString(),
    actor: r.actor as string,
    action: r.action as string,
    outcome: r.outcome as AuditOutcome,
    prevHash: r.prev_hash as string,
    hash: r.hash as string,
  };
  if (r.department !== null) rec.department = r.department as string;
  if (r.target !== null) rec.target = r.target as string;
  if (r.purpose !== null) rec.purpose = r.purpose as string;
  if (r.ip !== null) rec.ip = r.ip as string;
  if (r.detail !== null) rec.detail = r.detail as Record<string, unknown>;
  return rec;
}

export function createAccessAuditStore(pool: pg.Pool): AuditStore {
  /** Appends records to the chain in one transaction under the chain lock. */
  function chain(items: { event: AuditEvent; at: Date }[]): Promise<AuditRecord[]> {
    return withTransaction(
      pool,
      async (client) => {
        await client.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_LOCK]);
        return appendLocked(client, items);
      },
      translate,
    );
  }

  return {
    /** Appends one record to the chain and returns it. */
    async append(e: AuditEvent, now: Date = new Date()): Promise<AuditRecord> {
      const [rec] = await chain([{ event: e, at: now }]);
      return rec as AuditRecord;
    },

    /**
     * Moves records staged inside entity write transactions (access_audit_staged) into the
     * chain, oldest first, at most `limit` per call; returns how many it moved. Safe to run from
     * several hub instances at once (the chain lock serializes them).
     */
    chainStaged(limit = 1000): Promise<number> {
      return withTransaction(
        pool,
        async (client) => {
          await client.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_LOCK]);
          const staged = await client.query<{ id: string; at: Date; event: AuditEvent }>(
            'SELECT id, at, event FROM access_audit_staged ORDER BY id LIMIT $1',
            [limit],
          );
          if (staged.rows.length > 0) {
            await appendLocked(
              client,
              staged.rows.map((r) => ({ event: r.event, at: new Date(r.at) })),
            );
            await client.query('DELETE FROM access_audit_staged WHERE id = ANY($1::bigint[])', [
              staged.rows.map((r) => r.id),
            ]);
          }
          return staged.rows.length;
        },
        translate,
      );
    },

    async query(f: AuditFilter): Promise<AuditRecord[]> {
      const where: string[] = [];
      const params: unknown[] = [];
      const add = (sql: string, v: unknown) => {
        params.push(v);
        where.push(sql.replace('?', `$${params.length}`));
      };
      if (f.actor !== undefined) add('actor = ?', f.actor);
      if (f.action !== undefined) add('action = ?', f.action);
      if (f.outcome !== undefined) add('outcome = ?', f.outcome);
      if (f.from !== undefined) add('at >= ?', f.from);
      if (f.to !== undefined) add('at < ?', f.to);
      if (f.afterSeq !== undefined) add('seq > ?', f.afterSeq);
      params.push(f.limit);
      const r = await pool
        .query(
          `SELECT * FROM access_audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq LIMIT $${params.length}`,
          params,
        )
        .catch((err: unknown) => {
          throw translate(err);
        });
      return r.rows.map(recordOf);
    },

    /** Every record in seq order, page by page (verification, export). */
    async *scan(pageSize = 1000): AsyncGenerator<AuditRecord[]> {
      let after = 0;
      for (;;) {
        const r = await pool.query('SELECT * FROM access_audit WHERE seq > $1 ORDER BY seq LIMIT $2', [
          after,
          pageSize,
        ]);
        if (r.rows.length === 0) return;
        const page = r.rows.map(recordOf);
        yield page;
        after = (page[page.length - 1] as AuditRecord).seq;
      }
    },
  };
}

/** Links and inserts records after the last one; the caller holds the chain lock. */
async function appendLocked(
  client: pg.PoolClient,
  items: { event: AuditEvent; at: Date }[],
): Promise<AuditRecord[]> {
  const last = await client.query<{ seq: string; hash: string }>(
    'SELECT seq, hash FROM access_audit ORDER BY seq DESC LIMIT 1',
  );
  let seq = last.rows[0] ? Number(last.rows[0].seq) : 0;
  let prevHash = last.rows[0]?.hash ?? GENESIS_HASH;
  const recs: AuditRecord[] = [];
  for (const { event, at } of items) {
    seq += 1;
    const base: Omit<AuditRecord, 'hash'> = { ...stripUndefined(event), seq, at: at.toISOString(), prevHash };
    const rec: AuditRecord = { ...base, hash: auditHash(base) };
    recs.push(rec);
    prevHash = rec.hash;
  }
  const cols = 12;
  const params: unknown[] = [];
  const rows = recs.map((rec, i) => {
    params.push(
      rec.seq,
      rec.at,
      rec.actor,
      rec.department ?? null,
      rec.action,
      rec.target ?? null,
      rec.outcome,
      rec.purpose ?? null,
      rec.ip ?? null,
      rec.detail === undefined ? null : JSON.stringify(rec.detail),
      rec.prevHash,
      rec.hash,
    );
    return `(${Array.from({ length: cols }, (_, j) => `$${i * cols + j + 1}`).join(', ')})`;
  });
  await client.query(
    `INSERT INTO access_audit (seq, at, actor, department, action, target, outcome, purpose, ip, detail, prev_hash, hash)
     VALUES ${rows.join(', ')}`,
    params,
  );
  return recs;
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
