/**
 * The city map: districts, road segments coloured by congestion (each segment by the detector on
 * it, GB/T 33171 levels), and every sensor as a marker coloured by its value. MapLibre with a local
 * style: a background and the hub's own GeoJSON, no tiles, no fonts, nothing from the internet.
 */
import { useEffect, useRef } from 'react';
import maplibregl from 'maplibre-gl';
import 'maplibre-gl/dist/maplibre-gl.css';
import type { Feature as GeoFeature, FeatureCollection, Geometry } from 'geojson';
import { CONGESTION_COLORS, congestionLevel, kindOf } from './kinds';
import { useT, type Lang } from './i18n';

type Rec = Record<string, unknown>;
type Feature = GeoFeature<Geometry, Rec>;

declare global {
  interface Window {
    /** For the browser tests: the map, to ask what it rendered. */
    citypivotMap?: maplibregl.Map;
  }
}

const EMPTY: FeatureCollection = { type: 'FeatureCollection', features: [] };

function isGeometry(v: unknown): v is Geometry {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as { type?: unknown }).type === 'string' &&
    'coordinates' in v
  );
}

export function CityMap(props: {
  entities: Map<string, Rec>;
  version: number;
  lang: Lang;
  onOpen: (id: string) => void;
}) {
  const t = useT();
  const box = useRef<HTMLDivElement>(null);
  const map = useRef<maplibregl.Map | undefined>(undefined);
  const loaded = useRef(false);
  const { entities, version, onOpen } = props;

  useEffect(() => {
    if (!box.current) return;
    const m = new maplibregl.Map({
      container: box.current,
      style: {
        version: 8,
        sources: {},
        layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#101c2c' } }],
      },
      center: [113.6654, 34.7579],
      zoom: 11.3,
      attributionControl: false,
    });
    m.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-left');
    m.on('load', () => {
      m.addSource('districts', { type: 'geojson', data: EMPTY });
      m.addSource('roads', { type: 'geojson', data: EMPTY });
      m.addSource('sensors', { type: 'geojson', data: EMPTY });
      m.addLayer({
        id: 'districts-fill',
        type: 'fill',
        source: 'districts',
        paint: { 'fill-color': ['get', 'color'], 'fill-opacity': 0.12 },
      });
      m.addLayer({
        id: 'districts-line',
        type: 'line',
        source: 'districts',
        paint: { 'line-color': '#8da2c0', 'line-width': 1.5, 'line-dasharray': [3, 2] },
      });
      m.addLayer({
        id: 'roads',
        type: 'line',
        source: 'roads',
        layout: { 'line-cap': 'round' },
        paint: {
          'line-color': ['get', 'color'],
          'line-width': ['match', ['get', 'roadClass'], 'expressway', 5, 'arterial', 3.5, 1.6],
        },
      });
      m.addLayer({
        id: 'sensors',
        type: 'circle',
        source: 'sensors',
        paint: {
          'circle-color': ['get', 'color'],
          'circle-radius': ['interpolate', ['linear'], ['zoom'], 10, 2.5, 14, 6],
          'circle-stroke-color': '#0b1526',
          'circle-stroke-width': 0.8,
        },
      });
      loaded.current = true;
      window.dispatchEvent(new Event('citypivot:map-ready'));
    });
    m.on('click', 'sensors', (ev) => {
      const f = ev.features?.[0];
      if (!f) return;
      const p = f.properties as Record<string, string>;
      const div = document.createElement('div');
      div.className = 'popup';
      const title = document.createElement('strong');
      title.textContent = p.name ?? p.id ?? '';
      const value = document.createElement('div');
      value.textContent = `${p.mainName ?? ''}: ${p.main ?? ''}`;
      const button = document.createElement('button');
      button.textContent = '→';
      button.onclick = () => onOpen(String(p.id));
      div.append(title, value, button);
      new maplibregl.Popup({ closeButton: true }).setLngLat(ev.lngLat).setDOMContent(div).addTo(m);
    });
    m.on('mouseenter', 'sensors', () => (m.getCanvas().style.cursor = 'pointer'));
    m.on('mouseleave', 'sensors', () => (m.getCanvas().style.cursor = ''));
    map.current = m;
    window.citypivotMap = m;
    return () => {
      m.remove();
      map.current = undefined;
      loaded.current = false;
    };
  }, [onOpen]);

  useEffect(() => {
    const m = map.current;
    if (!m) return;
    const draw = () => {
      const { districts, roads, sensors } = features(entities);
      m.getSource<maplibregl.GeoJSONSource>('districts')?.setData({
        type: 'FeatureCollection',
        features: districts,
      });
      m.getSource<maplibregl.GeoJSONSource>('roads')?.setData({ type: 'FeatureCollection', features: roads });
      m.getSource<maplibregl.GeoJSONSource>('sensors')?.setData({
        type: 'FeatureCollection',
        features: sensors,
      });
    };
    if (loaded.current) draw();
    else void m.once('load', draw);
  }, [entities, version]);

  return (
    <div className="map-wrap">
      <div ref={box} className="map" data-testid="city-map" />
      <div className="legend">
        <div className="legend-title">{t('congestion')}</div>
        {CONGESTION_COLORS.map((c, i) => (
          <div key={c} className="legend-row">
            <span className="swatch" style={{ background: c }} />
            {t(`level${i}` as 'level0')}
          </div>
        ))}
      </div>
    </div>
  );
}

