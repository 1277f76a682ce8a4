/**
 * The synthetic city of `citypivot demo`: a "Zhengzhou-like" plan of nine districts, a grid of
 * arterials and streets with an expressway ring, and sensors of eight kinds placed on it. Pure and
 * deterministic: the same seed and sensor count give the same city, so demos, benchmarks and
 * tests can rebuild it at any scale. Positions are WGS84 [lon, lat].
 */
import { createRandom, type Random } from './random.js';

export type Position = [number, number];
export type RoadClass = 'expressway' | 'arterial' | 'street';

export interface District {
  id: string;
  name: string;
  nameEn: string;
  /** One closed ring that follows the arterials around it. */
  ring: Position[];
}

export interface RoadSegment {
  id: string;
  name: string;
  nameEn: string;
  roadClass: RoadClass;
  lanes: number;
  /** km/h; the free-flow speed the congestion level is measured against. */
  speedLimit: number;
  coordinates: Position[];
  lengthM: number;
  district: string;
}

export const SENSOR_KINDS = [
  'traffic',
  'air',
  'noise',
  'parkingSpot',
  'carPark',
  'streetlight',
  'water',
  'energy',
] as const;
export type SensorKind = (typeof SENSOR_KINDS)[number];

/** The share of each kind in a city of N sensors (every kind gets at least one when N allows). */
export const KIND_SHARES: Record<SensorKind, number> = {
  traffic: 0.3,
  air: 0.03,
  noise: 0.08,
  parkingSpot: 0.22,
  carPark: 0.04,
  streetlight: 0.22,
  water: 0.03,
  energy: 0.08,
};

export interface Sensor {
  kind: SensorKind;
  /** device_id: `{kind}-{n}`, unique in the demo service. */
  deviceId: string;
  name: string;
  location: Position;
  district: string;
  /** Traffic detectors: the road segment they measure. */
  segment?: string;
  /** Car parks: spaces; energy meters: the sector of the enterprise. */
  capacity?: number;
  sector?: string;
  /** Energy meters: the key energy-using unit (enterprise) they meter, 1, 2, 3… */
  unit?: number;
}

/** Energy meters per key energy-using unit (the last unit may have fewer). */
export const METERS_PER_UNIT = 3;

export interface CityPlan {
  name: string;
  center: Position;
  seed: number;
  districts: District[];
  segments: RoadSegment[];
  sensors: Sensor[];
}

const CENTER: Position = [113.6654, 34.7579];
const SPACING_M = 800;
const NX = 25; // north-south lines, west to east
const NY = 19; // east-west lines, south to north
const M_PER_DEG_LAT = 110_950;
const M_PER_DEG_LON = 111_320 * Math.cos((CENTER[1] * Math.PI) / 180);

/** District boundaries on the grid: column lines and row lines. */
const DISTRICT_COLS = [0, 9, 15, 24];
const DISTRICT_ROWS = [0, 6, 12, 18];
/** North row first, west to east. */
const DISTRICT_NAMES: [string, string][][] = [
  [
    ['惠济区', 'Huiji'],
    ['金水区', 'Jinshui'],
    ['郑东新区', 'Zhengdong New District'],
  ],
  [
    ['中原区', 'Zhongyuan'],
    ['二七区', 'Erqi'],
    ['管城回族区', 'Guancheng Hui'],
  ],
  [
    ['高新区', 'High-tech Zone'],
    ['经开区', 'Economic Development Zone'],
    ['航空港区', 'Airport Economy Zone'],
  ],
];
/** East-west arterials (every third row), south to north. */
const EW_ARTERIALS: [string, string][] = [
  ['南三环', 'South 3rd Ring Rd'],
  ['航海路', 'Hanghai Rd'],
  ['陇海路', 'Longhai Rd'],
  ['中原路', 'Zhongyuan Rd'],
  ['金水路', 'Jinshui Rd'],
  ['农业路', 'Nongye Rd'],
  ['北三环', 'North 3rd Ring Rd'],
];
/** North-south arterials (every third column), west to east. */
const NS_ARTERIALS: [string, string][] = [
  ['西三环', 'West 3rd Ring Rd'],
  ['嵩山路', 'Songshan Rd'],
  ['桐柏路', 'Tongbai Rd'],
  ['大学路', 'Daxue Rd'],
  ['紫荆山路', 'Zijingshan Rd'],
  ['未来路', 'Weilai Rd'],
  ['中州大道', 'Zhongzhou Ave'],
  ['商都路', 'Shangdu Rd'],
  ['东三环', 'East 3rd Ring Rd'],
];
export const SECTORS = [
  ['汽车制造', 'automotive'],
  ['电子信息', 'electronics'],
  ['食品加工', 'food processing'],
  ['装备制造', 'equipment'],
  ['数据中心', 'data centre'],
  ['医院', 'hospital'],
  ['商业综合体', 'shopping centre'],
  ['高校', 'university'],
] as const;

