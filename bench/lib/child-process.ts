/**
 * Child processes of the run, each pinned to one CPU where `taskset` exists: on two cores the
 * server under test (hub, bare node:http server, bare pg client) gets one CPU and the load
 * generator the other, so that neither starves the other. PostgreSQL is not pinned.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';

export type CpuRole = 'server' | 'load';

/** A load plan module reference: the export of a compiled module that a child process imports. */
export interface PlanRef {
  /** file: URL of the compiled module (use `import.meta.url` in a scenario file). */
  module: string;
  export: string;
  /** JSON-serializable arguments of the plan factory. */
  args: unknown;
}

const canPin = availableParallelism() >= 2 && spawnSync('taskset', ['-V']).status === 0;
const CPU_OF: Record<CpuRole, string> = { server: '0', load: '1' };

/** How processes are pinned, for the log. */
export function pinningDescription(): string {
  return canPin
    ? 'server processes on CPU 0, load generators on CPU 1 (taskset); PostgreSQL unpinned'
    : 'no pinning (needs taskset and two CPUs)';
}

/** Spawns `node [nodeArgs] script [args]` pinned to the CPU of `role`, with an IPC channel. */
export function spawnNode(
  role: CpuRole,
  script: string,
  args: string[] = [],
  opts: { nodeArgs?: string[]; stdout?: 'pipe' | 'inherit' } = {},
): ChildProcess {
  const argv = [...(opts.nodeArgs ?? []), script, ...args];
  const stdio = ['ignore', opts.stdout ?? 'inherit', 'inherit', 'ipc'] as const;
  // taskset execs node, so the pid is node's and the IPC descriptor is inherited.
  return canPin
    ? spawn('taskset', ['-c', CPU_OF[role], process.execPath, ...argv], { stdio: [...stdio] })
    : spawn(process.execPath, argv, { stdio: [...stdio] });
}

interface ChildMessage {
  type: 'result' | 'error' | 'ready';
  value?: unknown;
  message?: string;
}

/** Waits for the first message of `type` from a child; fails on an error message or early exit. */
export function awaitMessage<T>(child: ChildProcess, type: 'result' | 'ready'): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onMessage = (m: ChildMessage) => {
      if (m.type === 'error') finish(() => reject(new Error(m.message ?? 'child failed')));
      else if (m.type === type) finish(() => resolve(m.value as T));
    };
    const onExit = (code: number | null, signal: string | null) =>
      finish(() => reject(new Error(`child exited (${signal ?? code}) before sending ${type}`)));
    const finish = (then: () => void) => {
      child.off('message', onMessage);
      child.off('exit', onExit);
      then();
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/** Runs a one-shot child script: sends it `input`, returns its result, waits for it to exit. */
export async function runChild<T>(role: CpuRole, script: string, input: unknown): Promise<T> {
  const child = spawnNode(role, script);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const result = awaitMessage<T>(child, 'result');
  child.send(input as object);
  try {
    return await result;
  } finally {
    if (child.connected) child.disconnect();
    await exited;
  }
}

/** In a child: reads the one input message, runs `fn`, sends its result (or error) and disconnects. */
export function serveOnce<I, O>(fn: (input: I) => Promise<O>): void {
  process.once('message', (input: I) => {
    fn(input).then(
      (value) => process.send?.({ type: 'result', value }, () => process.disconnect()),
      (err: unknown) =>
        process.send?.(
          { type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) },
          () => process.disconnect(),
        ),
    );
  });
}
