/**
 * Issue 16: the README's examples run as written. The shell blocks of its "First API calls"
 * section are taken from README.md itself and run with bash (`set -euo pipefail`; every curl has
 * -f, so an HTTP error fails the block) against a demo hub (the blocks before "A bare hub") and a
 * bare hub with --auth none (the blocks after). The only changes made to them: the hub's address
 * (the README says 127.0.0.1:1026; the tests take free ports) and the operator's password (the
 * README asks the reader to paste it). An answer `[]` fails too: every example must find data.
 * Also: the link the demo prints as its NGSI-LD example answers the demo's air-quality stations.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/citypivot.js');
/** The operator's password, as the demo's banner prints it. */
let PASSWORD = '';
const PLACEHOLDER = "'the password npm start printed'";

interface Running {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
}

function start(args: string[], env: Record<string, string>, command = [process.execPath, BIN]): Running {
  const [file, ...pre] = command as [string, ...string[]];
  const child = spawn(file, [...pre, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return { child, output: () => out };
}

async function waitFor<T>(f: () => Promise<T | undefined> | T | undefined, what: () => string, ms = 90_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function stop(r: Running | undefined): Promise<void> {
  if (!r || r.child.exitCode !== null) return;
  const exited = new Promise((resolve) => r.child.once('exit', resolve));
  r.child.kill('SIGTERM');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 15_000))]);
  r.child.kill('SIGKILL');
}

/** The README's quick start command: its first ```sh block. */
function readmeQuickStart(): string {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const from = readme.indexOf('## Quick start');
  return /```sh\n([\s\S]*?)```/.exec(readme.slice(from))?.[1]?.trim() ?? '';
}

/** What the README says the terminal prints once the demo is up (the block after "prints:"). */
function readmeBanner(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const from = readme.search(/terminal\s+prints:/);
  return (/```\n([\s\S]*?)```/.exec(readme.slice(from))?.[1] ?? '').trim().split('\n');
}

