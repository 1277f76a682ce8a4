/**
 * The living demo city: builds the plan into the hub (districts and road segments as entities,
 * one IoT config group per sensor kind, one provisioned device per sensor) and then plays it:
 * every sensor publishes its readings over MQTT on the IoT Agent topics, as real devices do, so
 * the demo exercises the whole path (broker, ingestion, entity service, history, subscriptions).
 * Incidents now and then: a traffic jam, a pollution episode, a sensor going silent; each jam and
 * episode is also published as an Alert entity.
 *
 * Load is bounded: readings go out at most `maxInFlight` at a time (QoS 1, acknowledged once
 * stored). When the hub writes slower than the city publishes, readings wait in per-kind queues of
 * fixed size (one slot per sensor), the kinds take turns for the free slots, and the effective
 * interval stretches; `stats().lagS` says by how much.
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { EntityService } from '../broker/entity-service.js';
import type { ActiveContext } from '../core/context/active-context.js';
import { HubError } from '../core/errors.js';
import type { StaticAttribute } from '../core/iot/device-model.js';
import type { IotService } from '../iot/iot-service.js';
import type { AirReplay } from './air-replay.js';
import {
  planCity,
  SENSOR_KINDS,
  type CityPlan,
  type RoadSegment,
  type Sensor,
  type SensorKind,
} from './city-plan.js';
import { createRandom } from './random.js';
import {
  KIND_MODELS,
  entityIdOf,
  energyUnitsOf,
  readingOf,
  roadSegmentIdOf,
  staticAttributesOf,
  type Effects,
  type SensorState,
} from './sensor-models.js';

export const DEMO_SERVICE_PATH = '/demo';
const SDM = (domain: string) => `https://smart-data-models.github.io/dataModel.${domain}/context.jsonld`;

export interface DemoHub {
  entities: EntityService;
  iot: IotService;
  /** Compiles an @context value (undefined: the core context). */
  resolveContext(value: unknown): Promise<ActiveContext>;
  /** The MQTT broker the hub listens to. */
  mqttUrl: string;
  /** Credentials of the demo's MQTT connections (a gateway's API key), when the broker wants them. */
  mqttLogin?: { username: string; password: string };
  /**
   * With authentication on: runs the provisioning as the department that owns the sensors (its
   * groups and devices are that department's, and its readings are written with its rights).
   */
  asSensorOwner?: <T>(fn: () => Promise<T>) => Promise<T>;
}

export interface DemoOptions {
  sensors: number;
  seed: number;
  /** Simulated seconds per real second (1: the city runs on the wall clock). */
  speed: number;
  air?: AirReplay;
  /** MQTT connections the sensors share; default min(8, sensors/50 + 1). */
  connections?: number;
  maxInFlight?: number;
  /** Seconds between incidents (real time, on average); 0: none. Default 90. */
  incidentEveryS?: number;
  /** Told about each setup step and incident. */
  log?: (line: string) => void;
  /** Setup progress: step name, done, total. */
  progress?: (step: string, done: number, total: number) => void;
  clock?: () => number;
}

export interface DemoStats {
  sensors: number;
  kinds: Partial<Record<SensorKind, number>>;
  published: number;
  stored: number;
  failed: number;
  inFlight: number;
  /** How far the oldest waiting reading is behind its time, seconds. */
  lagS: number;
  /** Simulated time now. */
  simTime: Date;
  activeIncidents: Incident[];
}

export interface Incident {
  kind: 'jam' | 'pollution' | 'silent';
  description: string;
  until: number;
  alertId?: string;
}

export interface DemoCity {
  plan: CityPlan;
  stats(): DemoStats;
  /** Starts an incident now (tests and the terminal use it); returns it. */
  inject(kind: Incident['kind']): Promise<Incident>;
  stop(): Promise<void>;
}

interface Slot {
  sensor: Sensor;
  ordinal: number;
  due: number;
  lastSim: number;
  state: SensorState;
}

