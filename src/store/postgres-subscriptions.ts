/**
 * PostgreSQL side of subscriptions and the notification outbox (migration 2). Dispatchers of several
 * hub instances share the outbox: a claim leases rows with FOR UPDATE SKIP LOCKED, so that each
 * attempt is made by one instance, and only the oldest pending row of a (subscription, entity)
 * queue is due, so that deliveries keep the order of the changes.
 */
import pg from 'pg';
import type { QueryResultRow } from 'pg';
import type { Subscription, SubscriptionState } from '../core/subscription/subscription-model.js';
import {
  OUTBOX_CHANNEL,
  SUBSCRIPTIONS_CHANNEL,
  type ClaimedNotification,
  type NotificationPayload,
  type StoredSubscription,
  type SubscriptionStore,
  type SubscriptionTx,
  type UndeliveredNotification,
} from '../core/subscription/subscription-store.js';
import type { NotificationEndpoint } from '../core/subscription/subscription-model.js';
import { HubError } from '../core/errors.js';
import { compileQ, compileScopeQ } from './q-to-sql.js';
import { hot } from './prepared.js';

export type Run = <R extends QueryResultRow>(sql: string, params?: unknown[]) => Promise<pg.QueryResult<R>>;

interface SubscriptionRow extends QueryResultRow {
  tenant: string;
  doc: Subscription;
  times_sent: string;
  times_failed: string;
  last_notification: string | null;
  last_success: string | null;
  last_failure: string | null;
  last_error: string | null;
}

const SUB_COLUMNS =
  'tenant, doc, times_sent, times_failed, last_notification, last_success, last_failure, last_error';

function toStored(r: SubscriptionRow): StoredSubscription {
  const state: SubscriptionState = { timesSent: Number(r.times_sent), timesFailed: Number(r.times_failed) };
  if (r.last_notification) state.lastNotification = iso(r.last_notification);
  if (r.last_success) state.lastSuccess = iso(r.last_success);
  if (r.last_failure) state.lastFailure = iso(r.last_failure);
  if (r.last_error) state.lastError = r.last_error;
  return { tenant: r.tenant, sub: r.doc, state };
}

function iso(pgTime: string): string {
  return new Date(pgTime).toISOString();
}

/** Work done inside an entity write's transaction. */
export function subscriptionTxOps(run: Run): SubscriptionTx {
  return {
    async generation(tenant) {
      const r = await run<{ generation: string }>(
        hot('SELECT generation FROM subscription_generations WHERE tenant = $1'),
        [tenant],
      );
      return Number(r.rows[0]?.generation ?? 0);
    },
    async enqueue(entries) {
      if (entries.length === 0) return;
      // The rows, and the wake-up of every instance's dispatcher (delivered at COMMIT), in one
      // statement. Rows are written only for subscriptions that still exist, and those are locked
      // FOR KEY SHARE until this transaction ends: the subscriptions were chosen from a list read
      // earlier, and one may have been deleted since. Under READ COMMITTED a delete that committed
      // before this statement is not seen, and one still running is waited for and its row then
      // skipped, so that the write goes on without that notification instead of failing the
      // foreign key; a delete that comes later waits for this transaction (and its cascade then
      // removes these rows). An update of a subscription (not of its key) does not conflict.
      await run(
        hot(`WITH entry AS (
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[])
             WITH ORDINALITY AS e(tenant, subscription_id, notification_id, order_key, endpoint, payload, n)
         ), live AS (
           SELECT s.tenant, s.id FROM subscriptions s
           WHERE (s.tenant, s.id) IN (SELECT tenant, subscription_id FROM entry)
           FOR KEY SHARE OF s
         ), queued AS (
           INSERT INTO notification_outbox (tenant, subscription_id, notification_id, order_key, endpoint, payload)
           SELECT e.tenant, e.subscription_id, e.notification_id, e.order_key, e.endpoint, e.payload
           FROM entry e JOIN live l ON l.tenant = e.tenant AND l.id = e.subscription_id
           ORDER BY e.n -- seq in the order of the entries: deliveries keep the order of the changes
           RETURNING 1)
         SELECT pg_notify($7, '') FROM (SELECT count(*) FROM queued) AS q`),
        [
          entries.map((e) => e.tenant),
          entries.map((e) => e.subscriptionId),
          entries.map((e) => e.notificationId),
          entries.map((e) => e.orderKey),
          entries.map((e) => e.endpoint),
          entries.map((e) => JSON.stringify(e.payload)),
          OUTBOX_CHANNEL,
        ],
      );
    },
    async throttle(tenant, id, seconds, now) {
      const r = await run(
        `UPDATE subscriptions SET last_enqueued_at = $3
         WHERE tenant = $1 AND id = $2
           AND (last_enqueued_at IS NULL OR last_enqueued_at <= $3::timestamptz - make_interval(secs => $4))`,
        [tenant, id, now, seconds],
      );
      return r.rowCount === 1;
    },
    async announce(channel, payloads) {
      if (payloads.length === 0) return;
      await run(hot('SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p'), [channel, payloads]);
    },
    async matchFilters(tenant, checks) {
      if (checks.length === 0) return [];
      const params: unknown[] = [tenant];
      const parts = checks.map((c, i) => {
        const conds: string[] = [];
        if (c.q) {
          conds.push(
            compileQ(
              c.q.expr,
              {
                expandAttr: c.q.expandAttr,
                expandValue: c.q.expandValue,
                column: 'c.attrs',
                linked: { table: 'entities', where: (alias) => `${alias}.tenant = $1` },
              },
              params,
            ),
          );
        }
        if (c.scopeQ) conds.push(compileScopeQ(c.scopeQ, 'c.scopes', params));
        const a = params.push(JSON.stringify(c.attrs));
        const s = params.push(c.scopes ?? null);
        return `SELECT ${i} AS k FROM (SELECT $1::text AS tenant, $${a}::jsonb AS attrs, $${s}::text[] AS scopes) c WHERE ${conds.join(' AND ') || 'true'}`;
      });
      const r = await run<{ k: number }>(parts.join(' UNION ALL '), params);
      const hit = new Set(r.rows.map((row) => row.k));
      return checks.map((_, i) => hit.has(i));
    },
  };
}

