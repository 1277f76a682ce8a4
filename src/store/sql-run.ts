/**
 * How a store runs a statement: through its pool, or through the client of a transaction. Its own
 * file so that the access store and the stores it is made of share it without importing each other.
 */
import type pg from 'pg';
import type { QueryResultRow } from 'pg';

export type Run = <R extends QueryResultRow>(sql: string, params?: unknown[]) => Promise<pg.QueryResult<R>>;