export function toPosition(xM: number, yM: number): Position {
  return [round6(CENTER[0] + xM / M_PER_DEG_LON), round6(CENTER[1] + yM / M_PER_DEG_LAT)];
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

export function distanceM(a: Position, b: Position): number {
  const dx = (a[0] - b[0]) * M_PER_DEG_LON;
  const dy = (a[1] - b[1]) * M_PER_DEG_LAT;
  return Math.sqrt(dx * dx + dy * dy);
}

/** Builds the city for a seed and a number of sensors (0 to 100,000). */
export function planCity(seed: number, sensorCount: number): CityPlan {
  if (!Number.isInteger(sensorCount) || sensorCount < 0 || sensorCount > 100_000)
    throw new RangeError('sensors must be an integer from 0 to 100000');
  const rng = createRandom(seed);
  const nodes = gridNodes(rng.fork('grid'));
  const districts = planDistricts(nodes);
  const segments = [...gridSegments(nodes), ...ringSegments()];
  const sensors = placeSensors(rng.fork('sensors'), sensorCount, segments, nodes);
  // A sensor's district is the one its position falls in (on the city's outer edge: its road's).
  for (const s of sensors) s.district = districtAt(districts, s.location) ?? s.district;
  return { name: 'Zhengzhou-like demo city', center: CENTER, seed, districts, segments, sensors };
}

/** Grid intersections, jittered a little so that the city does not look drawn with a ruler. */
function gridNodes(rng: Random): Position[][] {
  const x0 = -((NX - 1) * SPACING_M) / 2;
  const y0 = -((NY - 1) * SPACING_M) / 2;
  const nodes: Position[][] = [];
  for (let i = 0; i < NX; i++) {
    const col: Position[] = [];
    for (let j = 0; j < NY; j++) {
      const jitter = i % 3 === 0 && j % 3 === 0 ? 25 : 70;
      col.push(
        toPosition(
          x0 + i * SPACING_M + rng.between(-jitter, jitter),
          y0 + j * SPACING_M + rng.between(-jitter, jitter),
        ),
      );
    }
    nodes.push(col);
  }
  return nodes;
}

/** The district whose boundary contains a position, if any. */
export function districtAt(districts: readonly District[], p: Position): string | undefined {
  return districts.find((d) => insideRing(d.ring, p))?.id;
}

function insideRing(ring: readonly Position[], [x, y]: Position): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i] as Position;
    const [xj, yj] = ring[j] as Position;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function node(nodes: Position[][], i: number, j: number): Position {
  return (nodes[i] as Position[])[j] as Position;
}

function districtOf(i: number, j: number): string {
  const col = Math.min(2, DISTRICT_COLS.findIndex((c) => i < c) - 1);
  const row = Math.min(2, DISTRICT_ROWS.findIndex((r) => j < r) - 1);
  const c = col < 0 ? 2 : col;
  const r = row < 0 ? 2 : row;
  return `district-${2 - r}-${c}`;
}

function planDistricts(nodes: Position[][]): District[] {
  const out: District[] = [];
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) {
      const [i0, i1] = [DISTRICT_COLS[c] as number, DISTRICT_COLS[c + 1] as number];
      const [j0, j1] = [DISTRICT_ROWS[r] as number, DISTRICT_ROWS[r + 1] as number];
      const ring: Position[] = [];
      for (let i = i0; i < i1; i++) ring.push(node(nodes, i, j0));
      for (let j = j0; j < j1; j++) ring.push(node(nodes, i1, j));
      for (let i = i1; i > i0; i--) ring.push(node(nodes, i, j1));
      for (let j = j1; j > j0; j--) ring.push(node(nodes, i0, j));
      ring.push(node(nodes, i0, j0));
      const [name, nameEn] = (DISTRICT_NAMES[2 - r] as [string, string][])[c] as [string, string];
      out.push({ id: `district-${2 - r}-${c}`, name, nameEn, ring });
    }
  }
  return out;
}