/** Provisions the demo city into a running hub and starts its sensors. */
export async function startDemoCity(hub: DemoHub, opts: DemoOptions): Promise<DemoCity> {
  const log = opts.log ?? (() => undefined);
  const progress = opts.progress ?? (() => undefined);
  const clock = opts.clock ?? Date.now;
  const plan = planCity(opts.seed, opts.sensors);
  const rng = createRandom(opts.seed).fork('run');
  const segments = new Map(plan.segments.map((s) => [s.id, s]));

  await createBaseMap(hub, plan, progress);
  await (hub.asSensorOwner ?? ((fn) => fn()))(() => provisionDevices(hub, plan, progress));

  const started = clock();
  const simAt = (now: number) => new Date(started + (now - started) * opts.speed);

  // Incidents change what the models produce.
  const jams = new Map<string, number>(); // segment → until
  const episodes = new Map<number, number>(); // air station ordinal → until
  const silent = new Map<string, number>(); // device → until
  const incidents: Incident[] = [];
  const effects: Effects = {
    speedFactor: (seg) => ((jams.get(seg) ?? 0) > clock() ? 0.15 : 1),
    pollutionFactor: (st) => ((episodes.get(st) ?? 0) > clock() ? 3 : 1),
  };

  const connections = Math.max(1, opts.connections ?? Math.min(8, Math.floor(plan.sensors.length / 50) + 1));
  const clients: MqttClient[] = [];
  for (let i = 0; i < connections; i++)
    clients.push(
      await mqtt.connectAsync(hub.mqttUrl, {
        clientId: `citypivot-demo-${process.pid}-${i}`,
        reconnectPeriod: 1000,
        ...(hub.mqttLogin ?? {}),
      }),
    );

  // One FIFO per kind: every sensor of a kind has the same interval, so due times stay in order.
  const queues = new Map<SensorKind, Slot[]>();
  const ordinals = new Map<SensorKind, number>();
  for (const s of plan.sensors) {
    const ordinal = ordinals.get(s.kind) ?? 0;
    ordinals.set(s.kind, ordinal + 1);
    const interval = KIND_MODELS[s.kind].intervalS * 1000;
    // The first readings are spread over the first interval (the first of each kind at once).
    const slot: Slot = {
      sensor: s,
      ordinal,
      due: started + rng.next() * interval * (ordinal === 0 ? 0 : 1),
      lastSim: started,
      state: {},
    };
    const q = queues.get(s.kind) ?? [];
    q.push(slot);
    queues.set(s.kind, q);
  }
  for (const q of queues.values()) q.sort((a, b) => a.due - b.due);

  const maxInFlight = opts.maxInFlight ?? 256;
  let inFlight = 0;
  let published = 0;
  let stored = 0;
  let failed = 0;
  let next = 0;
  let stopped = false;

  const publish = (slot: Slot, now: number) => {
    const s = slot.sensor;
    const at = simAt(now);
    const payload = readingOf(s, slot.state, {
      at,
      elapsedH: Math.max(0, (at.getTime() - slot.lastSim) / 3600_000),
      rng,
      effects,
      plan,
      segments,
      ordinal: slot.ordinal,
      ...(opts.air ? { air: opts.air } : {}),
    });
    slot.lastSim = at.getTime();
    const client = clients[next++ % clients.length] as MqttClient;
    inFlight++;
    published++;
    client
      .publishAsync(`/json/${KIND_MODELS[s.kind].apikey}/${s.deviceId}/attrs`, JSON.stringify(payload), {
        qos: 1,
      })
      .then(
        () => stored++,
        () => failed++,
      )
      .finally(() => inFlight--);
  };

  // Kinds take turns, one due reading each, the turn carried from tick to tick, so that when the
  // hub cannot keep up every kind still reports (a kind with few sensors keeps close to its
  // interval) instead of the first kind taking every free slot.
  const kinds = [...queues.keys()];
  let turn = 0;
  const tick = () => {
    if (stopped || kinds.length === 0) return;
    const now = clock();
    let idle = 0; // kinds in a row with nothing due
    let budget = plan.sensors.length; // each sensor at most once per tick (silent ones publish nothing)
    while (inFlight < maxInFlight && idle < kinds.length && budget-- > 0) {
      const kind = kinds[turn] as SensorKind;
      turn = (turn + 1) % kinds.length;
      const q = queues.get(kind) as Slot[];
      const head = q[0];
      if (!head || head.due > now) {
        idle++;
        continue;
      }
      idle = 0;
      const slot = q.shift() as Slot;
      if ((silent.get(slot.sensor.deviceId) ?? 0) <= now) publish(slot, now);
      slot.due = Math.max(slot.due + KIND_MODELS[kind].intervalS * 1000, now);
      q.push(slot);
    }
  };
  const timer = setInterval(tick, 100);
  tick();

  let incidentSeq = 0;
  const runId = started.toString(36);
  const inject = async (kind: Incident['kind']): Promise<Incident> => {
    const now = clock();
    const r = rng.fork(`incident-${incidentSeq++}`);
    let incident: Incident;
    if (kind === 'jam') {
      const majors = plan.sensors.filter((s) => s.kind === 'traffic');
      if (majors.length === 0) throw new Error('No traffic detectors to jam');
      const at = r.pick(majors);
      const seg = segments.get(at.segment ?? '') as RoadSegment;
      const until = now + r.between(240, 480) * 1000;
      // The jam spreads to the segments of the same road next to it.
      for (const other of plan.segments)
        if (other.name === seg.name && near(other, seg)) jams.set(other.id, until);
      incident = { kind, until, description: `交通拥堵 traffic jam on ${seg.name} (${seg.nameEn})` };
      incident.alertId = await raiseAlert(hub, `demo-${runId}-${incidentSeq}`, {
        category: 'traffic',
        subCategory: 'trafficJam',
        severity: 'high',
        description: incident.description,
        location: at.location,
        source: entityIdOf(at),
        until,
      });
    } else if (kind === 'pollution') {
      const stations = plan.sensors.filter((s) => s.kind === 'air');
      if (stations.length === 0) throw new Error('No air-quality stations');
      const st = r.pick(stations);
      const ordinal = stations.indexOf(st);
      const until = now + r.between(360, 720) * 1000;
      episodes.set(ordinal, until);
      incident = { kind, until, description: `空气污染 pollution episode at ${st.name}` };
      incident.alertId = await raiseAlert(hub, `demo-${runId}-${incidentSeq}`, {
        category: 'environment',
        subCategory: 'airPollution',
        severity: 'medium',
        description: incident.description,
        location: st.location,
        source: entityIdOf(st),
        until,
      });
    } else {
      if (plan.sensors.length === 0) throw new Error('No sensors');
      const s = r.pick(plan.sensors);
      const until = now + (KIND_MODELS[s.kind].intervalS * 4 + r.between(60, 120)) * 1000;
      silent.set(s.deviceId, until);
      incident = { kind, until, description: `设备离线 sensor ${s.deviceId} (${s.name}) went silent` };
    }
    incidents.push(incident);
    log(`incident: ${incident.description}`);
    return incident;
  };

  const every = opts.incidentEveryS ?? 90;
  let incidentTimer: NodeJS.Timeout | undefined;
  const scheduleIncident = (first: boolean) => {
    if (every <= 0 || stopped) return;
    const delay = first ? 20_000 : rng.between(0.5, 1.5) * every * 1000;
    incidentTimer = setTimeout(() => {
      const kind = rng.pick(['jam', 'jam', 'pollution', 'silent'] as const);
      inject(kind)
        .catch((err: unknown) => log(`incident failed: ${(err as Error).message}`))
        .finally(() => scheduleIncident(false));
    }, delay);
    incidentTimer.unref();
  };
  scheduleIncident(true);

  const counts: Partial<Record<SensorKind, number>> = {};
  for (const k of SENSOR_KINDS) {
    const c = plan.sensors.filter((s) => s.kind === k).length;
    if (c > 0) counts[k] = c;
  }

  return {
    plan,
    inject,
    stats() {
      const now = clock();
      let oldest = now;
      for (const q of queues.values()) if (q[0] && q[0].due < oldest) oldest = q[0].due;
      return {
        sensors: plan.sensors.length,
        kinds: counts,
        published,
        stored,
        failed,
        inFlight,
        lagS: Math.max(0, (now - oldest) / 1000),
        simTime: simAt(now),
        activeIncidents: incidents.filter((i) => i.until > now),
      };
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      if (incidentTimer) clearTimeout(incidentTimer);
      // Readings in flight are waited for, so that an acknowledged reading is one the hub stored.
      await Promise.all(clients.map((c) => c.endAsync()));
    },
  };
}

