/**
 * What a scenario is: one file under bench/scenarios/ exporting `scenario`, run by run-bench.ts with
 * a BenchContext (database, hub processes, load generators, repetitions) and returning one row per
 * figure it measures. Every figure is a ratio to a baseline measured in the same run.
 */
import type { HubProcess } from './hub-process.js';
import type { BenchDatabase } from './bench-database.js';
import type { HttpLoadOptions, HttpLoadResult } from './http-load.js';
import type { PgLoadOptions, PgLoadResult } from './pg-load.js';
import type { StaticServer } from './static-server.js';

/** One row of the table and of bench/results/latest.json. */
export interface ScenarioResult {
  scenario: string;
  /** The hub's figure (median of the repetitions). */
  value: number;
  /** The baseline's figure from the same run (median), or null when the figure is only reported. */
  baseline: number | null;
  /** value / baseline, or null without a baseline. */
  ratio: number | null;
  /** The lowest acceptable ratio, or null when there is none. */
  target: number | null;
  /**
   * For figures where less is better and the target is absolute (an answer time): the highest
   * acceptable value, checked instead of the ratio.
   */
  maxValue?: number;
  unit: string;
}

/** A scenario's rows plus lines for the log (sizes, correctness checks, caveats). */
export interface ScenarioOutcome {
  results: ScenarioResult[];
  notes: string[];
}

export interface Scenario {
  /** Short name, used by `--only` and as the first word of its rows. */
  name: string;
  /** Position in a full run; smaller first (shared datasets are built by the first user). */
  order: number;
  /** One line for `--list` and the log. */
  summary: string;
  run(ctx: BenchContext): Promise<ScenarioOutcome>;
}

/** Run-wide settings, from the command line. */
export interface BenchSettings {
  quick: boolean;
  /** Measured repetitions of each side (hub, baseline), alternated. */
  repetitions: number;
  /** Seconds per measured load run. */
  seconds: number;
  /** Seconds of warm-up load before the first repetition of each side. */
  warmupSeconds: number;
  /** Entities of the large dataset (query, memory). */
  datasetSize: number;
  /** Hub child processes record a CPU profile into bench/results/profiles/. */
  profile: boolean;
}

export interface BenchContext {
  settings: BenchSettings;
  /** A fresh, empty database on the run's PostgreSQL server, dropped at the end of the run. */
  createDatabase(name: string): Promise<BenchDatabase>;
  /** Starts `citypivot serve` on a database in a child process pinned to the server CPU. */
  startHub(databaseUrl: string, opts?: { mqtt?: boolean }): Promise<HubProcess>;
  /** A bare node:http server in a child process pinned to the server CPU. */
  startStaticServer(response: {
    status: number;
    headers: Record<string, string>;
    body: string;
  }): Promise<StaticServer>;
  /** autocannon in a child process pinned to the load CPU. */
  httpLoad(opts: HttpLoadOptions): Promise<HttpLoadResult>;
  /** A bare pg client at a given concurrency in a child process pinned to the server CPU. */
  pgLoad(opts: PgLoadOptions): Promise<PgLoadResult>;
  /** Built once per run and shared between scenarios (e.g. the 100,000-entity dataset). */
  shared<T>(key: string, build: () => Promise<T>): Promise<T>;
  /** Registers cleanup run at the end of the run, last registered first. */
  onCleanup(fn: () => Promise<void>): void;
  log(line: string): void;
}
