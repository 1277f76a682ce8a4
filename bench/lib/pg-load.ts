/**
 * Baseline load on PostgreSQL: a bare `pg` client running a plan's statements from `concurrency`
 * loops over one pool, in a child process pinned to the server CPU (where the hub would run).
 */
import { join } from 'node:path';
import type pg from 'pg';
import { runChild, type PlanRef } from './child-process.js';
import { COMPILED_LIB_DIR } from './paths.js';

/** What a plan factory returns, inside the pg child. */
export interface PgPlan {
  /** The statement number `seq` (0, 1, 2… over all loops). */
  query(seq: number): { text: string; values?: unknown[] };
  /** Told each result. */
  onResult?(seq: number, result: pg.QueryResult): void;
  /** Sent back to the parent as `summary`. */
  summary?(): unknown;
}

/** Builds a plan; `pool` is open on the database, for loading what the statements need. */
export type PgPlanFactory<A> = (args: A, pool: pg.Pool) => PgPlan | Promise<PgPlan>;

export interface PgLoadOptions {
  databaseUrl: string;
  /** Statements in flight at once. */
  concurrency: number;
  /** Connections in the pool; default: `concurrency`. */
  poolSize?: number;
  seconds?: number;
  /** Total statements instead of a duration. */
  amount?: number;
  plan: PlanRef;
}

export interface PgLoadResult {
  ok: number;
  errors: number;
  firstError?: string;
  seconds: number;
  /** ok / seconds */
  rate: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  summary?: unknown;
}

export function pgLoad(opts: PgLoadOptions): Promise<PgLoadResult> {
  return runChild<PgLoadResult>('server', join(COMPILED_LIB_DIR, 'pg-load-child.js'), opts);
}
