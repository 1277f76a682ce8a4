/**
 * Parking occupancy kept up to date from the change feed (`transport.parking-occupancy`), published
 * as entities and attributes so that the history and subscriptions see them:
 *
 * - each car park (`OffStreetParking`) whose `availableSpotNumber` changes gets
 *   `availableSpotTrend`: free spaces now less free spaces an hour before (its newest reading at or
 *   before that time, from the history; when it has none that old, its oldest reading of the hour,
 *   the sub-attribute `since` saying which), and `occupancy` (1 − free/total, SDM's fraction
 *   of occupied spaces) when the car park does not already state that value;
 * - each area gets a `ParkingGroup` (SDM dataModel.Parking) `urn:ngsi-ld:ParkingGroup:area-{area}`
 *   counting its on-street bays (`ParkingSpot`): `totalSpotNumber`, `availableSpotNumber` (free),
 *   `occupiedSpotNumber`, `occupancy` (occupied over bays reporting free or occupied), `areaServed`
 *   and the same `availableSpotTrend`. A bay's area is its `areaServed`, else the District whose
 *   polygon holds it (its id). Every bay change recounts the tenant's bays (a few thousand rows);
 *   a group whose counts did not change is not written again.
 *
 * `availableSpotTrend` is not a Smart Data Models term: it is written in the NGSI-LD default
 * vocabulary (a client with any context sees `availableSpotTrend`). Its own writes touch neither
 * `availableSpotNumber` of a car park nor any bay, so they do not come back to it.
 */
import type { ChangeConsumer, FeedChange } from '../core/change-feed.js';
import type { ActiveContext } from '../core/context/active-context.js';
import { HubError } from '../core/errors.js';
import type { StoredEntity } from '../core/entity-model.js';
import type { HistoryStore } from '../core/history-store.js';
import type { EntityQuery } from '../core/query/entity-query.js';
import type { QueryResult } from '../core/store.js';
import type { Position } from '../core/geo/geo-query.js';
import {
  AREA_SERVED,
  DISTRICT_TYPES,
  OFF_STREET_PARKING_TYPES,
  PARKING,
  PARKING_GROUP,
  PARKING_SPOT_TYPES,
  carParkOf,
  countByArea,
  ringsOf,
  spotOf,
  type AreaCounts,
} from './parking-data.js';
import { attributeOf, attributeIriOf } from './road-graph.js';
import { typeExprOf } from './route-networks.js';

const DEFAULT_VOCAB = 'https://uri.etsi.org/ngsi-ld/default-context/';
export const TREND = `${DEFAULT_VOCAB}availableSpotTrend`;
export const TREND_SINCE = `${DEFAULT_VOCAB}since`;
export const GROUP_ATTRS = {
  total: `${PARKING}totalSpotNumber`,
  free: `${PARKING}availableSpotNumber`,
  occupied: `${PARKING}occupiedSpotNumber`,
  occupancy: `${PARKING}occupancy`,
} as const;
const HOUR = 3_600_000;
const PAGE = 1000;
const LOCATION = 'https://uri.etsi.org/ngsi-ld/location';

export const areaGroupId = (area: string): string =>
  `urn:ngsi-ld:ParkingGroup:area-${encodeURIComponent(area)}`;