function gridSegments(nodes: Position[][]): RoadSegment[] {
  const out: RoadSegment[] = [];
  const add = (a: [number, number], b: [number, number], ns: boolean) => {
    const line = ns ? a[0] : a[1];
    const arterial = line % 3 === 0;
    const [name, nameEn] = arterial
      ? ((ns ? NS_ARTERIALS : EW_ARTERIALS)[line / 3] as [string, string])
      : ns
        ? [`经${line}路`, `Jing ${line} Rd`]
        : [`纬${line}路`, `Wei ${line} Rd`];
    const coordinates = [node(nodes, a[0], a[1]), node(nodes, b[0], b[1])];
    out.push({
      id: `${ns ? 'ns' : 'ew'}-${line}-${ns ? a[1] : a[0]}`,
      name,
      nameEn,
      roadClass: arterial ? 'arterial' : 'street',
      lanes: arterial ? 3 : 1,
      speedLimit: arterial ? 60 : 40,
      coordinates,
      lengthM: Math.round(distanceM(coordinates[0] as Position, coordinates[1] as Position)),
      district: districtOf(Math.min(a[0], b[0]), Math.min(a[1], b[1])),
    });
  };
  for (let i = 0; i < NX; i++) for (let j = 0; j + 1 < NY; j++) add([i, j], [i, j + 1], true);
  for (let j = 0; j < NY; j++) for (let i = 0; i + 1 < NX; i++) add([i, j], [i + 1, j], false);
  return out;
}

/** An elevated expressway ring around the centre, 28 segments. */
function ringSegments(): RoadSegment[] {
  const n = 28;
  const at = (k: number) => {
    const a = (2 * Math.PI * k) / n;
    return toPosition(6200 * Math.cos(a), 4700 * Math.sin(a));
  };
  const out: RoadSegment[] = [];
  for (let k = 0; k < n; k++) {
    const coordinates = [at(k), at(k + 1)];
    const mid = at(k + 0.5);
    const i = Math.round((mid[0] - CENTER[0]) * (M_PER_DEG_LON / SPACING_M) + (NX - 1) / 2);
    const j = Math.round((mid[1] - CENTER[1]) * (M_PER_DEG_LAT / SPACING_M) + (NY - 1) / 2);
    out.push({
      id: `ring-${k}`,
      name: '城市快速路',
      nameEn: 'City Expressway',
      roadClass: 'expressway',
      lanes: 4,
      speedLimit: 80,
      coordinates,
      lengthM: Math.round(distanceM(coordinates[0] as Position, coordinates[1] as Position)),
      district: districtOf(i, j),
    });
  }
  return out;
}

/** How many sensors of each kind: the shares, every kind at least one when there are enough. */
export function kindCounts(total: number): Record<SensorKind, number> {
  const counts = Object.fromEntries(SENSOR_KINDS.map((k) => [k, 0])) as Record<SensorKind, number>;
  const floor = total >= SENSOR_KINDS.length ? 1 : 0;
  let left = total;
  for (const k of SENSOR_KINDS) {
    counts[k] = Math.max(floor, Math.floor(total * KIND_SHARES[k]));
    left -= counts[k];
  }
  // The remainder (or a deficit, for tiny cities) goes to the largest kinds first.
  const bySize = [...SENSOR_KINDS].sort((a, b) => KIND_SHARES[b] - KIND_SHARES[a]);
  for (let n = 0; left !== 0; n++) {
    const k = bySize[n % bySize.length] as SensorKind;
    if (left > 0) {
      counts[k]++;
      left--;
    } else if (counts[k] > floor) {
      counts[k]--;
      left++;
    }
  }
  return counts;
}

