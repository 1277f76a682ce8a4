/**
 * The hub's one PostgreSQL pool and its transactions. The store, the access module and the IoT
 * module run on the pool the composition root opens here (and ends once, last); every transaction
 * is a `withTransaction`, never a BEGIN/COMMIT of its own.
 */
import pg from 'pg';

/**
 * Connections the hub opens at most, by default: what the store (10), access (4) and the IoT
 * registry (3) held when each opened a pool of its own.
 */
export const DEFAULT_POOL_SIZE = 17;

/** Longest a statement may run, by default, before it is cancelled (TooComplexQuery). */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000;

export interface PoolOptions {
  url: string;
  /** Connections at most; default {@link DEFAULT_POOL_SIZE}. */
  max?: number;
  /** Longest a statement may run before it is cancelled; default 30 s, 0 = none. */
  statementTimeoutMs?: number;
}

/** Opens a pool on the hub's database (no connection is made before the first query). */
export function openPool(opts: PoolOptions): pg.Pool {
  const timeout = opts.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.max ?? DEFAULT_POOL_SIZE,
    // A runaway regex or scan is cancelled instead of holding a connection for ever.
    ...(timeout > 0 ? { options: `-c statement_timeout=${Math.floor(timeout)}` } : {}),
  });
  pool.on('error', () => undefined); // idle client errors surface on the next query
  return pool;
}

/**
 * Runs `fn` in one transaction: BEGIN, `fn`, COMMIT; ROLLBACK when anything fails, and the error
 * (through `translate`, e.g. the store's SQLSTATE translation) is thrown again. On a pool, a
 * client is taken for the transaction and released after it; a client the caller already holds
 * (under a session lock, say) stays the caller's.
 */
export async function withTransaction<T>(
  db: pg.Pool | pg.PoolClient,
  fn: (client: pg.PoolClient) => Promise<T>,
  translate: (err: unknown) => unknown = (err) => err,
): Promise<T> {
  const pooled = db instanceof pg.Pool;
  let client: pg.PoolClient;
  try {
    client = pooled ? await db.connect() : db;
  } catch (err) {
    throw translate(err);
  }
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw translate(err);
  } finally {
    if (pooled) client.release();
  }
}
