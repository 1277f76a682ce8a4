/**
 * `npm run bench [-- --quick] [--db SETTING] [--only a,b] [--profile]`: runs every scenario in
 * bench/scenarios/ against its baseline on one PostgreSQL server, prints the table and writes
 * bench/results/latest.json. Exit code 1 when a scenario fails (errors, lost writes); a missed
 * target is reported, not an error.
 */
import { readdir } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { openBenchServer } from './lib/bench-database.js';
import { pinningDescription } from './lib/child-process.js';
import { startHubProcess } from './lib/hub-process.js';
import { httpLoad } from './lib/http-load.js';
import { pgLoad } from './lib/pg-load.js';
import { RESULTS_DIR } from './lib/paths.js';
import { formatTable, writeResults } from './lib/report.js';
import type { BenchContext, BenchSettings, Scenario, ScenarioResult } from './lib/scenario.js';
import { startStaticServer } from './lib/static-server.js';

const USAGE = `Usage: npm run bench -- [options]
  --quick            reduced run (fewer repetitions, shorter loads, smaller dataset), under 3 minutes
  --db SETTING       PostgreSQL to use: a directory, memory:// or postgres://… (default: an embedded
                     server in a fresh temporary directory, durable)
  --only a,b         run only these scenarios
  --repetitions N    measured repetitions of each side (default 3, quick 2)
  --seconds S        seconds per measured load (default 10, quick 3)
  --entities N       size of the query/memory dataset (default 100000, quick 20000)
  --profile          hub processes write CPU profiles to bench/results/profiles/
  --list             list the scenarios`;

async function loadScenarios(): Promise<Scenario[]> {
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'scenarios');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.js')).sort();
  const out: Scenario[] = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(join(dir, f)).href)) as { scenario?: Scenario };
    if (!mod.scenario) throw new Error(`bench/scenarios/${f} exports no scenario`);
    out.push(mod.scenario);
  }
  return out.sort((a, b) => a.order - b.order || a.name.localeCompare(b.name));
}

function positive(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} needs a positive number`);
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      db: { type: 'string' },
      only: { type: 'string' },
      repetitions: { type: 'string' },
      seconds: { type: 'string' },
      entities: { type: 'string' },
      profile: { type: 'boolean' },
      list: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const all = await loadScenarios();
  if (values.list) {
    for (const s of all) console.log(`${s.name.padEnd(10)} ${s.summary}`);
    return 0;
  }
  const only = values.only?.split(',').map((s) => s.trim());
  const unknown = only?.filter((n) => !all.some((s) => s.name === n)) ?? [];
  if (unknown.length > 0) throw new Error(`Unknown scenario(s): ${unknown.join(', ')}`);
  const chosen = only ? all.filter((s) => only.includes(s.name)) : all;

  const quick = values.quick === true;
  const settings: BenchSettings = {
    quick,
    repetitions: Math.round(positive(values.repetitions, '--repetitions') ?? (quick ? 2 : 3)),
    seconds: positive(values.seconds, '--seconds') ?? (quick ? 3 : 10),
    warmupSeconds: quick ? 1 : 3,
    datasetSize: Math.round(positive(values.entities, '--entities') ?? (quick ? 20_000 : 100_000)),
    profile: values.profile === true,
  };
  const started = Date.now();
  const log = (line: string) =>
    console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${line}`);
  log(
    `CityPivot bench, ${quick ? 'QUICK run (reduced sizes: not the figures of record)' : 'full run'}: ` +
      `${settings.repetitions} repetitions x ${settings.seconds} s, dataset ${settings.datasetSize.toLocaleString('en-US')} entities`,
  );
  log(
    `machine: ${availableParallelism()} CPUs (${cpus()[0]?.model ?? 'unknown'}), node ${process.version}; ${pinningDescription()}`,
  );

  const server = await openBenchServer(values.db);
  log(
    `database: ${server.description}${server.durable ? '' : ' -- fsync is OFF: write figures are not durable'}`,
  );
  const cleanups: (() => Promise<void>)[] = [];
  const shared = new Map<string, Promise<unknown>>();
  let hubs = 0;
  const ctx: BenchContext = {
    settings,
    createDatabase: (name) => server.createDatabase(name),
    async startHub(url, opts) {
      const hub = await startHubProcess(url, settings.profile ? `hub-${++hubs}` : undefined, opts);
      cleanups.push(() => hub.stop());
      return hub;
    },
    async startStaticServer(response) {
      const s = await startStaticServer(response);
      cleanups.push(() => s.stop());
      return s;
    },
    httpLoad,
    pgLoad,
    shared<T>(key: string, build: () => Promise<T>): Promise<T> {
      let p = shared.get(key) as Promise<T> | undefined;
      if (p === undefined) {
        p = build();
        shared.set(key, p);
      }
      return p;
    },
    onCleanup: (fn) => cleanups.push(fn),
    log,
  };

  const rows: ScenarioResult[] = [];
  const failed: string[] = [];
  try {
    for (const s of chosen) {
      log(`== ${s.name}: ${s.summary}`);
      const t0 = Date.now();
      try {
        const outcome = await s.run(ctx);
        rows.push(...outcome.results);
        for (const n of outcome.notes) log(`  note: ${n}`);
      } catch (err) {
        failed.push(s.name);
        log(`  FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      }
      log(`== ${s.name} done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    }
  } finally {
    for (const fn of cleanups.reverse()) await fn().catch((err: unknown) => log(`cleanup: ${String(err)}`));
    await server.close();
  }
  const path = await writeResults(RESULTS_DIR, rows);
  console.log(`\n${formatTable(rows)}\n`);
  log(
    `${quick ? 'quick' : 'full'} run finished in ${((Date.now() - started) / 1000).toFixed(0)} s; wrote ${path}`,
  );
  if (failed.length > 0) {
    log(`scenarios that FAILED: ${failed.join(', ')}`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
