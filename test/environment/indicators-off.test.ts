/**
 * `--no-indicators`: the indicator modules (environment, transport) keep their calculators but run
 * no change-feed consumer or job, so the hub derives nothing from the readings; by default they
 * run. The consumers a hub holds are read from the feed's own table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHub, JSON_CT, type TestHub } from '../support/test-hub.js';
import { MODULES } from '../../src/server/hub-services.js';

let on: TestHub;
let off: TestHub;

beforeAll(async () => {
  [on, off] = await Promise.all([createTestHub(), createTestHub({ indicators: false })]);
});
afterAll(async () => {
  await Promise.all([on?.close(), off?.close()]);
});

/** The consumers registered in a hub's database, once its feed runner has taken them. */
async function consumers(hub: TestHub): Promise<string[]> {
  const r = await hub.pool.query<{ name: string }>('SELECT name FROM change_feed_consumers ORDER BY name');
  return r.rows.map((x) => x.name);
}

async function until(what: string, ok: () => Promise<boolean>) {
  const end = Date.now() + 20_000;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('--no-indicators', () => {
  const indicatorModules = MODULES.filter((m) => m.indicators).map((m) => m.name);

  it('names the environment and transport modules as indicator modules', () => {
    expect(indicatorModules).toEqual(expect.arrayContaining(['environment', 'transport']));
  });

  it('runs the indicator consumers by default and none without indicators', async () => {
    await until('the default hub to take its consumers', async () =>
      (await consumers(on)).some((n) => n.startsWith('environment.')),
    );
    // The hub without indicators has started its feed (same start as the other) and taken none.
    const held = await consumers(off);
    for (const name of held) expect(indicatorModules).not.toContain(name.split('.')[0]);
  });

  it('keeps the calculators', async () => {
    const res = await off.request({
      method: 'POST',
      url: '/api/v1/environment/aqi',
      headers: JSON_CT,
      payload: JSON.stringify({ concentrations: { pm25: 80 } }),
    });
    expect(res.statusCode, res.body).toBe(200);
  });
});
