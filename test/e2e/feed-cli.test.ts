/**
 * `citypivot feed consumers` lists the change feed's consumers with their lag; `feed remove NAME`
 * forgets one; bad use is exit 2, an unknown consumer exit 1.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Store } from '../../src/core/store.js';
import { createPostgresStore } from '../../src/store/postgres-store.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

const BIN = join(import.meta.dirname, '../../bin/citypivot.js');
let db: TestDatabase;
let store: Store;
let cwd: string;

beforeAll(async () => {
  db = await createTestDatabase();
  store = await createPostgresStore({ url: db.url, max: 2 });
  cwd = await mkdtemp(join(tmpdir(), 'citypivot-feed-cli-'));
  await chmod(cwd, 0o755);
  const session = await store.feed.openSession();
  await session.tryHold('cases.dispatch', 'test');
  await session.close();
  await store.transaction((tx) =>
    tx.changeFeed.append([{ tenant: 't', id: 'a', kind: 'created', types: [], attributes: [] }]),
  );
});
afterAll(async () => {
  await store?.close();
  await db?.drop();
  if (cwd) await rm(cwd, { recursive: true, force: true });
});

const cli = (args: string[]) =>
  new Promise<{ code: number; out: string }>((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });

it(
  'lists the consumers with their lag, removes one, and says what went wrong',
  { timeout: 120_000 },
  async () => {
    const list = await cli(['feed', 'consumers', '--db', db.url]);
    expect(list.code, list.out).toBe(0);
    expect(list.out).toMatch(/^CONSUMER\s+LAG\s+LAG_SECONDS\s+HELD_BY\s+CURSOR_MOVED$/m);
    expect(list.out).toMatch(/^cases\.dispatch\s+1\s+\d+\.\d\s+-\s+\S+$/m);

    const removed = await cli(['feed', 'remove', 'cases.dispatch', '--db', db.url]);
    expect(removed.code, removed.out).toBe(0);
    expect(removed.out).toContain('Removed the change feed consumer cases.dispatch');
    expect(await store.feed.consumers()).toEqual([]);
    expect((await cli(['feed', 'consumers', '--db', db.url])).out).toContain('No change feed consumers.');

    const unknown = await cli(['feed', 'remove', 'cases.dispatch', '--db', db.url]);
    expect(unknown.code, unknown.out).toBe(1);
    expect(unknown.out).toContain('no change feed consumer is named "cases.dispatch"');

    for (const args of [['feed'], ['feed', 'list'], ['feed', 'remove'], ['feed', 'consumers', 'x']]) {
      const bad = await cli([...args, '--db', db.url]);
      expect(bad.code, `${args.join(' ')}: ${bad.out}`).toBe(2);
      expect(bad.out).toContain('citypivot feed --help');
    }
  },
);
