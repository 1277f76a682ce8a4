/**
 * Issue 8: `citypivot demo` on a test database (the embedded server, or Debian's PostgreSQL 15 in
 * CI's second run): the synthetic city's sensors are provisioned through the IoT layer and publish
 * over MQTT, so every kind of sensor has live values and history through the NGSI-LD API, under
 * authentication, with the demo's operator account. A second start on the same database keeps
 * what is there. Incidents (a jam, a pollution episode) raise Alert entities and change the values.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type Hub } from '../../src/server/hub.js';
import { loadAirReplay } from '../../src/sim/air-replay.js';
import { startDemoCity, type DemoCity, type DemoOptions } from '../../src/sim/demo-city.js';
import { KIND_MODELS } from '../../src/sim/sensor-models.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { loginAs, startDemoProcess } from '../support/demo-process.js';

const PASSWORD = 'Demo-test-pass-2026';
const sdm = (domain: string) =>
  `<https://smart-data-models.github.io/dataModel.${domain}/context.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"`;
/** Each kind: its type, its SDM domain, and a measure every reading carries. */
const KINDS = [
  ['TrafficFlowObserved', 'Transportation', 'averageVehicleSpeed'],
  ['AirQualityObserved', 'Environment', 'pm25'],
  ['NoiseLevelObserved', 'Environment', 'LAeq'],
  ['ParkingSpot', 'Parking', 'status'],
  ['OffStreetParking', 'Parking', 'availableSpotNumber'],
  ['Streetlight', 'Streetlighting', 'powerState'],
  ['WaterQualityObserved', 'WaterQuality', 'pH'],
  ['ThreePhaseAcMeasurement', 'Energy', 'totalActivePower'],
] as const;

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

describe('citypivot demo', () => {
  it('runs a living city: every kind of sensor live over MQTT, with history, behind a login', async () => {
    const demo = await startDemoProcess(['--db', db.url, '--sensors', '40', '--incident-every', '0'], {
      CITYPIVOT_DEMO_PASSWORD: PASSWORD,
      CITYPIVOT_ADMIN_PASSWORD: 'Chief-test-pass-2026',
    });
    try {
      expect(demo.output()).toMatch(/Login\s+operator \/ the password in CITYPIVOT_DEMO_PASSWORD/);
      expect(demo.output()).toMatch(
        /demo city is live: 13 traffic, 1 air, 3 noise, 9 parkingSpot, 1 carPark/,
      );
      // Authentication is on: nothing without a token.
      expect((await fetch(`${demo.url}/ngsi-ld/v1/entities?type=Alert`)).status).toBe(401);
      const token = await loginAs(demo.url, 'operator', PASSWORD);
      const get = (path: string, link?: string) =>
        fetch(`${demo.url}${path}`, {
          headers: { Authorization: `Bearer ${token}`, ...(link ? { Link: link } : {}) },
        });
      for (const [type, domain, measure] of KINDS) {
        await expect
          .poll(
            async () => {
              const res = await get(
                `/ngsi-ld/v1/entities?type=${type}&options=keyValues&limit=100`,
                sdm(domain),
              );
              const list = (await res.json()) as Record<string, unknown>[];
              return list.filter((e) => e[measure] !== undefined).length;
            },
            { timeout: 60_000, interval: 500 },
          )
          .toBeGreaterThan(0);
      }
      // The map's base: districts and road segments.
      const districts = (await (
        await get('/ngsi-ld/v1/entities?type=District&limit=100')
      ).json()) as unknown[];
      expect(districts).toHaveLength(9);
      const roads = await get(
        `/ngsi-ld/v1/entities?type=RoadSegment&count=true&limit=1`,
        sdm('Transportation'),
      );
      expect(Number(roads.headers.get('ngsild-results-count'))).toBeGreaterThan(900);
      // A detector's readings are in its history, with the unit the config group maps.
      const id = 'urn:ngsi-ld:TrafficFlowObserved:demo-traffic-0001';
      await expect
        .poll(
          async () => {
            const res = await get(
              `/ngsi-ld/v1/temporal/entities/${id}?attrs=averageVehicleSpeed&timerel=after&timeAt=2020-01-01T00:00:00Z`,
              sdm('Transportation'),
            );
            const body = (await res.json()) as { averageVehicleSpeed?: unknown };
            const list = body.averageVehicleSpeed;
            return Array.isArray(list) ? list.length : list ? 1 : 0;
          },
          { timeout: 40_000, interval: 500 },
        )
        .toBeGreaterThanOrEqual(2);
      const detector = (await (
        await get(`/ngsi-ld/v1/entities/${id}`, sdm('Transportation'))
      ).json()) as Record<string, { unitCode?: string; value?: unknown }>;
      expect(detector.averageVehicleSpeed?.unitCode).toBe('KMH');
      // Devices: provisioned through the IoT layer, counted, online.
      const devices = (await (
        await fetch(`${demo.url}/iot/devices?limit=100&status=true`, {
          headers: { Authorization: `Bearer ${token}`, 'fiware-servicepath': '/demo' },
        })
      ).json()) as { count: number; devices: { readings?: { accepted: number } }[] };
      expect(devices.count).toBe(40);
      expect(demo.output()).not.toMatch(/background error|failed/i);
    } finally {
      expect(await demo.stop()).toBe(0);
    }
    // Started again on the same database: the city is kept, not provisioned twice.
    const again = await startDemoProcess(['--db', db.url, '--sensors', '40', '--incident-every', '0'], {
      CITYPIVOT_DEMO_PASSWORD: PASSWORD,
    });
    try {
      const token = await loginAs(again.url, 'operator', PASSWORD);
      const res = await fetch(`${again.url}/iot/devices?limit=1`, {
        headers: { Authorization: `Bearer ${token}`, 'fiware-servicepath': '/demo' },
      });
      expect(((await res.json()) as { count: number }).count).toBe(40);
      expect(again.output()).toMatch(/devices: 40\/40/);
    } finally {
      expect(await again.stop()).toBe(0);
    }
  }, 240_000);

  it('refuses bad knobs with a message and exit code 2', async () => {
    await expect(startDemoProcess(['--sensors', '100001'])).rejects.toThrow(
      /exited with 2[\s\S]*--sensors must be/,
    );
  });
});

