/**
 * Issue 8: the operations dashboard in a real browser (Debian's Chromium through playwright-core),
 * served by `citypivot demo` on a test database: the login refuses a wrong password and accepts
 * the operator's, the map draws the city's districts, roads and sensors (asked of MapLibre itself),
 * a live value changes on screen, the entity explorer draws a history chart from the temporal
 * API, the device list shows health and counters, the language switches. Screenshots go to
 * test-results/ (kept by CI as artifacts).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { startDemoProcess, type DemoProcess } from '../support/demo-process.js';

const CHROMIUM = process.env.CITYPIVOT_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = join(import.meta.dirname, '../../test-results');
const PASSWORD = 'Demo-browser-pass-2026';

/** What the tests ask of the page's MapLibre map (window.citypivotMap). */
interface BrowserMap {
  loaded(): boolean;
  queryRenderedFeatures(o: { layers: string[] }): { properties: Record<string, unknown> }[];
}

let db: TestDatabase;
let demo: DemoProcess;
let browser: Browser;
let page: Page;

describe.skipIf(!existsSync(CHROMIUM))('the dashboard in Chromium', () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    db = await createTestDatabase();
    demo = await startDemoProcess(['--db', db.url, '--sensors', '80', '--incident-every', '0'], {
      CITYPIVOT_DEMO_PASSWORD: PASSWORD,
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // WebGL for MapLibre on machines without a GPU: SwiftShader, in software.
      args: ['--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--no-sandbox'],
    });
    page = await browser.newPage({ viewport: { width: 1400, height: 850 }, locale: 'en-US' });
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    if (demo) expect(await demo.stop()).toBe(0);
    await db?.drop();
  });

  it('logs in: a wrong password is refused, the operator gets the map', async () => {
    await page.goto(`${demo.url}/`);
    await page.fill('input[name=username]', 'operator');
    await page.fill('input[name=password]', 'not-the-password');
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('[role=alert]'), { timeout: 10_000 }).toMatch(/Login failed/);
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForSelector('[data-testid=city-map] canvas', { timeout: 20_000 });
  }, 60_000);

  it('draws the city: districts, roads coloured by congestion, sensors coloured by value', async () => {
    const rendered = () =>
      page.evaluate(() => {
        const m = (globalThis as unknown as { citypivotMap?: BrowserMap }).citypivotMap;
        if (!m || !m.loaded()) return { districts: 0, roads: 0, sensors: 0 };
        const n = (layer: string) => m.queryRenderedFeatures({ layers: [layer] }).length;
        return { districts: n('districts-fill'), roads: n('roads'), sensors: n('sensors') };
      });
    await expect.poll(async () => (await rendered()).roads, { timeout: 30_000 }).toBeGreaterThan(500);
    await expect.poll(async () => (await rendered()).sensors, { timeout: 30_000 }).toBeGreaterThanOrEqual(80);
    expect((await rendered()).districts).toBeGreaterThanOrEqual(9);
    // Roads with a detector take a congestion colour, the others stay grey.
    const colours = await page.evaluate(() => [
      ...new Set(
        (globalThis as unknown as { citypivotMap?: BrowserMap }).citypivotMap
          ?.queryRenderedFeatures({ layers: ['roads'] })
          .map((f) => String(f.properties.color)),
      ),
    ]);
    expect(colours).toContain('#3d4f66');
    expect(colours.length).toBeGreaterThan(1);
    await page.screenshot({ path: join(SHOTS, 'dashboard-map.png') });
  }, 90_000);

  it('shows live values changing as readings arrive', async () => {
    const first = await page.textContent('[data-testid=kpi-speed]');
    await expect.poll(() => page.textContent('[data-testid=kpi-speed]'), { timeout: 30_000 }).not.toBe(first);
    await expect
      .poll(() => page.locator('[data-testid=live-feed] li').count(), { timeout: 20_000 })
      .toBeGreaterThan(5);
    expect(await page.textContent('.feed h2')).toMatch(/live/);
  }, 60_000);

  it('explores an entity: its attributes and a history chart from the temporal API', async () => {
    await page.click('[data-testid=tab-explorer]');
    await page.waitForSelector('[data-testid=explorer-results] li button', { timeout: 15_000 });
    await page.click('[data-testid=explorer-results] li:first-child button');
    await page.waitForSelector('[data-testid=explorer-entity] table');
    // The attributes arrive after the table is drawn.
    await expect
      .poll(() => page.textContent('[data-testid=explorer-entity]'), { timeout: 15_000 })
      .toMatch(/averageVehicleSpeed/);
    await expect
      .poll(async () => Number(await page.getAttribute('[data-testid=history-chart]', 'data-points')), {
        timeout: 40_000,
      })
      .toBeGreaterThanOrEqual(2);
    expect(await page.locator('[data-testid=history-chart] canvas').count()).toBeGreaterThan(0);
    await page.screenshot({ path: join(SHOTS, 'dashboard-explorer.png') });
  }, 60_000);

  it('lists devices with health and counters, and speaks Chinese', async () => {
    await page.click('[data-testid=tab-devices]');
    await expect
      .poll(() => page.locator('[data-testid=device-table] tbody tr').count(), { timeout: 20_000 })
      .toBe(80);
    await expect
      .poll(() => page.locator('[data-testid=device-table] .health.online').count(), { timeout: 20_000 })
      .toBeGreaterThan(0);
    await page.screenshot({ path: join(SHOTS, 'dashboard-devices.png') });
    await page.click('[data-testid=lang]');
    await expect.poll(() => page.textContent('header h1')).toBe('CityPivot 城市运行中心');
    expect(await page.textContent('[data-testid=tab-devices]')).toBe('设备');
  }, 60_000);
});