function near(a: RoadSegment, b: RoadSegment): boolean {
  const [ax, ay] = a.coordinates[0] as [number, number];
  const [bx, by] = b.coordinates[0] as [number, number];
  return Math.abs(ax - bx) + Math.abs(ay - by) < 0.03;
}

/** Districts, road segments and energy units: entities the dashboard draws the map from (kept when present). */
async function createBaseMap(
  hub: DemoHub,
  plan: CityPlan,
  progress: (step: string, done: number, total: number) => void,
): Promise<void> {
  const core = await hub.resolveContext(undefined);
  const transport = await hub.resolveContext(SDM('Transportation'));
  const items: { body: Record<string, unknown>; ctx: ActiveContext }[] = [
    ...plan.districts.map((d) => ({
      ctx: core,
      body: {
        id: `urn:ngsi-ld:District:demo-${d.id}`,
        type: 'District',
        name: { type: 'Property', value: d.name },
        alternateName: { type: 'Property', value: d.nameEn },
        location: { type: 'GeoProperty', value: { type: 'Polygon', coordinates: [d.ring] } },
      },
    })),
    ...plan.segments.map((s) => ({
      ctx: transport,
      body: {
        id: roadSegmentIdOf(s),
        type: 'RoadSegment',
        name: { type: 'Property', value: s.name },
        alternateName: { type: 'Property', value: s.nameEn },
        roadClass: { type: 'Property', value: s.roadClass },
        totalLaneNumber: { type: 'Property', value: s.lanes * 2 },
        maximumAllowedSpeed: { type: 'Property', value: s.speedLimit, unitCode: 'KMH' },
        length: { type: 'Property', value: s.lengthM, unitCode: 'MTR' },
        areaServed: { type: 'Property', value: s.district },
        location: { type: 'GeoProperty', value: { type: 'LineString', coordinates: s.coordinates } },
      },
    })),
    // The key energy-using units the energy meters belong to (refEnergyUnit).
    ...energyUnitsOf(plan).map((body) => ({ ctx: core, body })),
  ];
  const have = await existingIds(
    hub.entities,
    items.map((i) => i.body.id as string),
  );
  const todo = items.filter((i) => !have.has(i.body.id as string));
  let done = items.length - todo.length;
  progress('city map', done, items.length);
  await inParallel(todo, 8, async (i) => {
    try {
      await hub.entities.create('', i.body, i.ctx);
    } catch (err) {
      if (!(err instanceof HubError && err.code === 'AlreadyExists')) throw err;
    }
    progress('city map', ++done, items.length);
  });
}

