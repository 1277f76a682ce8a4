/**
 * `citypivot history …` as an operator runs it, on a database a hub has written history to:
 * retention policies set, listed, applied and removed, rollups shown and rebuilt, partitions
 * prepared, and bad input answered with a message and exit code 2. Runs the command in-process
 * (main(argv) is what bin/citypivot.js calls), so it needs no build.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { Store } from '../../src/core/store.js';
import { createHubServices } from '../../src/server/hub-services.js';
import { createPostgresStore } from '../../src/store/postgres-store.js';
import { createTestDatabase } from '../support/db.js';
import type { TestDatabase } from '../support/db.js';
import { JSON_CT, json } from '../support/test-hub.js';

const T = '/ngsi-ld/v1/temporal/entities';
const ID = 'urn:ngsi-ld:Vehicle:cli1';
const LAB = { ...JSON_CT, 'NGSILD-Tenant': 'lab' };
let db: TestDatabase;
let store: Store;
let services: Awaited<ReturnType<typeof createHubServices>>;

const iso = (msAgo: number) => new Date(Date.now() - msAgo).toISOString();
const DAY = 86_400_000;

/** Runs `citypivot history …` on the test database; returns the exit code and what it printed. */
async function history(...args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const collect = (...parts: unknown[]) => void lines.push(parts.map(String).join(' '));
  const log = vi.spyOn(console, 'log').mockImplementation(collect);
  const err = vi.spyOn(console, 'error').mockImplementation(collect);
  try {
    const code = await main(['history', ...args, '--db', db.url]);
    return { code, out: lines.join('\n') };
  } finally {
    log.mockRestore();
    err.mockRestore();
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  store = await createPostgresStore({ url: db.url, max: 4 });
  services = await createHubServices(store, { fetchContexts: false });
  const r = await services.app.inject({
    method: 'POST',
    url: T,
    headers: LAB,
    payload: {
      id: ID,
      type: 'Vehicle',
      speed: [
        { type: 'Property', value: 50, observedAt: iso(400 * DAY) },
        { type: 'Property', value: 60, observedAt: iso(3_600_000) },
      ],
      fuelLevel: [{ type: 'Property', value: 70, observedAt: iso(400 * DAY) }],
    },
  });
  expect(r.statusCode, r.body).toBe(201);
});
afterAll(async () => {
  await services.app.close();
  await store.close();
  await db.drop();
});

async function held(): Promise<{ speed: number[]; fuelLevel: number[] }> {
  const r = await services.app.inject({ method: 'GET', url: `${T}/${ID}`, headers: LAB });
  const body = json<Record<string, { value: number }[] | undefined>>(r);
  return {
    speed: (body.speed ?? []).map((i) => i.value),
    fuelLevel: (body.fuelLevel ?? []).map((i) => i.value),
  };
}

describe('citypivot history', () => {
  it('sets, lists and applies a retention policy of one attribute of one tenant', async () => {
    const set = await history('retention', 'set', '--tenant', 'lab', '--attr', 'speed', 'P30D');
    expect(set.code, set.out).toBe(0);
    expect(set.out).toContain('Retention P30D for tenant lab');
    const list = await history('retention', 'list');
    expect(list.code).toBe(0);
    expect(list.out).toMatch(
      /P30D\s+tenant=lab type=\* attr=https:\/\/uri\.etsi\.org\/ngsi-ld\/default-context\/speed/,
    );
    const apply = await history('retention', 'apply');
    expect(apply.code, apply.out).toBe(0);
    expect(apply.out).toContain('deleted 1 rows');
    // The old speed is gone; the recent one and the other attribute are kept.
    expect(await held()).toEqual({ speed: [60], fuelLevel: [70] });
  });

  it('shows and rebuilds the rollups', async () => {
    const show = await history('rollups', 'show');
    expect(show.code).toBe(0);
    expect(show.out).toMatch(/^hour\s+\d+ rows/m);
    expect(show.out).toMatch(/^minute\s+\d+ rows/m);
    const rebuild = await history('rollups', 'rebuild', '--tenant', 'lab');
    expect(rebuild.code).toBe(0);
    // Two series with one instance each, per minute and per hour.
    expect(rebuild.out).toBe('Rebuilt 4 rollup rows');
  });

  it('prepares and lists the monthly partitions', async () => {
    const r = await history('partitions', '--prepare');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/Created attribute_history_p\d{4}_\d{2}/);
    expect(r.out).toMatch(/^attribute_history_default\s+default/m);
    // The back-filled instance of 400 days ago got a partition of its own month.
    const month = iso(400 * DAY)
      .slice(0, 7)
      .replace('-', '_');
    expect(r.out).toMatch(new RegExp(`^attribute_history_p${month}\\s.*\\s1 rows$`, 'm'));
  });

  it('removes a policy, and says so when there is none', async () => {
    const r = await history('retention', 'remove', '--tenant', 'lab', '--attr', 'speed');
    expect(r).toEqual({ code: 0, out: 'Removed' });
    const again = await history('retention', 'remove', '--tenant', 'lab', '--attr', 'speed');
    expect(again.code).toBe(1);
    expect(again.out).toContain('no such retention policy');
    expect((await history('retention', 'list')).out).toContain('No retention policies');
  });

  it.each([
    [['retention', 'set', 'P1M'], 'no fixed length'],
    [['retention', 'set', 'PT30S'], 'shorter than a minute'],
    [['retention', 'set', 'soon'], 'Invalid retention'],
    [['retention', 'set'], 'needs one DURATION'],
    [['retention', 'set', '--tenant'], '--tenant needs a value'],
    [['retention', 'drop'], 'use set, list, remove, apply'],
    [['frobnicate'], 'use retention, rollups or partitions'],
  ])('refuses %j with exit code 2', async (args, message) => {
    const r = await history(...args);
    expect(r.code).toBe(2);
    expect(r.out).toContain(message);
  });
});