function placeSensors(rng: Random, total: number, segments: RoadSegment[], nodes: Position[][]): Sensor[] {
  const counts = kindCounts(total);
  const sensors: Sensor[] = [];
  const pad = (n: number) => String(n).padStart(total >= 10_000 ? 6 : 4, '0');
  const alongRoad = (r: Random): { p: Position; seg: RoadSegment } => {
    const seg = r.pick(segments);
    const [a, b] = seg.coordinates as [Position, Position];
    const t = r.between(0.1, 0.9);
    const off = r.between(-0.00018, 0.00018);
    return { p: [round6(a[0] + (b[0] - a[0]) * t + off), round6(a[1] + (b[1] - a[1]) * t - off)], seg };
  };
  const inCity = (r: Random): { p: Position; district: string } => {
    const i = r.between(0.5, NX - 1.5);
    const j = r.between(0.5, NY - 1.5);
    const a = node(nodes, Math.floor(i), Math.floor(j));
    return {
      p: toPosition(
        (a[0] - CENTER[0]) * M_PER_DEG_LON + (i % 1) * SPACING_M,
        (a[1] - CENTER[1]) * M_PER_DEG_LAT + (j % 1) * SPACING_M,
      ),
      district: districtOf(Math.floor(i), Math.floor(j)),
    };
  };

  // Traffic detectors: expressways and arterials first, one per segment, then streets.
  const major = segments.filter((s) => s.roadClass !== 'street');
  const minor = segments.filter((s) => s.roadClass === 'street');
  const order = [...shuffle(rng.fork('traffic'), major), ...shuffle(rng.fork('streets'), minor)];
  for (let n = 0; n < counts.traffic; n++) {
    const seg = order[n % order.length] as RoadSegment;
    const [a, b] = seg.coordinates as [Position, Position];
    const lane = Math.floor(n / order.length) + 1;
    sensors.push({
      kind: 'traffic',
      deviceId: `traffic-${pad(n + 1)}`,
      name: `${seg.name} 检测器 ${lane}`,
      location: [round6((a[0] + b[0]) / 2), round6((a[1] + b[1]) / 2)],
      district: seg.district,
      segment: seg.id,
    });
  }
  // The other kinds: beside a road or anywhere in the city, one random draw after another.
  const r = rng.fork('others');
  type Place = { p: Position; district: string; seg?: RoadSegment };
  const roadside = (): Place => {
    const { p, seg } = alongRoad(r);
    return { p, district: seg.district, seg };
  };
  const anywhere = (): Place => inCity(r);
  const place = (
    kind: SensorKind,
    prefix: string,
    where: () => Place,
    name: (n: number, at: Place) => string,
    extra: (n: number, at: Place) => Partial<Sensor> = () => ({}),
  ) => {
    for (let n = 0; n < counts[kind]; n++) {
      const at = where();
      sensors.push({
        kind,
        deviceId: `${prefix}-${pad(n + 1)}`,
        name: name(n + 1, at),
        location: at.p,
        district: at.district,
        ...extra(n, at),
      });
    }
  };
  place('air', 'air', anywhere, (n) => `空气质量监测站 ${n}`);
  place(
    'noise',
    'noise',
    roadside,
    (n, at) => `${at.seg?.name} 噪声监测 ${n}`,
    (_n, at) => (at.seg === undefined ? {} : { segment: at.seg.id }),
  );
  place('parkingSpot', 'spot', roadside, (n, at) => `${at.seg?.name} 泊位 ${n}`);
  place(
    'carPark',
    'carpark',
    anywhere,
    (n) => `公共停车场 ${n}`,
    () => ({ capacity: 50 * (2 + r.int(15)) }),
  );
  place('streetlight', 'light', roadside, (n, at) => `${at.seg?.name} 路灯 ${n}`);
  place('water', 'water', anywhere, (n) => `水质监测点 ${n}`);
  // Energy meters: a few per enterprise (METERS_PER_UNIT), on its site, all of its sector.
  let site: Place = { p: CENTER, district: '' };
  let meters = 0;
  place(
    'energy',
    'energy',
    () => {
      const k = meters++ % METERS_PER_UNIT;
      if (k === 0) site = anywhere();
      return { ...site, p: [round6(site.p[0] + k * 0.0003), site.p[1]] };
    },
    (n) => {
      const unit = Math.floor((n - 1) / METERS_PER_UNIT);
      const sector = SECTORS[unit % SECTORS.length] as readonly [string, string];
      return `重点用能单位 ${unit + 1} (${sector[0]}) 电表 ${((n - 1) % METERS_PER_UNIT) + 1}`;
    },
    (n) => ({
      sector: (SECTORS[Math.floor(n / METERS_PER_UNIT) % SECTORS.length] as readonly [string, string])[1],
      capacity: 200 + r.int(4800),
      unit: Math.floor(n / METERS_PER_UNIT) + 1,
    }),
  );
  return sensors;
}

function shuffle<T>(rng: Random, list: readonly T[]): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