describe('demo incidents', () => {
  let hub: Hub;
  let city: DemoCity;
  let stop: () => Promise<void>;
  beforeAll(async () => {
    ({ hub, city, stop } = await inProcessDemo({ sensors: 30, seed: 9 }));
  });
  afterAll(async () => {
    await stop?.();
  });

  it('raises an Alert for a jam and slows the jammed road; an episode raises one at the station', async () => {
    const jam = await city.inject('jam');
    const alert = await hub.entities.retrieve('', jam.alertId as string);
    expect(alert.types[0]).toBe('https://smartdatamodels.org/dataModel.Alert/Alert');
    const jammed = city.plan.sensors.filter(
      (s) =>
        s.kind === 'traffic' &&
        jam.description.includes(city.plan.segments.find((g) => g.id === s.segment)?.name ?? '\u0000'),
    );
    expect(jammed.length).toBeGreaterThan(0);
    const speedIri = 'https://smartdatamodels.org/dataModel.Transportation/averageVehicleSpeed';
    const anyId = `urn:ngsi-ld:TrafficFlowObserved:demo-${(jammed[0] as { deviceId: string }).deviceId}`;
    // Its detectors report a crawl within an interval (10 s).
    await expect
      .poll(
        async () => {
          const e = await hub.entities.retrieve('', anyId);
          const attr = Object.entries(e.attrs).find(
            ([k]) => k.endsWith('averageVehicleSpeed') || k === speedIri,
          )?.[1];
          return (attr?.[0] as { value?: number } | undefined)?.value ?? 999;
        },
        { timeout: 25_000, interval: 250 },
      )
      .toBeLessThan(15);
    const episode = await city.inject('pollution');
    expect((await hub.entities.retrieve('', episode.alertId as string)).id).toBe(episode.alertId);
    expect(city.stats().activeIncidents.map((i) => i.kind)).toEqual(['jam', 'pollution']);
    const silent = await city.inject('silent');
    expect(silent.alertId).toBeUndefined();
    expect(city.stats()).toMatchObject({ sensors: 30, failed: 0 });
    expect(Object.keys(KIND_MODELS)).toHaveLength(8);
  }, 60_000);
});

describe('demo under overload', () => {
  let hub: Hub;
  let city: DemoCity;
  let stop: () => Promise<void>;
  let offset = 0;
  beforeAll(async () => {
    ({ hub, city, stop } = await inProcessDemo({
      sensors: 40,
      seed: 3,
      maxInFlight: 1,
      clock: () => Date.now() + offset,
    }));
  });
  afterAll(async () => {
    await stop?.();
  });

  it('keeps every kind reporting when all sensors are overdue and one reading at a time goes out', async () => {
    const iot = hub.iot as NonNullable<Hub['iot']>;
    const acceptedByKind = async () => {
      const out = new Map<string, number>();
      for (const s of city.plan.sensors) {
        const c = await iot.counters.read({ service: '', servicePath: '/demo', deviceId: s.deviceId });
        out.set(s.kind, (out.get(s.kind) ?? 0) + (c?.accepted ?? 0));
      }
      return out;
    };
    // The first sensor of each kind reports at the start (one at a time here): wait for all of them.
    await expect
      .poll(async () => [...(await acceptedByKind()).values()].filter((n) => n > 0).length, {
        timeout: 20_000,
        interval: 250,
      })
      .toBe(Object.keys(KIND_MODELS).length);
    const before = await acceptedByKind();
    // An hour later: every sensor is overdue, and only one reading may be in flight. The first
    // readings after that take the kinds in turn: by the 16th, every kind has had its turn (the
    // first kind alone took the first 26 before the turns were kept from one tick to the next).
    offset = 3600_000;
    const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    let after = before;
    await expect
      .poll(
        async () => {
          after = await acceptedByKind();
          return total(after) - total(before);
        },
        { timeout: 30_000, interval: 50 },
      )
      .toBeGreaterThanOrEqual(16);
    const moved = [...after].filter(([k, n]) => n > (before.get(k) ?? 0)).map(([k]) => k);
    expect(moved.sort()).toEqual(Object.keys(KIND_MODELS).sort());
  }, 60_000);
});

/** A hub with the embedded broker on a fresh database, and a demo city playing on it. */
async function inProcessDemo(
  opts: Omit<DemoOptions, 'speed' | 'incidentEveryS' | 'air'>,
): Promise<{ hub: Hub; city: DemoCity; stop: () => Promise<void> }> {
  const tenantDb = await createTestDatabase();
  const hub = await startHub({
    port: 0,
    host: '127.0.0.1',
    db: tenantDb.url,
    mqtt: { mode: 'embedded', port: 0, host: '127.0.0.1' },
    dashboardDir: false,
  });
  const city = await startDemoCity(
    {
      entities: hub.entities,
      iot: hub.iot as NonNullable<Hub['iot']>,
      resolveContext: (v) => hub.resolveContext(v),
      mqttUrl: hub.mqttUrl as string,
    },
    { speed: 1, incidentEveryS: 0, air: await loadAirReplay(), ...opts },
  );
  return {
    hub,
    city,
    async stop() {
      await city.stop();
      await hub.stop();
      await tenantDb.drop();
    },
  };
}
