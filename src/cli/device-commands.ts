/**
 * `citypivot devices import FILE [--service S] [--servicepath P] [--db SETTING]`: bulk
 * provisioning from a JSON file (`{"devices": […]}` or an array, IoT Agent device shapes) or a CSV
 * file (one device per row, see docs/iot.md), in chunks, with a progress bar. Devices go through
 * the same provisioning service as POST /iot/devices, so their entities and history follow.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { parse as parseCsv } from 'csv-parse/sync';
import { HubError } from '../core/errors.js';
import { isPlainObject } from '../core/validation.js';
import { createHubServices } from '../server/hub-services.js';
import { openDatabase } from '../store/database-setting.js';
import { createPostgresIotRegistry } from '../iot/postgres-iot.js';
import { createPostgresStore } from '../store/postgres-store.js';
import { openPool } from '../store/database.js';
import { UsageError } from './config.js';

const CHUNK = 100;

/** Runs `devices …`; returns the exit code (0 all imported, 1 some failed). */
export async function devicesCommand(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const [sub, file, ...extra] = parsed.positionals;
  if (sub !== 'import' || !file || extra.length > 0) throw new UsageError('devices: use devices import FILE');
  const service = parsed.values.service ?? process.env.CITYPIVOT_SERVICE ?? '';
  if (service !== '' && !/^[A-Za-z0-9_-]{1,64}$/.test(service))
    throw new UsageError('--service: letters, digits, - and _ only, at most 64');
  const servicePath = parsed.values.servicepath ?? '/';
  const db = parsed.values.db ?? (process.env.CITYPIVOT_DB || './data');
  const devices = await readDevices(file);
  if (devices.length === 0) throw new Error(`${file} holds no devices`);

  const database = await openDatabase(db);
  let failed = 0;
  try {
    const pool = openPool({ url: database.url, max: 5 });
    try {
      const store = await createPostgresStore({ url: database.url, pool });
      const registry = createPostgresIotRegistry(pool);
      const services = await createHubServices(store, { fetchContexts: false, iot: { registry } });
      const iot = services.iot;
      if (!iot) throw new Error('The IoT services did not start');
      const bar = new cliProgress.SingleBar(
        {
          format: 'devices [{bar}] {value}/{total} {failed} failed',
          stream: process.stderr,
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(devices.length, 0, { failed: 0 });
      const errors: string[] = [];
      for (let i = 0; i < devices.length; i += CHUNK) {
        const chunk = devices.slice(i, i + CHUNK);
        try {
          await iot.provisioning.createDevices(service, servicePath, { devices: chunk });
        } catch (err) {
          if (!(err instanceof HubError)) throw err;
          // One bad device must not sink its chunk: provision them one by one to tell which.
          for (const d of chunk) {
            try {
              await iot.provisioning.createDevices(service, servicePath, { devices: [d] });
            } catch (e) {
              if (!(e instanceof HubError)) throw e;
              failed++;
              const id = isPlainObject(d) ? String(d.device_id) : '?';
              errors.push(`${id}: ${e.message.replace(/^devices\[0\]:?\s*/, '')}`);
            }
          }
        }
        bar.update(Math.min(i + CHUNK, devices.length), { failed });
      }
      bar.stop();
      await services.stop();
      await services.app.close();
      for (const e of errors.slice(0, 20)) console.error(`  ${e}`);
      if (errors.length > 20) console.error(`  … and ${errors.length - 20} more`);
      console.log(
        `Imported ${devices.length - failed} of ${devices.length} devices into service ${JSON.stringify(service)} ${servicePath}`,
      );
    } finally {
      await pool.end();
    }
  } finally {
    await database.stop();
  }
  return failed === 0 ? 0 : 1;
}

const OPTIONS = {
  service: { type: 'string' },
  servicepath: { type: 'string' },
  db: { type: 'string' },
} as const;

/** Reads the devices of a .json or .csv file; throws with the file name for unreadable input. */
export async function readDevices(file: string): Promise<unknown[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`Cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  const ext = extname(file).toLowerCase();
  if (ext === '.json') {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new Error(`${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
    if (Array.isArray(doc)) return doc;
    if (isPlainObject(doc) && Array.isArray(doc.devices)) return doc.devices as unknown[];
    throw new Error(`${file}: expected {"devices": [...]} or an array of devices`);
  }
  if (ext === '.csv') {
    let rows: Record<string, string>[];
    try {
      rows = parseCsv<Record<string, string>>(text, { columns: true, skip_empty_lines: true, trim: true });
    } catch (err) {
      throw new Error(`${file} is not valid CSV: ${(err as Error).message}`, { cause: err });
    }
    return rows.map((row, i) => csvDevice(row, `${file} line ${i + 2}`));
  }
  throw new UsageError(`${file}: use a .json or .csv file`);
}

/**
 * One CSV row as a device: columns device_id, entity_name, entity_type, apikey, protocol,
 * payload_format, expected_interval, attributes (`object_id:name:type` separated by `;`, or a
 * JSON array), commands (names separated by `;`), static_attributes (a JSON array), password
 * (the device's MQTT secret, at least 16 characters; only its hash is kept). Empty cells are left
 * out.
 */
export function csvDevice(row: Record<string, string>, where: string): Record<string, unknown> {
  const d: Record<string, unknown> = {};
  for (const key of [
    'device_id',
    'entity_name',
    'entity_type',
    'apikey',
    'protocol',
    'payload_format',
    'password',
  ] as const) {
    if (row[key]) d[key] = row[key];
  }
  if (row.expected_interval) d.expected_interval = Number(row.expected_interval);
  const json = (v: string, col: string): unknown => {
    try {
      return JSON.parse(v);
    } catch {
      throw new Error(`${where}: ${col} is not valid JSON`);
    }
  };
  if (row.attributes) {
    d.attributes = row.attributes.trim().startsWith('[')
      ? json(row.attributes, 'attributes')
      : row.attributes.split(';').map((spec) => {
          const [objectId, name, type] = spec.split(':').map((s) => s.trim());
          if (!objectId || !name || !type) throw new Error(`${where}: attributes need object_id:name:type;…`);
          return { object_id: objectId, name, type };
        });
  }
  if (row.commands)
    d.commands = row.commands.split(';').map((name) => ({ name: name.trim(), type: 'command' }));
  if (row.static_attributes) d.static_attributes = json(row.static_attributes, 'static_attributes');
  return d;
}
