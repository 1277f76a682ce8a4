/**
 * The hub under test: `citypivot serve` (the shipped command, from dist/) in a child process pinned
 * to the server CPU, on a database URL, with MQTT and context fetching off.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnNode } from './child-process.js';
import { HUB_BIN, RESULTS_DIR } from './paths.js';

export interface HubProcess {
  /** e.g. http://127.0.0.1:40123 */
  url: string;
  /** The embedded MQTT broker for devices, when started with `mqtt`. */
  mqttUrl?: string;
  pid: number;
  /** Peak resident set size so far (VmHWM), in MiB; NaN where /proc is missing. */
  peakRssMiB(): number;
  /** Current resident set size (VmRSS), in MiB. */
  rssMiB(): number;
  stop(): Promise<void>;
}

const READY_RE = /NGSI-LD API at (http:\/\/\S+?)\/ngsi-ld\/v1\//;
const MQTT_RE = /MQTT for devices at (mqtt:\/\/\S+)/;

function procStatusMiB(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Starts the hub; `profileName` makes it write a CPU profile to bench/results/profiles/ on stop. */
export async function startHubProcess(
  databaseUrl: string,
  profileName?: string,
  opts: { mqtt?: boolean } = {},
): Promise<HubProcess> {
  const nodeArgs: string[] = [];
  if (profileName !== undefined) {
    const dir = join(RESULTS_DIR, 'profiles');
    mkdirSync(dir, { recursive: true });
    nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${profileName}.cpuprofile`);
  }
  const args = ['serve', '--auth', 'none', '--port', '0', '--db', databaseUrl];
  args.push(...(opts.mqtt ? ['--mqtt-port', '0'] : ['--no-mqtt']));
  args.push('--no-fetch-contexts', '--log-level', 'error');
  const child = spawnNode('server', HUB_BIN, args, { nodeArgs, stdout: 'pipe' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const [url, mqttUrl] = await readyUrls(child, opts.mqtt === true);
  const pid = child.pid ?? -1;
  let stopping: Promise<void> | undefined;
  return {
    url,
    ...(mqttUrl ? { mqttUrl } : {}),
    pid,
    peakRssMiB: () => procStatusMiB(pid, 'VmHWM'),
    rssMiB: () => procStatusMiB(pid, 'VmRSS'),
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited;
      })();
      return stopping;
    },
  };
}

function readyUrls(child: ChildProcess, mqtt: boolean): Promise<[string, string | undefined]> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer) => {
      seen += chunk.toString('utf8');
      const m = READY_RE.exec(seen);
      const q = MQTT_RE.exec(seen);
      if (m?.[1] && (!mqtt || q?.[1])) {
        child.stdout?.off('data', onData);
        child.stdout?.resume(); // keep draining what the hub prints later
        child.off('exit', onExit);
        resolve([m[1], q?.[1]]);
      }
    };
    const onExit = (code: number | null) =>
      reject(new Error(`the hub exited with ${code} before it was ready; it printed:\n${seen}`));
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
  });
}