/**
 * Runs a statement again after a deadlock: a subscription's delete or update (subscription row,
 * then its outbox rows) can cross a dispatcher's claim (outbox rows, then the subscription's
 * counters); PostgreSQL cancels one of them, and the cancelled one simply goes again.
 */
async function retryOnConflict<T>(f: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await f();
    } catch (err) {
      if (!(err instanceof HubError && err.code === 'Conflict') || attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 5 * attempt));
    }
  }
}

/** Everything else: subscription CRUD, the dispatcher's claims, operators' views. */
export function subscriptionStoreOps(baseRun: Run, url: string): SubscriptionStore {
  const run: Run = (sql, params) => retryOnConflict(() => baseRun(sql, params));
  const periodicNext = (sub: Subscription) =>
    sub.timeInterval === undefined ? null : new Date().toISOString();

  const filters = subscriptionTxOps(run);
  return {
    tryFilters: (tenant, checks) => filters.matchFilters(tenant, checks),
    async create(tenant, sub) {
      try {
        await run(
          `WITH i AS (INSERT INTO subscriptions (tenant, id, doc, next_run_at) VALUES ($1, $2, $3, $4) RETURNING 1),
           g AS (INSERT INTO subscription_generations (tenant, generation) SELECT $1, 1 FROM i
             ON CONFLICT (tenant) DO UPDATE SET generation = subscription_generations.generation + 1 RETURNING 1)
           SELECT (SELECT count(*) FROM g) AS g, pg_notify($5, $1)`,
          [tenant, sub.id, JSON.stringify(sub), periodicNext(sub), SUBSCRIPTIONS_CHANNEL],
        );
      } catch (err) {
        if (err instanceof HubError && err.code === 'AlreadyExists')
          throw new HubError('AlreadyExists', `Subscription ${sub.id} already exists`, { cause: err });
        throw err;
      }
    },
    async get(tenant, id) {
      const r = await run<SubscriptionRow>(
        `SELECT ${SUB_COLUMNS} FROM subscriptions WHERE tenant = $1 AND id = $2`,
        [tenant, id],
      );
      const row = r.rows[0];
      return row ? toStored(row) : undefined;
    },
    async list(tenant, limit, offset, ownerId) {
      const own = ownerId === undefined ? '' : `AND doc->'owner'->>'id' = $4`;
      const params: unknown[] = [tenant, limit, offset];
      if (ownerId !== undefined) params.push(ownerId);
      const r = await run<SubscriptionRow & { total: string }>(
        `SELECT ${SUB_COLUMNS}, count(*) OVER () AS total FROM subscriptions WHERE tenant = $1 ${own}
         ORDER BY doc->>'createdAt', id LIMIT $2 OFFSET $3`,
        params,
      );
      let count = Number(r.rows[0]?.total ?? 0);
      if (r.rows.length === 0 && offset > 0) {
        const c = await run<{ n: string }>(
          `SELECT count(*) AS n FROM subscriptions WHERE tenant = $1 ${own.replace('$4', '$2')}`,
          ownerId === undefined ? [tenant] : [tenant, ownerId],
        );
        count = Number(c.rows[0]?.n ?? 0);
      }
      return { items: r.rows.map(toStored), count };
    },
    async replace(tenant, sub) {
      const r = await run(
        `WITH u AS (UPDATE subscriptions SET doc = $3,
            next_run_at = CASE WHEN $4::timestamptz IS NULL THEN NULL ELSE coalesce(next_run_at, $4) END
          WHERE tenant = $1 AND id = $2 RETURNING 1),
         g AS (INSERT INTO subscription_generations (tenant, generation) SELECT $1, 1 FROM u
           ON CONFLICT (tenant) DO UPDATE SET generation = subscription_generations.generation + 1 RETURNING 1)
         SELECT (SELECT count(*) FROM u) AS n, (SELECT count(*) FROM g) AS g, pg_notify($5, $1)`,
        [tenant, sub.id, JSON.stringify(sub), periodicNext(sub), SUBSCRIPTIONS_CHANNEL],
      );
      return Number((r.rows[0] as { n: string } | undefined)?.n ?? 0) > 0;
    },
    async delete(tenant, id) {
      const r = await run(
        `WITH d AS (DELETE FROM subscriptions WHERE tenant = $1 AND id = $2 RETURNING 1),
         g AS (INSERT INTO subscription_generations (tenant, generation) SELECT $1, 1 FROM d
           ON CONFLICT (tenant) DO UPDATE SET generation = subscription_generations.generation + 1 RETURNING 1)
         SELECT (SELECT count(*) FROM d) AS n, (SELECT count(*) FROM g) AS g, pg_notify($3, $1)`,
        [tenant, id, SUBSCRIPTIONS_CHANNEL],
      );
      return Number((r.rows[0] as { n: string } | undefined)?.n ?? 0) > 0;
    },
    async loadTenant(tenant) {
      // One statement: the generation and the list are read from the same snapshot.
      const r = await run<{ generation: string | null; docs: Subscription[] | null }>(
        `SELECT (SELECT generation FROM subscription_generations WHERE tenant = $1) AS generation,
                (SELECT jsonb_agg(doc) FROM subscriptions WHERE tenant = $1) AS docs`,
        [tenant],
      );
      const row = r.rows[0];
      return { generation: Number(row?.generation ?? 0), subs: row?.docs ?? [] };
    },
    async claim(opts) {
      const r = await run<ClaimRow>(
        `WITH candidates AS (
           SELECT seq FROM (
             -- The first due rows in order (the index's order, stopping early), then ranked per
             -- endpoint: ranking first would test and sort every pending row at each claim.
             SELECT f.seq, f.endpoint,
                    row_number() OVER (PARTITION BY f.endpoint ORDER BY f.next_attempt_at, f.seq) AS rn
             FROM (
               SELECT o.seq, o.endpoint, o.next_attempt_at
               FROM notification_outbox o
               WHERE o.state = 'pending' AND o.next_attempt_at <= now()
                 AND (o.lease_until IS NULL OR o.lease_until < now())
                 AND NOT (o.endpoint = ANY($5::text[]))
                 AND NOT EXISTS (
                   SELECT 1 FROM notification_outbox p
                   WHERE p.state = 'pending' AND p.tenant = o.tenant AND p.subscription_id = o.subscription_id
                     AND p.order_key = o.order_key AND p.seq < o.seq)
               ORDER BY o.next_attempt_at, o.seq
               LIMIT $2 * 4
             ) f
           ) ranked
           LEFT JOIN unnest($5::text[], $6::int[]) AS used(endpoint, n) USING (endpoint)
           WHERE rn <= $3 - coalesce(used.n, 0) LIMIT $2
         ),
         locked AS (
           SELECT o.seq FROM notification_outbox o JOIN candidates c ON c.seq = o.seq
           WHERE o.state = 'pending' AND (o.lease_until IS NULL OR o.lease_until < now())
           FOR UPDATE OF o SKIP LOCKED
         ),
         leased AS (
           UPDATE notification_outbox o
           SET lease_until = now() + make_interval(secs => $4::float8 / 1000), leased_by = $1,
               attempts = o.attempts + 1
           FROM locked l
           WHERE o.seq = l.seq
           RETURNING o.*),
         -- timesSent and lastNotification count attempts, as they start (NGSI-LD §5.2.14)
         counted AS (
           UPDATE subscriptions s SET times_sent = s.times_sent + c.n, last_notification = now()
           FROM (SELECT tenant, subscription_id, count(*) AS n FROM leased GROUP BY 1, 2) c
           WHERE s.tenant = c.tenant AND s.id = c.subscription_id
           RETURNING s.tenant, s.id, s.doc)
         SELECT o.seq, o.tenant, o.subscription_id, o.notification_id, o.order_key, o.endpoint,
                o.payload, o.attempts, o.created_at, s.doc->'notification'->'endpoint' AS target
         FROM leased o JOIN counted s ON s.tenant = o.tenant AND s.id = o.subscription_id`,
        [
          opts.owner,
          opts.limit,
          opts.perEndpoint,
          opts.leaseMs,
          opts.inFlight.map((f) => f.endpoint),
          opts.inFlight.map((f) => f.count),
        ],
      );
      return r.rows
        .map((row): ClaimedNotification => ({
          seq: row.seq,
          tenant: row.tenant,
          subscriptionId: row.subscription_id,
          notificationId: row.notification_id,
          orderKey: row.order_key,
          endpoint: row.endpoint,
          payload: row.payload,
          attempts: row.attempts,
          target: row.target,
          createdAt: iso(row.created_at),
        }))
        .sort((a, b) => Number(a.seq) - Number(b.seq));
    },
    async delivered(done, at) {
      if (done.length === 0) return;
      await run(
        `WITH d AS (DELETE FROM notification_outbox WHERE seq = ANY($1::bigint[]) RETURNING tenant, subscription_id)
         UPDATE subscriptions s SET last_success = $2
         FROM (SELECT DISTINCT tenant, subscription_id FROM d) x
         WHERE s.tenant = x.tenant AND s.id = x.subscription_id`,
        [done.map((n) => n.seq), at],
      );
    },
    async failed(n, at, error, retryAt) {
      await run(
        `WITH f AS (
           UPDATE notification_outbox SET lease_until = NULL, leased_by = NULL, last_error = $3,
             state = CASE WHEN $4::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,
             next_attempt_at = coalesce($4::timestamptz, next_attempt_at)
           WHERE seq = $1 RETURNING tenant, subscription_id),
         later AS (
           -- a failing receiver: its subscription's other notifications wait too, instead of each
           -- failing on its own
           UPDATE notification_outbox o SET next_attempt_at = greatest(o.next_attempt_at, $4::timestamptz)
           FROM f WHERE $4::timestamptz IS NOT NULL AND o.tenant = f.tenant
             AND o.subscription_id = f.subscription_id AND o.state = 'pending' AND o.seq <> $1)
         UPDATE subscriptions s SET times_failed = times_failed + 1, last_failure = $2, last_error = $3
         FROM f WHERE s.tenant = f.tenant AND s.id = f.subscription_id`,
        [n.seq, at, error.slice(0, 1000), retryAt ?? null],
      );
    },
    async outboxCounts() {
      const r = await run<{ state: string; n: string }>(
        'SELECT state, count(*) AS n FROM notification_outbox GROUP BY state',
      );
      const n = (state: string) => Number(r.rows.find((x) => x.state === state)?.n ?? 0);
      return { pending: n('pending'), failed: n('failed') };
    },
    async nextDue() {
      const r = await run<{ t: string | null }>(
        `SELECT min(next_attempt_at) AS t FROM notification_outbox WHERE state = 'pending'`,
      );
      const t = r.rows[0]?.t;
      return t ? iso(t) : undefined;
    },
    async listUndelivered(tenant, opts) {
      const params: unknown[] = [tenant, opts.limit, opts.offset];
      const where = ['tenant = $1'];
      if (opts.subscriptionId !== undefined)
        where.push(`subscription_id = $${params.push(opts.subscriptionId)}`);
      if (opts.state !== undefined) where.push(`state = $${params.push(opts.state)}`);
      const r = await run<UndeliveredRow & { total: string }>(
        `SELECT seq, tenant, subscription_id, notification_id, order_key, endpoint, state, attempts, last_error,
                created_at, next_attempt_at, count(*) OVER () AS total
         FROM notification_outbox WHERE ${where.join(' AND ')} ORDER BY seq LIMIT $2 OFFSET $3`,
        params,
      );
      return {
        count: Number(r.rows[0]?.total ?? 0),
        items: r.rows.map((row): UndeliveredNotification => ({
          seq: row.seq,
          tenant: row.tenant,
          subscriptionId: row.subscription_id,
          notificationId: row.notification_id,
          orderKey: row.order_key,
          endpoint: row.endpoint,
          state: row.state,
          attempts: row.attempts,
          lastError: row.last_error ?? undefined,
          createdAt: iso(row.created_at),
          nextAttemptAt: iso(row.next_attempt_at),
        })),
      };
    },
    async replay(tenant, opts) {
      const params: unknown[] = [tenant];
      const where = ['tenant = $1', "state = 'failed'"];
      if (opts.subscriptionId !== undefined)
        where.push(`subscription_id = $${params.push(opts.subscriptionId)}`);
      if (opts.seqs !== undefined) where.push(`seq = ANY($${params.push(opts.seqs)}::bigint[])`);
      const r = await run(
        `UPDATE notification_outbox SET state = 'pending', attempts = 0, next_attempt_at = now(), last_error = NULL
         WHERE ${where.join(' AND ')}`,
        params,
      );
      if ((r.rowCount ?? 0) > 0) await run('SELECT pg_notify($1, $2)', [OUTBOX_CHANNEL, '']);
      return r.rowCount ?? 0;
    },
    async claimPeriodic(now, limit) {
      const r = await run<SubscriptionRow>(
        `UPDATE subscriptions s SET run_lease_until = $1::timestamptz + interval '60 seconds'
         FROM (SELECT tenant, id FROM subscriptions
               WHERE next_run_at <= $1 AND (run_lease_until IS NULL OR run_lease_until < $1)
               ORDER BY next_run_at LIMIT $2 FOR UPDATE SKIP LOCKED) due
         WHERE s.tenant = due.tenant AND s.id = due.id
         RETURNING ${SUB_COLUMNS.split(', ')
           .map((c) => `s.${c}`)
           .join(', ')}`,
        [now, limit],
      );
      return r.rows.map(toStored);
    },
    async schedule(tenant, id, nextRunAt) {
      await run(
        'UPDATE subscriptions SET next_run_at = $3, run_lease_until = NULL WHERE tenant = $1 AND id = $2',
        [tenant, id, nextRunAt],
      );
    },
    async listen(channel, onMessage, onLost) {
      const client = new pg.Client({ connectionString: url });
      let closing = false;
      let lost = false;
      const gone = () => {
        if (closing || lost) return;
        lost = true;
        onLost?.();
      };
      // Owners without onLost notice through their poll fallback.
      client.on('error', gone);
      client.on('end', gone);
      await client.connect();
      client.on('notification', (m) => {
        if (m.channel === channel) onMessage(m.payload ?? '');
      });
      try {
        await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      } catch (err) {
        closing = true;
        await client.end().catch(() => undefined);
        throw err;
      }
      return {
        async close() {
          closing = true;
          await client.end().catch(() => undefined);
        },
      };
    },
  };
}

interface ClaimRow extends QueryResultRow {
  seq: string;
  tenant: string;
  subscription_id: string;
  notification_id: string;
  order_key: string;
  endpoint: string;
  payload: NotificationPayload;
  attempts: number;
  created_at: string;
  target: NotificationEndpoint;
}

interface UndeliveredRow extends QueryResultRow {
  seq: string;
  tenant: string;
  subscription_id: string;
  notification_id: string;
  order_key: string;
  endpoint: string;
  state: 'pending' | 'failed';
  attempts: number;
  last_error: string | null;
  created_at: string;
  next_attempt_at: string;
}