export interface ParkingOccupancyDeps {
  history: Pick<HistoryStore, 'instances'>;
  getEntity(tenant: string, id: string): Promise<StoredEntity | undefined>;
  queryEntities(tenant: string, query: EntityQuery): Promise<QueryResult>;
  create(tenant: string, body: Record<string, unknown>, ctx: ActiveContext): Promise<void>;
  merge(tenant: string, id: string, body: Record<string, unknown>, ctx: ActiveContext): Promise<void>;
  coreContext(): Promise<ActiveContext>;
  now?: () => number;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** Free spaces now less free spaces an hour before, from the history of `attr`; undefined without an earlier reading. */
export async function trendOf(
  deps: Pick<ParkingOccupancyDeps, 'history'>,
  tenant: string,
  id: string,
  attr: string,
  freeNow: number,
  at: number,
): Promise<{ change: number; since: string } | undefined> {
  const sel = { attrs: [attr], timeproperty: 'observedAt' as const };
  const usable = (r: {
    deletedAt?: string;
    datasetId?: string;
    instance: { value?: unknown };
    observedAt?: string;
  }) =>
    !r.deletedAt &&
    r.datasetId === undefined &&
    typeof r.instance.value === 'number' &&
    r.observedAt !== undefined;
  const before = (
    await deps.history.instances(tenant, [id], { ...sel, to: at - HOUR + 1 }, { lastN: 1, limit: 1 })
  ).filter(usable);
  const ref =
    before[0] ??
    (await deps.history.instances(tenant, [id], { ...sel, from: at - HOUR, to: at }, { limit: 1 })).filter(
      usable,
    )[0];
  if (!ref) return undefined;
  return {
    change: freeNow - (ref.instance.value as number),
    since: new Date(ref.observedAt as string).toISOString(),
  };
}

async function allOf(deps: ParkingOccupancyDeps, tenant: string, types: string[]): Promise<StoredEntity[]> {
  const out: StoredEntity[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const { entities } = await deps.queryEntities(tenant, {
      type: typeExprOf(types),
      orderBy: [{ column: 'id', desc: false }],
      limit: PAGE,
      offset,
      count: false,
    });
    out.push(...entities);
    if (entities.length < PAGE) return out;
  }
}

const trendAttr = (t: { change: number; since: string }, observedAt: string) => ({
  type: 'Property',
  value: t.change,
  observedAt,
  [TREND_SINCE]: { type: 'Property', value: t.since },
});

/** The change-feed consumer `transport.parking-occupancy`. */
export function parkingOccupancyConsumer(deps: ParkingOccupancyDeps): ChangeConsumer {
  const now = deps.now ?? Date.now;

  async function updateCarPark(tenant: string, id: string): Promise<void> {
    const e = await deps.getEntity(tenant, id);
    const park = e && carParkOf(e);
    const freeIri = e && attributeIriOf(e, 'availableSpotNumber', PARKING);
    if (!e || !park || park.free === undefined || !freeIri) return;
    const observedAt = new Date(park.observedAt ?? now()).toISOString();
    const body: Record<string, unknown> = {};
    const trend = await trendOf(deps, tenant, id, freeIri, park.free, Date.parse(observedAt));
    const held = e.attrs[TREND]?.[0];
    if (
      trend &&
      !(
        held?.observedAt === observedAt &&
        held.value === trend.change &&
        held.sub?.[TREND_SINCE]?.value === trend.since
      )
    )
      body[TREND] = trendAttr(trend, observedAt);
    if (park.total) {
      const occupancy = round3(1 - park.free / park.total);
      const stated = attributeOf(e, 'occupancy', PARKING)?.value;
      if (typeof stated !== 'number' || round3(stated) !== occupancy)
        body[attributeIriOf(e, 'occupancy', PARKING) ?? GROUP_ATTRS.occupancy] = {
          type: 'Property',
          value: occupancy,
          observedAt,
        };
    }
    if (Object.keys(body).length > 0) await deps.merge(tenant, id, body, await deps.coreContext());
  }

  async function updateAreas(tenant: string, at: string): Promise<void> {
    const spots = (await allOf(deps, tenant, PARKING_SPOT_TYPES)).map(spotOf);
    const districts = new Map<string, Position[][]>();
    if (spots.some((s) => !s.area && s.at))
      for (const d of await allOf(deps, tenant, DISTRICT_TYPES))
        districts.set(d.id, ringsOf(d.attrs[LOCATION]?.[0]?.value));
    for (const c of countByArea(spots, districts)) await writeGroup(tenant, c, at);
  }

  async function writeGroup(tenant: string, c: AreaCounts, at: string): Promise<void> {
    const id = areaGroupId(c.area);
    const held = await deps.getEntity(tenant, id);
    const value = (attr: string) => held?.attrs[attr]?.[0]?.value;
    if (
      held &&
      value(GROUP_ATTRS.total) === c.total &&
      value(GROUP_ATTRS.free) === c.free &&
      value(GROUP_ATTRS.occupied) === c.occupied
    )
      return;
    const observedAt = new Date(c.observedAt ?? at).toISOString();
    const reporting = c.free + c.occupied;
    const prop = (v: unknown) => ({ type: 'Property', value: v, observedAt });
    const body: Record<string, unknown> = {
      [AREA_SERVED]: { type: 'Property', value: c.area },
      [GROUP_ATTRS.total]: prop(c.total),
      [GROUP_ATTRS.free]: prop(c.free),
      [GROUP_ATTRS.occupied]: prop(c.occupied),
      ...(reporting > 0 ? { [GROUP_ATTRS.occupancy]: prop(round3(c.occupied / reporting)) } : {}),
    };
    const ctx = await deps.coreContext();
    if (held) {
      const trend = await trendOf(deps, tenant, id, GROUP_ATTRS.free, c.free, Date.parse(observedAt));
      if (trend) body[TREND] = trendAttr(trend, observedAt);
      await deps.merge(tenant, id, body, ctx);
      return;
    }
    try {
      await deps.create(tenant, { id, type: PARKING_GROUP, ...body }, ctx);
    } catch (err) {
      if (!(err instanceof HubError && err.code === 'AlreadyExists')) throw err;
      await deps.merge(tenant, id, body, ctx);
    }
  }

  const touches = (c: FeedChange, locals: string[]) =>
    c.kind !== 'updated' || c.attributes.some((a) => locals.some((l) => a.endsWith(`/${l}`)));
  const isType = (c: FeedChange, types: string[]) => c.types.some((t) => types.includes(t));

  /** A car park's or a tenant's own trouble skips it; a database failure fails the batch. */
  async function guarded(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (err) {
      if (!(err instanceof HubError && err.cause === undefined)) throw err;
    }
  }

  return {
    name: 'transport.parking-occupancy',
    types: [...OFF_STREET_PARKING_TYPES, ...PARKING_SPOT_TYPES],
    async handle(changes: FeedChange[]) {
      const carParks = new Map<string, { tenant: string; id: string }>();
      const tenants = new Map<string, string>();
      for (const c of changes) {
        if (
          isType(c, OFF_STREET_PARKING_TYPES) &&
          c.kind !== 'deleted' &&
          touches(c, ['availableSpotNumber', 'totalSpotNumber'])
        )
          carParks.set(`${c.tenant}\u0000${c.id}`, { tenant: c.tenant, id: c.id });
        if (isType(c, PARKING_SPOT_TYPES) && touches(c, ['status', 'areaServed', 'location']))
          tenants.set(c.tenant, c.at);
      }
      for (const { tenant, id } of carParks.values()) await guarded(() => updateCarPark(tenant, id));
      for (const [tenant, at] of tenants) await guarded(() => updateAreas(tenant, at));
    },
  };
}
