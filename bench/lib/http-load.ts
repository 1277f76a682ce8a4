/**
 * HTTP load: autocannon in a child process pinned to the load CPU. What to send is either a fixed
 * request or a plan: a factory exported by a compiled module (usually the scenario file) that the
 * child imports, so that per-request paths and bodies, and response bookkeeping, live in one file.
 */
import { join } from 'node:path';
import { runChild, type PlanRef } from './child-process.js';
import { COMPILED_LIB_DIR } from './paths.js';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

/** The same request every time: built once, the cheapest for the load generator. */
export interface FixedRequest {
  method: HttpMethod;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** What a plan factory returns, inside the load child. */
export interface HttpPlan {
  method: HttpMethod;
  headers?: Record<string, string>;
  /** Path and body of request number `seq` (0, 1, 2… over all connections). */
  request(seq: number): { path: string; body?: string };
  /** Told each response; bodies are only collected when this is set. */
  onResponse?(seq: number, status: number, body: string): void;
  /** Sent back to the parent as `summary` (e.g. what was acknowledged, for verification). */
  summary?(): unknown;
}

export type HttpPlanFactory<A> = (args: A) => HttpPlan | Promise<HttpPlan>;

export interface HttpLoadOptions {
  /** Base URL, e.g. http://127.0.0.1:40123 */
  url: string;
  connections: number;
  /** Run for this long… */
  seconds?: number;
  /** …or until this many requests have been answered. */
  amount?: number;
  request: FixedRequest | PlanRef;
}

export interface HttpLoadResult {
  /** Responses with a 2xx status. */
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Wall-clock seconds of the run. */
  seconds: number;
  /** ok / seconds */
  rate: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  summary?: unknown;
}

/** Runs one load in a fresh child process and returns its figures. */
export function httpLoad(opts: HttpLoadOptions): Promise<HttpLoadResult> {
  return runChild<HttpLoadResult>('load', join(COMPILED_LIB_DIR, 'http-load-child.js'), opts);
}
