/**
 * `citypivot demo` as a real child process (the built CLI), for the end-to-end tests of the demo
 * city and the dashboard: started on a test database with free ports, stopped with SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const BIN = join(import.meta.dirname, '../../bin/citypivot.js');

export interface DemoProcess {
  url: string;
  child: ChildProcess;
  output(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

export async function startDemoProcess(
  args: string[],
  env: Record<string, string> = {},
): Promise<DemoProcess> {
  if (!existsSync(join(import.meta.dirname, '../../dist/cli/main.js')))
    throw new Error('dist/ is missing: run npm run build');
  const child = spawn(
    process.execPath,
    [BIN, 'demo', '--port', '0', '--mqtt-port', '0', '--log-level', 'error', ...args],
    {
      // A fixed test data key: nothing is written beside the repository, and a second start on
      // the same database finds the key it was written with.
      env: { ...process.env, CITYPIVOT_DATA_KEY: Buffer.alloc(32, 7).toString('base64'), ...env },
    },
  );
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 90_000;
  let url: string | undefined;
  while (!url) {
    url = /Dashboard\s+(http:\/\/\S+?)\/?\s/.exec(out)?.[1];
    if (child.exitCode !== null) throw new Error(`demo exited with ${child.exitCode}:\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`demo not ready in 90 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const base = url;
  return {
    url: base,
    child,
    output: () => out,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

export async function loginAs(url: string, username: string, password: string): Promise<string> {
  const res = await fetch(`${url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 200) throw new Error(`login ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}