async function existingIds(entities: EntityService, ids: string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (let i = 0; i < ids.length; i += 1000) {
    const found = await entities.getMany('', ids.slice(i, i + 1000));
    for (const id of found.keys()) out.add(id);
  }
  return out;
}

/**
 * What the environment module reads besides the readings: a noise sensor's GB 3096-2008 zone
 * (`noiseZone`: 4a beside expressways and arterials, 交通干线; beside a street 2, mixed
 * residential–commercial, or every third 1, residential) and a water station's water body
 * (`waterBody`: every third a lake, else a river; GB 3838-2002 reads lakes by other limits).
 */
function environmentAttributesOf(s: Sensor, segments: Map<string, RoadSegment>): StaticAttribute[] {
  const n = Number(/\d+$/.exec(s.deviceId)?.[0] ?? 0);
  if (s.kind === 'noise') {
    const road = segments.get(s.segment ?? '')?.roadClass;
    const zone = road === 'expressway' || road === 'arterial' ? '4a' : n % 3 === 0 ? '1' : '2';
    return [{ name: 'noiseZone', type: 'Text', value: zone }];
  }
  if (s.kind === 'water') return [{ name: 'waterBody', type: 'Text', value: n % 3 === 0 ? 'lake' : 'river' }];
  return [];
}

