/**
 * Process, user and lock helpers of the embedded PostgreSQL server: who runs it, whether a pid is
 * still the process we think, and the per-directory lock that keeps two hubs off one cluster.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { link, readFile, realpath, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** The name of the PostgreSQL superuser and of the system user the server runs as (when root). */
export const SUPERUSER = 'postgres';

export type Log = (line: string) => void;
export interface RunAs {
  uid: number;
  gid: number;
  name: string;
}
export const HAS_PROC = existsSync('/proc/self/stat');

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;
export const tailOf = (text: string, lines: number) => text.trimEnd().split('\n').slice(-lines).join('\n');
export const errno = (err: unknown) => (err as NodeJS.ErrnoException).code;
export const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/**
 * Polls `done` every `every` ms until it is true (true) or `ms` have passed (false); rejects with
 * the signal's reason once `signal` is aborted.
 */
export async function waitUntil(
  done: () => Promise<boolean>,
  ms: number,
  every: number,
  signal?: AbortSignal,
): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    signal?.throwIfAborted();
    if (await done()) return true;
    if (Date.now() > deadline) return false;
    await sleep(every);
  }
}

/** How long the processes of an aborted command get for SIGTERM before SIGKILL. */
const ABORT_GRACE_MS = 5_000;

/**
 * Runs a command to completion; never throws (a spawn failure is exit code -1). With `signal`, the
 * command runs in a process group of its own (initdb runs postgres processes of its own), and an
 * abort stops the whole group, SIGTERM then SIGKILL; the result then comes once the group is gone.
 */
