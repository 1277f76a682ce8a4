/**
 * The synthetic city the scenarios write and query: sensors of two types spread over a 34 x 33 km
 * box, each with a number, a string, a point and a relationship. Deterministic per index, so that
 * the hub and its baseline see the same entities; the stored rows come from the hub's own parser.
 */
import type { StoredEntity } from '../../src/core/entity-model.js';
import { parseEntity } from '../../src/core/entity-input.js';
import type { CompiledContext } from '../../src/core/context/compile-context.js';
import { createContextResolver } from '../../src/broker/context-resolver.js';
import { loadBundledContexts } from '../../src/server/bundled-contexts.js';
import { CONTEXTS_DIR } from './paths.js';
import { seededRandom } from './stats.js';

export const CITY_TYPES = ['AirQualityObserved', 'TrafficFlowObserved'] as const;
export const STATUSES = ['ok', 'degraded', 'offline'] as const;
/** west, south, east, north (Beijing's centre). */
export const CITY_BOX = [116.2, 39.75, 116.6, 40.05] as const;
export const ID_PREFIX = 'urn:ngsi-ld:BenchSensor:';

export type NormalizedEntity = Record<string, unknown> & { id: string; type: string };

/** Entity number `i`, NGSI-LD normalized, core @context only; `prefix` makes distinct id ranges. */
export function cityEntity(i: number, prefix = ID_PREFIX): NormalizedEntity {
  const rnd = seededRandom(i + 1);
  const [w, s, e, n] = CITY_BOX;
  return {
    id: `${prefix}${i}`,
    type: CITY_TYPES[i % CITY_TYPES.length] as string,
    name: { type: 'Property', value: `Sensor ${i}` },
    temperature: {
      type: 'Property',
      value: Math.round(rnd() * 400) / 10,
      unitCode: 'CEL',
      observedAt: '2026-01-01T00:00:00.000Z',
    },
    status: { type: 'Property', value: STATUSES[Math.floor(rnd() * STATUSES.length)] },
    location: {
      type: 'GeoProperty',
      value: {
        type: 'Point',
        coordinates: [+(w + rnd() * (e - w)).toFixed(6), +(s + rnd() * (n - s)).toFixed(6)],
      },
    },
    refDevice: { type: 'Relationship', object: `urn:ngsi-ld:Device:${i}` },
  };
}

let core: Promise<CompiledContext> | undefined;

/** The hub's compiled core @context (what a request without a Link header gets). */
export function coreContext(): Promise<CompiledContext> {
  core ??= loadBundledContexts(CONTEXTS_DIR).then((bundled) => createContextResolver({ bundled }).core);
  return core;
}

/** A row of the `entities` table as the hub writes it, for baseline tables of the same shape. */
export interface EntityRow {
  tenant: string;
  id: string;
  types: string[];
  scopes: string[] | null;
  created_at: string;
  modified_at: string;
  /** jsonb, as JSON text */
  attrs: string;
  attr_names: string[];
}

/** The row the hub stores for a normalized entity created at `now` (default tenant). */
export function storedRow(body: NormalizedEntity, ctx: CompiledContext, now: string): EntityRow {
  const e: StoredEntity = parseEntity(body, ctx, { now });
  return {
    tenant: '',
    id: e.id,
    types: e.types,
    scopes: e.scopes ?? null,
    created_at: now,
    modified_at: now,
    attrs: JSON.stringify(e.attrs),
    attr_names: Object.keys(e.attrs),
  };
}

/** The columns of `entities`, in the order of {@link EntityRow}. */
export const ENTITY_ROW_COLUMNS = 'tenant, id, types, scopes, created_at, modified_at, attrs, attr_names';

/** `CREATE TABLE name (LIKE entities INCLUDING ALL)`: same columns, keys and indexes, nothing else. */
export function baselineTableSql(name: string): string {
  return `CREATE TABLE ${name} (LIKE entities INCLUDING ALL)`;
}

/** The expanded IRIs the hand-written SQL needs, from the hub's core context. */
export interface CityIris {
  temperature: string;
  status: string;
  location: string;
  types: Record<string, string>;
}

export async function cityIris(): Promise<CityIris> {
  const core = await coreContext();
  return {
    temperature: core.expand('temperature'),
    status: core.expand('status'),
    location: core.expand('location'),
    types: Object.fromEntries(CITY_TYPES.map((t) => [t, core.expand(t)])),
  };
}
