/**
 * `citypivot devices import` provisions devices from CSV and JSON files into a database, creating
 * their entities; a file with a bad row imports the rest and exits 1; bad usage exits 2.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { createPostgresIotRegistry } from '../../src/iot/postgres-iot.js';
import { createPostgresStore } from '../../src/store/postgres-store.js';
import { createTestDatabase } from '../support/db.js';
import type { TestDatabase } from '../support/db.js';

let db: TestDatabase;
let dir: string;
beforeAll(async () => {
  db = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'citypivot-import-'));
  vi.spyOn(console, 'log').mockImplementation(() => undefined);
  vi.spyOn(console, 'error').mockImplementation(() => undefined);
});
afterAll(async () => {
  vi.restoreAllMocks();
  await db.drop();
});

describe('devices import', () => {
  it('imports a CSV file with attributes and commands, and creates the entities', async () => {
    const rows = ['device_id,entity_type,apikey,attributes,commands,expected_interval,password'];
    for (let i = 0; i < 250; i++)
      rows.push(
        `p${i},ParkingSpot,pk,s:status:Text;o:occupancy:Number,reserve,600,${i === 7 ? 'p7-secret-0123456789' : ''}`,
      );
    const file = join(dir, 'spots.csv');
    await writeFile(file, rows.join('\n'));
    const code = await main([
      'devices',
      'import',
      file,
      '--service',
      'park',
      '--servicepath',
      '/zone1',
      '--db',
      db.url,
    ]);
    expect(code).toBe(0);
    const registry = createPostgresIotRegistry(db.pool);
    const store = await createPostgresStore({ url: db.url, pool: db.pool });
    const list = await registry.listDevices('park', '/zone1', { limit: 1, offset: 0 });
    expect(list.count).toBe(250);
    const d = await registry.getDevice('park', '/zone1', 'p7');
    expect(d).toMatchObject({
      entity_name: 'urn:ngsi-ld:ParkingSpot:p7',
      expected_interval: 600,
      attributes: [
        { object_id: 's', name: 'status', type: 'Text' },
        { object_id: 'o', name: 'occupancy', type: 'Number' },
      ],
      commands: [{ name: 'reserve', type: 'command' }],
      password_set: true,
    });
    expect(JSON.stringify(d)).not.toContain('p7-secret');
    const withSecret = await registry.devicesWithSecret('p7');
    expect(withSecret.map((x) => x.device.device_id)).toEqual(['p7']);
    expect((await registry.getDevice('park', '/zone1', 'p8'))?.password_set).toBeUndefined();
    const e = await store.getEntity('park', 'urn:ngsi-ld:ParkingSpot:p7');
    expect(e?.types).toEqual(['https://smartdatamodels.org/dataModel.Parking/ParkingSpot']);
  });

  it('imports JSON, reports the bad device and exits 1 with the others stored', async () => {
    const file = join(dir, 'meters.json');
    await writeFile(
      file,
      JSON.stringify({
        devices: [{ device_id: 'm1', entity_type: 'Meter' }, { device_id: 'bad id' }, { device_id: 'm2' }],
      }),
    );
    const code = await main(['devices', 'import', file, '--service', 'energy', '--db', db.url]);
    expect(code).toBe(1);
    const registry = createPostgresIotRegistry(db.pool);
    const list = await registry.listDevices('energy', '/', { limit: 10, offset: 0 });
    expect(list.devices.map((d) => d.device_id).sort()).toEqual(['m1', 'm2']);
  });

  it('answers bad usage and bad files with an error, not a crash', async () => {
    expect(await main(['devices', 'import'])).toBe(2);
    expect(await main(['devices', 'export', 'x.csv'])).toBe(2);
    expect(await main(['devices', 'import', join(dir, 'none.csv'), '--db', db.url])).toBe(1);
    const txt = join(dir, 'devices.txt');
    await writeFile(txt, 'x');
    expect(await main(['devices', 'import', txt, '--db', db.url])).toBe(2);
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '{"devices": [');
    expect(await main(['devices', 'import', broken, '--db', db.url])).toBe(1);
  });
});