export function runProcess(
  cmd: string,
  args: string[],
  opts: { runAs?: RunAs | undefined; cwd?: string; input?: string; signal?: AbortSignal | undefined } = {},
) {
  const { signal } = opts;
  return new Promise<{ code: number; output: string }>((done) => {
    if (signal?.aborted) {
      done({ code: -1, output: 'aborted before it started' });
      return;
    }
    const child = spawn(cmd, args, {
      cwd: opts.cwd ?? '/',
      env: childEnv(),
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: signal !== undefined,
      ...asUser(opts.runAs),
    });
    let output = '';
    let aborted = false;
    const group = child.pid;
    const kill = (sig: NodeJS.Signals) => {
      if (group === undefined) return;
      try {
        process.kill(-group, sig);
      } catch {
        // the group is gone already
      }
    };
    let escalation: NodeJS.Timeout | undefined;
    const onAbort = () => {
      aborted = true;
      kill('SIGTERM');
      escalation = setTimeout(() => kill('SIGKILL'), ABORT_GRACE_MS);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (result: { code: number; output: string }) => {
      signal?.removeEventListener('abort', onAbort);
      if (!aborted || group === undefined) {
        done(result);
        return;
      }
      // The group's last processes may outlive the one we started by a moment.
      void waitUntil(() => Promise.resolve(!groupAlive(group)), ABORT_GRACE_MS, 20)
        .then((gone) => {
          if (!gone) kill('SIGKILL');
        })
        .finally(() => {
          clearTimeout(escalation);
          done(result);
        });
    };
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.stdin.on('error', () => undefined);
    child.on('error', (err) => finish({ code: -1, output: err.message }));
    child.on('close', (code) => finish({ code: code ?? -1, output }));
    child.stdin.end(opts.input ?? '');
  });
}

/** Whether a process group still has a member (a zombie counts until it is reaped). */
function groupAlive(group: number): boolean {
  try {
    process.kill(-group, 0);
    return true;
  } catch (err) {
    return errno(err) === 'EPERM';
  }
}

export function childEnv(): NodeJS.ProcessEnv {
  return { ...process.env, LC_ALL: 'C', LANG: 'C' };
}

export const asUser = (runAs: RunAs | undefined) => (runAs ? { uid: runAs.uid, gid: runAs.gid } : {});

/** Liveness of a pid (zombies count as dead), with its arguments and start time where /proc has them. */
export async function processInfo(
  pid: number,
): Promise<{ alive: boolean; args?: string[]; startTime?: string }> {
  if (!Number.isInteger(pid) || pid <= 0) return { alive: false };
  if (HAS_PROC) {
    try {
      const line = await readFile(`/proc/${pid}/stat`, 'utf8');
      const fields = line.slice(line.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z' || fields[0] === 'X') return { alive: false };
      const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      return { alive: true, args: cmdline.split('\0'), ...(fields[19] ? { startTime: fields[19] } : {}) };
    } catch {
      return { alive: false };
    }
  }
  try {
    process.kill(pid, 0);
    return { alive: true };
  } catch (err) {
    return { alive: errno(err) === 'EPERM' };
  }
}

/** Whether `pid` is a live postmaster of `clusterDir` (postmasters keep `-D dir` and chdir there). */
export async function isPostmasterOf(pid: number, clusterDir: string): Promise<boolean> {
  const info = await processInfo(pid);
  if (!info.alive || !info.args) return info.alive;
  const d = info.args.indexOf('-D');
  if (d >= 0 && info.args[d + 1] === clusterDir) return true;
  return (await realpath(`/proc/${pid}/cwd`).catch(() => '')) === clusterDir;
}

// Locks held by this process, shared by every copy of this module (test runners load it per file).
export const held = ((globalThis as unknown as Record<symbol, Map<string, string> | undefined>)[
  Symbol.for('citypivot.embedded-postgres.locks')
] ??= new Map<string, string>());

export async function lockLine(pid: number): Promise<string> {
  return `${pid} ${(await processInfo(pid)).startTime ?? ''}`;
}

/** A lock line names a live process when its pid is alive with the same start time. */
export async function lockLineAlive(line: string | undefined): Promise<boolean> {
  const [pidText, start] = (line ?? '').split(' ');
  const info = await processInfo(Number(pidText));
  return info.alive && (!start || !info.startTime || start === info.startTime);
}

/** The data directory is another live CityPivot's (its `hub.lock`). */
export class DirectoryInUseError extends Error {
  constructor(
    readonly dir: string,
    readonly pid: number,
  ) {
    super(
      `The data directory ${dir} is in use by another CityPivot (process ${pid}). Stop it first, or use another --db directory.`,
    );
    this.name = 'DirectoryInUseError';
  }
}

/**
 * Takes `hub.lock`: refused while the process that holds it lives; waits while only its watchdog
 * lives (it is stopping the server); breaks it otherwise (atomically, by renaming it aside).
 */
export async function acquireDirectoryLock(
  lockPath: string,
  dir: string,
  signal?: AbortSignal,
): Promise<void> {
  if (held.has(lockPath)) throw new Error(`The data directory ${dir} is already in use by this process.`);
  const mine = `${await lockLine(process.pid)}\n`;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await writeFile(lockPath, mine, { flag: 'wx', mode: 0o600 });
      held.set(lockPath, mine);
      return;
    } catch (err) {
      if (errno(err) !== 'EEXIST') throw err;
    }
    const text = await readFile(lockPath, 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    const [hub = '', watchdog] = text.split('\n');
    const hubPid = Number(hub.split(' ')[0]);
    // Our own pid with another start time is a previous life of this pid (containers reuse pid 1).
    if (hub === mine.trim()) throw new Error(`The data directory ${dir} is already in use by this process.`);
    if (hubPid !== process.pid && (await lockLineAlive(hub))) {
      throw new DirectoryInUseError(dir, hubPid);
    }
    if (!(await waitUntil(async () => !(await lockLineAlive(watchdog)), 90_000, 50, signal))) {
      throw new Error(
        `The PostgreSQL server of a previous CityPivot in ${dir} is still stopping; try again.`,
      );
    }
    const aside = `${lockPath}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
    if (
      !(await rename(lockPath, aside).then(
        () => true,
        () => false,
      ))
    )
      continue;
    // Another process may have broken the stale lock and taken it in between: give that one back.
    if ((await readFile(aside, 'utf8').catch(() => '')) !== text)
      await link(aside, lockPath).catch(() => undefined);
    await unlink(aside).catch(() => undefined);
  }
  throw new Error(`Could not lock the data directory ${dir}`);
}

export async function recordWatchdog(lockPath: string, watchdogPid: number): Promise<void> {
  const mine = held.get(lockPath);
  if (mine === undefined) return;
  const next = `${mine.split('\n')[0]}\n${await lockLine(watchdogPid)}\n`;
  await writeFile(`${lockPath}.tmp`, next, { mode: 0o600 });
  await rename(`${lockPath}.tmp`, lockPath);
  held.set(lockPath, next);
}

export async function releaseDirectoryLock(lockPath: string): Promise<void> {
  const mine = held.get(lockPath);
  if (mine === undefined) return;
  held.delete(lockPath);
  if ((await readFile(lockPath, 'utf8').catch(() => undefined)) === mine)
    await unlink(lockPath).catch(() => undefined);
}

/** Finds the binaries of this platform's `@embedded-postgres/<os>-<arch>` package. */
export async function userIds(name: string): Promise<RunAs | undefined> {
  const [u, g] = await Promise.all([runProcess('id', ['-u', name]), runProcess('id', ['-g', name])]);
  return u.code === 0 && g.code === 0
    ? { uid: Number(u.output.trim()), gid: Number(g.output.trim()), name }
    : undefined;
}

/** PostgreSQL refuses to run as root: as root, run it as the system user `postgres` (created if missing). */
export async function resolvePostgresUser(log: Log): Promise<RunAs | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const found = await userIds(SUPERUSER);
  if (found) return found;
  log('PostgreSQL refuses to run as root: creating the system user "postgres" to run it');
  const group =
    (await runProcess('getent', ['group', SUPERUSER])).code === 0 ? ['--gid', SUPERUSER] : ['--user-group'];
  const r = await runProcess('useradd', [
    '--system',
    ...group,
    '--home-dir',
    '/nonexistent',
    '--no-create-home',
    '--shell',
    '/usr/sbin/nologin',
    SUPERUSER,
  ]);
  const created = await userIds(SUPERUSER);
  if (created) return created;
  throw new Error(
    `PostgreSQL refuses to run as root and creating a "postgres" user failed (${tailOf(r.output, 3)}). Create one (useradd --system postgres) or run CityPivot as a non-root user.`,
  );
}

/** The first directory on the way to `path` (inclusive) that `who` cannot enter. */
export async function unreachableDir(path: string, who: RunAs): Promise<string | undefined> {
  for (let d = path; ; d = dirname(d)) {
    const st = await stat(d);
    const bit = st.uid === who.uid ? 0o100 : st.gid === who.gid ? 0o010 : 0o001;
    if ((st.mode & bit) === 0) return d;
    if (dirname(d) === d) return undefined;
  }
}

/** Reads the superuser password, or generates and stores one (mode 0600). */