/** One config group per kind and one device per sensor; what exists already is kept. */
async function provisionDevices(
  hub: DemoHub,
  plan: CityPlan,
  progress: (step: string, done: number, total: number) => void,
): Promise<void> {
  const prov = hub.iot.provisioning;
  for (const kind of SENSOR_KINDS) {
    const m = KIND_MODELS[kind];
    const group = {
      apikey: m.apikey,
      resource: '/iot/json',
      entity_type: m.entityType,
      attributes: m.attributes,
      expected_interval: m.intervalS * 3,
      autoprovision: false,
    };
    const held = await prov.listGroups(
      '',
      DEMO_SERVICE_PATH,
      { limit: 1, offset: 0 },
      { apikey: m.apikey, resource: '/iot/json' },
    );
    if (held.count > 0) await prov.updateGroup('', DEMO_SERVICE_PATH, m.apikey, '/iot/json', group);
    else await prov.createGroups('', DEMO_SERVICE_PATH, { services: [group] });
  }
  const have = new Set<string>();
  for (let offset = 0; ; offset += 1000) {
    const page = await prov.listDevices('', DEMO_SERVICE_PATH, { limit: 1000, offset });
    for (const d of page.devices) have.add(d.device_id);
    if (page.devices.length < 1000) break;
  }
  const segments = new Map(plan.segments.map((seg) => [seg.id, seg]));
  const todo = plan.sensors.filter((s) => !have.has(s.deviceId));
  let done = plan.sensors.length - todo.length;
  progress('devices', done, plan.sensors.length);
  const chunks: Sensor[][] = [];
  for (let i = 0; i < todo.length; i += 200) chunks.push(todo.slice(i, i + 200));
  await inParallel(chunks, 4, async (chunk) => {
    await prov.createDevices('', DEMO_SERVICE_PATH, {
      devices: chunk.map((s) => ({
        device_id: s.deviceId,
        entity_name: entityIdOf(s),
        entity_type: KIND_MODELS[s.kind].entityType,
        apikey: KIND_MODELS[s.kind].apikey,
        protocol: 'IoTA-JSON',
        static_attributes: [...staticAttributesOf(s), ...environmentAttributesOf(s, segments)],
      })),
    });
    done += chunk.length;
    progress('devices', done, plan.sensors.length);
  });
}

async function raiseAlert(
  hub: DemoHub,
  key: string,
  a: {
    category: string;
    subCategory: string;
    severity: string;
    description: string;
    location: [number, number];
    source: string;
    until: number;
  },
): Promise<string> {
  const id = `urn:ngsi-ld:Alert:${key}`;
  const now = new Date().toISOString();
  await hub.entities.create(
    '',
    {
      id,
      type: 'Alert',
      category: { type: 'Property', value: a.category },
      subCategory: { type: 'Property', value: a.subCategory },
      severity: { type: 'Property', value: a.severity },
      description: { type: 'Property', value: a.description },
      alertSource: { type: 'Property', value: a.source },
      dateIssued: { type: 'Property', value: { '@type': 'DateTime', '@value': now } },
      validFrom: { type: 'Property', value: { '@type': 'DateTime', '@value': now } },
      validTo: {
        type: 'Property',
        value: { '@type': 'DateTime', '@value': new Date(a.until).toISOString() },
      },
      location: { type: 'GeoProperty', value: { type: 'Point', coordinates: a.location } },
    },
    await hub.resolveContext(SDM('Alert')),
  );
  return id;
}

async function inParallel<T>(
  items: readonly T[],
  width: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let i = 0;
  const worker = async () => {
    while (i < items.length) await fn(items[i++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}
