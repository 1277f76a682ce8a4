/**
 * The demo city on a hub, end to end (embedded MQTT, IoT Agent, change feed): its noise sensors are
 * provisioned with a GB 3096-2008 zone and get their assessment, its water stations their
 * GB 3838-2002 class, as their first readings arrive.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type Hub } from '../../src/server/hub.js';
import { loadAirReplay } from '../../src/sim/air-replay.js';
import { startDemoCity, type DemoCity } from '../../src/sim/demo-city.js';
import { entityIdOf } from '../../src/sim/sensor-models.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

const DV = 'https://uri.etsi.org/ngsi-ld/default-context/';
let db: TestDatabase;
let hub: Hub;
let city: DemoCity;

beforeAll(async () => {
  db = await createTestDatabase();
  hub = await startHub({
    port: 0,
    host: '127.0.0.1',
    db: db.url,
    mqtt: { mode: 'embedded', port: 0, host: '127.0.0.1' },
    dashboardDir: false,
  });
  city = await startDemoCity(
    {
      entities: hub.entities,
      iot: hub.iot as NonNullable<Hub['iot']>,
      resolveContext: (v) => hub.resolveContext(v),
      mqttUrl: hub.mqttUrl as string,
    },
    { sensors: 120, seed: 5, speed: 1, incidentEveryS: 0, air: await loadAirReplay() },
  );
}, 60_000);
afterAll(async () => {
  await city?.stop();
  await hub?.stop();
  await db?.drop();
});

describe('the demo city', () => {
  it('assesses its noise sensors in their zone and classes its water stations', async () => {
    const noise = city.plan.sensors.filter((s) => s.kind === 'noise');
    const water = city.plan.sensors.filter((s) => s.kind === 'water');
    expect(noise.length).toBeGreaterThan(0);
    expect(water.length).toBeGreaterThan(0);
    const stored = (id: string) => hub.store.getEntity('', id);
    await expect
      .poll(
        async () => {
          for (const s of [...noise, ...water]) {
            const e = await stored(entityIdOf(s));
            const done =
              s.kind === 'noise' ? e?.attrs[`${DV}noiseAssessment`] : e?.attrs[`${DV}waterQualityClass`];
            if (!done) return false;
          }
          return true;
        },
        { timeout: 40_000, interval: 500 },
      )
      .toBe(true);
    for (const s of noise) {
      const e = await stored(entityIdOf(s));
      const zone = e?.attrs[`${DV}noiseZone`]?.[0]?.value;
      expect(['1', '2', '4a']).toContain(zone);
      expect(e?.attrs[`${DV}noiseAssessment`]?.[0]?.json).toMatchObject({ zone, zoneSource: 'entity' });
    }
    for (const s of water) {
      const e = await stored(entityIdOf(s));
      expect(['river', 'lake']).toContain(e?.attrs[`${DV}waterBody`]?.[0]?.value);
      expect(e?.attrs[`${DV}waterQualityClassDetails`]?.[0]?.json).toMatchObject({
        waterBodySource: 'entity',
        items: { ammoniaNitrogen: { attribute: 'NH4' }, totalPhosphorus: { attribute: 'P-TOT' } },
      });
    }
  }, 60_000);
});
