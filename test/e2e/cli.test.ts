/**
 * The `citypivot` command as a city engineer runs it: a real process, a real socket, signals.
 * Runs the compiled CLI (npm test builds it first).
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../support/db.js';

const BIN = join(import.meta.dirname, '../../bin/citypivot.js');
let db: Awaited<ReturnType<typeof createTestDatabase>>;

beforeAll(async () => {
  if (!existsSync(join(import.meta.dirname, '../../dist/cli/main.js')))
    throw new Error('dist/ is missing: run npm run build');
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

interface Run {
  child: ChildProcessWithoutNullStreams;
  output: () => string;
  exit: Promise<number | null>;
}

function run(args: string[], env: Record<string, string> = {}): Run {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exit };
}

async function waitFor<T>(f: () => T | undefined, what: string, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('citypivot serve', () => {
  it('serves on an external PostgreSQL, answers /health, and stops cleanly on SIGTERM', async () => {
    const r = run(['serve', '--port', '0', '--no-mqtt', '--auth', 'none'], { CITYPIVOT_DB: db.url });
    try {
      const url = await waitFor(
        () => /NGSI-LD API at (http:\/\/[^/\s]+)/.exec(r.output())?.[1],
        `ready line in: ${r.output()}`,
      );
      expect(r.output()).not.toContain(db.url.split('@')[0]?.split(':')[2] ?? '\u0000'); // no password printed
      const health = await fetch(`${url}/health`);
      expect(health.status).toBe(200);
      const created = await fetch(`${url}/ngsi-ld/v1/entities`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'urn:ngsi-ld:Thing:cli', type: 'Thing', n: 1 }),
      });
      expect(created.status).toBe(201);
      r.child.kill('SIGTERM');
      expect(await r.exit).toBe(0);
    } finally {
      r.child.kill('SIGKILL');
    }
  });

  it('keeps what was written across a restart', async () => {
    const r = run(['serve', '--port', '0', '--no-mqtt', '--auth', 'none', '--db', db.url]);
    try {
      const url = await waitFor(
        () => /NGSI-LD API at (http:\/\/[^/\s]+)/.exec(r.output())?.[1],
        'ready line',
      );
      const got = await fetch(`${url}/ngsi-ld/v1/entities/urn:ngsi-ld:Thing:cli`);
      expect(got.status).toBe(200);
      r.child.kill('SIGINT');
      expect(await r.exit).toBe(0);
    } finally {
      r.child.kill('SIGKILL');
    }
  });

  it.each([
    [['serve', '--auth', 'none', '--host', '0.0.0.0'], /local development only/],
    [['serve', '--auth', 'maybe'], /--auth must be/],
    [['serve', '--bogus'], /bogus/],
    [['serve', '--port', 'x', '--auth', 'none'], /--port/],
    [['frobnicate'], /Unknown command/],
  ])('refuses %j with exit code 2 and a message', async (args, message) => {
    const r = run(args);
    expect(await r.exit).toBe(2);
    expect(r.output()).toMatch(message);
  });

  it('fails with exit code 1 and a clear message when the database cannot be reached', async () => {
    const r = run(['serve', '--auth', 'none', '--port', '0', '--db', 'postgres://nobody@127.0.0.1:1/none']);
    expect(await r.exit).toBe(1);
    expect(r.output()).toMatch(/citypivot: /);
    expect(r.output()).not.toMatch(/\n\s+at /); // no stack trace
  });
});

describe('citypivot contexts', () => {
  it('adds, lists and removes a preloaded @context, and refuses bad files', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'citypivot-ctx-'));
    try {
      const good = join(dir, 'good.jsonld');
      await writeFile(good, JSON.stringify({ '@context': { lux: 'https://example.org/lux' } }));
      const bad = join(dir, 'bad.jsonld');
      await writeFile(bad, '{ not json');
      const add = run(['contexts', 'add', 'https://example.org/ctx.jsonld', good, '--db', db.url]);
      expect(await add.exit, add.output()).toBe(0);
      const list = run(['contexts', 'list', '--db', db.url]);
      expect(await list.exit).toBe(0);
      expect(list.output()).toContain('https://example.org/ctx.jsonld');
      const badAdd = run(['contexts', 'add', 'https://example.org/x.jsonld', bad, '--db', db.url]);
      expect(await badAdd.exit).toBe(1);
      expect(badAdd.output()).toMatch(/not valid JSON/);
      const missing = run([
        'contexts',
        'add',
        'https://example.org/x.jsonld',
        join(dir, 'none.jsonld'),
        '--db',
        db.url,
      ]);
      expect(await missing.exit).toBe(1);
      expect(missing.output()).toMatch(/Cannot read/);
      const rm1 = run(['contexts', 'remove', 'https://example.org/ctx.jsonld', '--db', db.url]);
      expect(await rm1.exit).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