/** The ```sh blocks of the README's "First API calls" section: before and after "A bare hub". */
function readmeBlocks(): { demo: string[]; bare: string[] } {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const from = readme.indexOf('### First API calls');
  const to = readme.indexOf('\n## ', from);
  expect(from, 'README.md has a "First API calls" section').toBeGreaterThan(0);
  const section = readme.slice(from, to);
  const split = section.indexOf('**A bare hub**');
  const blocks = (text: string) => [...text.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
  return { demo: blocks(section.slice(0, split)), bare: blocks(section.slice(split)) };
}

/** Runs README blocks in one bash (variables carry over), the README's address replaced by `url`. */
function runBlocks(blocks: string[], url: string): { status: number | null; out: string; script: string } {
  const script = ['set -euo pipefail', ...blocks]
    .join('\n')
    .replaceAll('http://127.0.0.1:1026', url)
    .replaceAll(PLACEHOLDER, `'${PASSWORD}'`);
  // Each answer on a line of its own, to read them apart.
  const r = spawnSync('bash', ['-c', `curl() { command curl "$@"; echo; }\n${script}`], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}`, script };
}

let demo: Running | undefined;
let bare: Running | undefined;
let demoUrl = '';
let bareUrl = '';

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run npm run build');
  // The quick start's command (npm ci has done `npm install`), on free ports and a throwaway
  // database instead of 1026, 1883 and ./data, through the environment variables the README lists.
  const quick = readmeQuickStart();
  expect(quick).toBe('npm install && npm start');
  // `npm start` runs package.json's start script; run that script directly, so that the signals
  // that stop it reach it (npm does not pass them on reliably).
  const script = (
    JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }
  ).scripts.start;
  expect(script).toMatch(/^node \S+$/);
  demo = start(
    [],
    {
      CITYPIVOT_PORT: '0',
      CITYPIVOT_MQTT_PORT: '0',
      CITYPIVOT_DB: 'memory://',
      CITYPIVOT_DEMO_PASSWORD: '',
      CITYPIVOT_ADMIN_PASSWORD: '',
    },
    [process.execPath, join(ROOT, script.slice('node '.length))],
  );
  bare = start(['serve', '--auth', 'none', '--db', 'memory://', '--port', '0', '--no-mqtt'], {});
  const alive = (r: Running) => {
    if (r.child.exitCode !== null) throw new Error(`the hub exited: ${r.output()}`);
  };
  demoUrl = await waitFor(
    () => (alive(demo!), /Dashboard +(http:\/\/[^/\s]+)\//.exec(demo!.output())?.[1]),
    () => `the demo's banner in: ${demo!.output()}`,
  );
  PASSWORD = /Login +operator \/ (\S+)/.exec(demo.output())?.[1] ?? '';
  bareUrl = await waitFor(
    () => (alive(bare!), /NGSI-LD API at (http:\/\/[^/\s]+)/.exec(bare!.output())?.[1]),
    () => `the bare hub's ready line in: ${bare!.output()}`,
  );
  // The README says the terminal prints the banner "within a minute"; readings follow it. Wait
  // until the air-quality stations have reported, as a reader would see them.
  const login = await fetch(`${demoUrl}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'operator', password: PASSWORD }),
  });
  expect(login.status).toBe(200);
  const { access_token: token } = (await login.json()) as { access_token: string };
  await waitFor(
    async () => {
      const r = await fetch(
        `${demoUrl}/ngsi-ld/v1/temporal/entities?type=https%3A%2F%2Fsmartdatamodels.org%2FdataModel.Environment%2FAirQualityObserved&attrs=https%3A%2F%2Fsmartdatamodels.org%2FdataModel.Environment%2Fpm25&timerel=after&timeAt=2020-01-01T00:00:00Z&lastN=1&limit=1`,
        { headers: { authorization: `Bearer ${token}` } },
      );
      const body = (await r.json()) as unknown[];
      return r.status === 200 && body.length > 0 ? true : undefined;
    },
    () => `air-quality readings; the demo printed: ${demo!.output()}`,
  );
}, 180_000);

afterAll(async () => {
  await stop(demo);
  await stop(bare);
});

describe("the README's First API calls", () => {
  it('has blocks for the demo and for a bare hub', () => {
    const { demo: d, bare: b } = readmeBlocks();
    expect(d.length).toBeGreaterThanOrEqual(3);
    expect(b.length).toBeGreaterThanOrEqual(1);
    expect(d[0]).toContain(PLACEHOLDER);
  });

  it('run as written against the demo, and find data', () => {
    const r = runBlocks(readmeBlocks().demo, demoUrl);
    expect(r.status, `${r.out}\n--- script:\n${r.script}`).toBe(0);
    const answers = r.out.split('\n').filter((l) => l.trim() !== '');
    expect(answers.length, r.out).toBeGreaterThanOrEqual(5);
    for (const a of answers) {
      expect(a, r.out).not.toBe('[]');
      expect(() => JSON.parse(a) as unknown, a).not.toThrow();
    }
  });

  it('run as written against a bare hub, and find data', () => {
    const r = runBlocks(readmeBlocks().bare, bareUrl);
    expect(r.status, `${r.out}\n--- script:\n${r.script}`).toBe(0);
    const answers = r.out.split('\n').filter((l) => l.trim() !== '');
    expect(answers.length, r.out).toBeGreaterThanOrEqual(2);
    for (const a of answers) {
      expect(a, r.out).not.toBe('[]');
      expect(JSON.parse(a)).toEqual(
        expect.arrayContaining([expect.objectContaining({ id: 'urn:ngsi-ld:AirQualityObserved:zz-001' })]),
      );
    }
  });
});

describe('the quick start', () => {
  it("prints what the README shows (the operator's password generated)", () => {
    const shown = readmeBanner();
    expect(shown.length, 'README.md shows the banner').toBe(3);
    const out = demo!.output();
    expect(out).toContain(shown[0]!);
    expect(out).toContain(shown[1]!.replace('http://127.0.0.1:1026/', `${demoUrl}/`));
    expect(out).toMatch(/^ {2}Login {7}operator \/ \S{12,}$/m);
    expect(PASSWORD.length).toBeGreaterThanOrEqual(12);
  });
});

describe("the demo's banner", () => {
  it('prints an NGSI-LD link that answers the air-quality stations (with a token)', async () => {
    const link = /NGSI-LD +(http:\/\/\S+)/.exec(demo!.output())?.[1];
    expect(link, demo!.output()).toBeDefined();
    const login = await fetch(`${demoUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'operator', password: PASSWORD }),
    });
    const { access_token: token } = (await login.json()) as { access_token: string };
    const r = await fetch(link!, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { type: string }[];
    expect(body.length).toBeGreaterThan(0);
  });
});
