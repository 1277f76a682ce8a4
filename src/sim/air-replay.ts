/**
 * Real air quality for the demo's stations: the hourly Beijing records in sim-data/air-quality
 * (Beijing Multi-Site Air-Quality Data, CC BY 4.0; sources and citation in sim-data/README.md),
 * replayed "time-shifted to now": a station reads the record of the same month, day and hour in
 * a year of the data set (2013-03 to 2017-02), stations spread over the two sites and the years so
 * that they differ, and values between two hours interpolated. Missing values (NA) take the last
 * known one.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';

export interface AirRecord {
  pm25?: number;
  pm10?: number;
  so2?: number;
  no2?: number;
  /** µg/m3 in the data set. */
  co?: number;
  o3?: number;
  temperature?: number;
  atmosphericPressure?: number;
  precipitation?: number;
  windDirection?: number;
  windSpeed?: number;
}

export interface AirSeries {
  site: string;
  /** Hours since 2013-03-01T00:00 local time (UTC+8) → record. */
  at(hourIndex: number): AirRecord;
  hours: number;
}

export interface AirReplay {
  sites: string[];
  /** The reading of station `n` at a time. */
  reading(station: number, at: Date): AirRecord;
}

const COMPASS = [
  'N',
  'NNE',
  'NE',
  'ENE',
  'E',
  'ESE',
  'SE',
  'SSE',
  'S',
  'SSW',
  'SW',
  'WSW',
  'W',
  'WNW',
  'NW',
  'NNW',
];
const FIRST_HOUR_UTC = Date.UTC(2013, 2, 1, 0) - 8 * 3600_000;
const YEARS = [2016, 2015, 2014, 2013];

/** sim-data/air-quality of this package (from dist/sim/ and src/sim/ alike). */
export function defaultAirDir(): string {
  return fileURLToPath(new URL('../../sim-data/air-quality/', import.meta.url));
}

/** Loads every PRSA_Data_*.csv (or .csv.gz) of a directory. */
export async function loadAirReplay(dir: string = defaultAirDir()): Promise<AirReplay> {
  const files = (await readdir(dir)).filter((f) => /^PRSA_Data_.*\.csv(\.gz)?$/.test(f)).sort();
  if (files.length === 0) throw new Error(`No PRSA_Data_*.csv files in ${dir}`);
  const series = await Promise.all(files.map((f) => loadSeries(join(dir, f))));
  return {
    sites: series.map((s) => s.site),
    reading(station, at) {
      const s = series[station % series.length] as AirSeries;
      const year = YEARS[Math.floor(station / series.length) % YEARS.length] as number;
      const dayShift = Math.floor(station / (series.length * YEARS.length)) * 7;
      const h = hourIndexOf(at, year, dayShift, s.hours);
      const lo = s.at(Math.floor(h));
      const hi = s.at(Math.min(s.hours - 1, Math.floor(h) + 1));
      return interpolate(lo, hi, h % 1);
    },
  };
}

/** The data set's hour for the same local month, day and hour of `at` in `year`. */
function hourIndexOf(at: Date, year: number, dayShift: number, hours: number): number {
  const local = new Date(at.getTime() + 8 * 3600_000);
  let y = year;
  // January and February of the data set belong to the following year.
  if (local.getUTCMonth() < 2) y += 1;
  if (y > 2017) y -= 4;
  const day = Math.min(local.getUTCDate(), local.getUTCMonth() === 1 ? 28 : 31);
  const shifted =
    Date.UTC(y, local.getUTCMonth(), day, local.getUTCHours(), local.getUTCMinutes()) -
    8 * 3600_000 +
    dayShift * 86_400_000;
  const h = (shifted - FIRST_HOUR_UTC) / 3600_000;
  return ((h % hours) + hours) % hours;
}

async function loadSeries(file: string): Promise<AirSeries> {
  const raw = await readFile(file);
  const text = file.endsWith('.gz') ? gunzipSync(raw) : raw;
  const rows = parse<Record<string, string>>(text, { columns: true, skip_empty_lines: true });
  const records: AirRecord[] = [];
  let last: AirRecord = {};
  for (const row of rows) {
    const r: AirRecord = {
      ...last,
      ...num('pm25', row['PM2.5']),
      ...num('pm10', row.PM10),
      ...num('so2', row.SO2),
      ...num('no2', row.NO2),
      ...num('co', row.CO),
      ...num('o3', row.O3),
      ...num('temperature', row.TEMP),
      ...num('atmosphericPressure', row.PRES),
      ...num('precipitation', row.RAIN),
      ...num('windSpeed', row.WSPM),
    };
    const wd = COMPASS.indexOf(row.wd ?? '');
    if (wd >= 0) r.windDirection = wd * 22.5;
    records.push(r);
    last = r;
  }
  const site = rows[0]?.station ?? file;
  return { site, hours: records.length, at: (i) => records[i] ?? {} };
}

function num<K extends keyof AirRecord>(key: K, text: string | undefined): Partial<AirRecord> {
  if (text === undefined || text === 'NA' || text === '') return {};
  const v = Number(text);
  return Number.isFinite(v) ? { [key]: v } : {};
}

function interpolate(a: AirRecord, b: AirRecord, t: number): AirRecord {
  const out: AirRecord = {};
  for (const k of Object.keys(a) as (keyof AirRecord)[]) {
    const x = a[k] as number;
    const y = b[k];
    out[k] = k === 'windDirection' || y === undefined ? x : x + (y - x) * t;
  }
  return out;
}