const DISTRICT_COLORS = [
  '#4dabf7',
  '#69db7c',
  '#ffd43b',
  '#ff8787',
  '#da77f2',
  '#38d9a9',
  '#ffa94d',
  '#748ffc',
  '#a9e34b',
];

function features(entities: Map<string, Rec>): {
  districts: Feature[];
  roads: Feature[];
  sensors: Feature[];
} {
  const districts: Feature[] = [];
  const roads: Feature[] = [];
  const sensors: Feature[] = [];
  const levelBySegment = new Map<string, number>();
  const segments = new Map<string, Rec>();
  for (const e of entities.values()) if (e.type === 'RoadSegment') segments.set(String(e.id), e);
  for (const e of entities.values()) {
    if (e.type !== 'TrafficFlowObserved' || typeof e.refRoadSegment !== 'string') continue;
    const seg = segments.get(e.refRoadSegment);
    const v = e.averageVehicleSpeed;
    const vf = seg?.maximumAllowedSpeed;
    if (typeof v === 'number' && typeof vf === 'number') {
      const level = congestionLevel(v, vf);
      levelBySegment.set(e.refRoadSegment, Math.max(level, levelBySegment.get(e.refRoadSegment) ?? 0));
    }
  }
  let n = 0;
  for (const e of entities.values()) {
    if (!isGeometry(e.location)) continue;
    const id = String(e.id);
    if (e.type === 'District') {
      districts.push({
        type: 'Feature',
        geometry: e.location,
        properties: { id, name: e.name, color: DISTRICT_COLORS[n++ % DISTRICT_COLORS.length] },
      });
    } else if (e.type === 'RoadSegment') {
      const level = levelBySegment.get(id);
      roads.push({
        type: 'Feature',
        geometry: e.location,
        properties: {
          id,
          name: e.name,
          roadClass: e.roadClass,
          color: level === undefined ? '#3d4f66' : CONGESTION_COLORS[level],
        },
      });
    } else {
      const kind = kindOf(String(e.type));
      const main = kind ? e[kind.main] : undefined;
      sensors.push({
        type: 'Feature',
        geometry: e.location,
        properties: {
          id,
          name: e.name,
          type: e.type,
          color: kind ? kind.color(e) : '#adb5bd',
          mainName: kind?.main ?? '',
          main: typeof main === 'object' ? JSON.stringify(main) : main,
        },
      });
    }
  }
  return { districts, roads, sensors };
}
