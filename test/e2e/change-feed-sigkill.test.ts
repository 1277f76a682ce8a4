/**
 * A change-feed consumer killed with SIGKILL in the middle of a batch: the process that takes it
 * over gets that batch again and everything after, so no change is lost or skipped, and each
 * entity's changes are first handled in the order they committed. (At least once: the changes of
 * the interrupted batch that were handled before the kill are handled twice.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createPostgresStore } from '../../src/store/postgres-store.js';
import type { Store } from '../../src/core/store.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

const CHILD = join(import.meta.dirname, '../support/feed-consumer-process.js');
const ENTITIES = 10;
const PER_ENTITY = 30;
let db: TestDatabase;
let store: Store;
let pool: pg.Pool;
const children: ChildProcess[] = [];

beforeAll(async () => {
  if (!existsSync(join(import.meta.dirname, '../../dist/broker/change-feed.js')))
    throw new Error('dist/ is missing: run npm run build');
  db = await createTestDatabase();
  store = await createPostgresStore({ url: db.url, max: 3 });
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  await pool.query('CREATE TABLE feed_seen (n bigserial PRIMARY KEY, position text, entity text, pid int)');
}, 120_000);
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await pool?.end();
  await store?.close();
  await db?.drop();
}, 120_000);

function consumerProcess(env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [CHILD, db.url], { env: { ...process.env, ...env } });
  children.push(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal ?? code)),
  );
  const said = async (line: string) => {
    const end = Date.now() + 20_000;
    while (!out.split('\n').includes(line)) {
      if (Date.now() > end) throw new Error(`no "${line}" from the consumer process: ${out}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  return { child, said, exited, output: () => out };
}

it('resumes after SIGKILL mid-batch without losing or skipping a change', async () => {
  const first = consumerProcess({ HANG_AFTER: '45' });
  await first.said('holding');
  // Writers: one transaction per change, the entities' changes interleaved.
  const writing = (async () => {
    for (let round = 0; round < PER_ENTITY; round++)
      for (let e = 0; e < ENTITIES; e++)
        await store.transaction((tx) =>
          tx.changeFeed.append([
            { tenant: 'sigkill', id: `e${e}`, kind: 'updated', types: ['T'], attributes: [`round${round}`] },
          ]),
        );
  })();
  await first.said('mid-batch');
  first.child.kill('SIGKILL');
  expect(await first.exited).toBe('SIGKILL');
  const second = consumerProcess();
  await second.said('holding');
  await writing;
  const fed = (
    await pool.query<{ position: string; entity_id: string }>(
      `SELECT key || '.' || seq || '.' || n AS position, entity_id FROM change_feed_changes
       WHERE tenant = 'sigkill' ORDER BY key, seq, n`,
    )
  ).rows;
  expect(fed).toHaveLength(ENTITIES * PER_ENTITY);
  const end = Date.now() + 60_000;
  let seen: { position: string; entity: string; pid: number }[] = [];
  for (;;) {
    seen = (await pool.query('SELECT position, entity, pid FROM feed_seen ORDER BY n')).rows;
    if (new Set(seen.map((s) => s.position)).size >= fed.length || Date.now() > end) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  second.child.kill('SIGTERM');
  await second.exited;
  // Nothing lost or skipped.
  expect(new Set(seen.map((s) => s.position))).toEqual(new Set(fed.map((f) => f.position)));
  // The interrupted batch came again: its handled part twice, all of it from the second process.
  const dup = seen.filter((s, i) => seen.findIndex((t) => t.position === s.position) !== i);
  expect(dup.length).toBeGreaterThan(0);
  expect(dup.every((d) => d.pid === second.child.pid)).toBe(true);
  expect(seen.filter((s) => s.pid === first.child.pid).length).toBeGreaterThanOrEqual(45);
  // Per entity, first handled in feed (commit) order.
  const firstSeen = seen.filter((s, i) => seen.findIndex((t) => t.position === s.position) === i);
  for (let e = 0; e < ENTITIES; e++) {
    const order = firstSeen.filter((s) => s.entity === `e${e}`).map((s) => s.position);
    expect(order).toEqual(fed.filter((f) => f.entity_id === `e${e}`).map((f) => f.position));
  }
}, 120_000);
