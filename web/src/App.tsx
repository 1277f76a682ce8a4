/**
 * The operations dashboard: login, then the city map, the entity explorer and the device list,
 * with key figures on top and the live feed beside. Everything it shows comes from the hub's public
 * API; the current state of the city's entities is loaded once and kept live by the stream.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import {
  authState,
  entitiesOfType,
  entityTypes,
  follow,
  iotStats,
  login,
  logout,
  shortName,
  type AuthState,
  type ChangeEvent,
} from './api';
import { CityMap } from './CityMap';
import { Devices } from './Devices';
import { Explorer } from './Explorer';
import { Feed, type FeedItem } from './Feed';
import { LangContext, initialLang, useT, type Lang } from './i18n';
import { shorten } from './kinds';
import { usePoll } from './poll';

type Tab = 'map' | 'explorer' | 'devices';
type Rec = Record<string, unknown>;

export function App() {
  const [lang, setLang] = useState<Lang>(initialLang);
  const [auth, setAuth] = useState<AuthState | undefined>();
  useEffect(() => {
    void authState().then(setAuth, () => setAuth('login'));
    const out = () => setAuth('login');
    window.addEventListener('citypivot:logout', out);
    return () => window.removeEventListener('citypivot:logout', out);
  }, []);
  const switchLang = () => {
    const next = lang === 'zh' ? 'en' : 'zh';
    localStorage.setItem('citypivot.lang', next);
    document.documentElement.lang = next === 'zh' ? 'zh-CN' : 'en';
    setLang(next);
  };
  return (
    <LangContext.Provider value={lang}>
      {auth === undefined ? null : auth === 'login' ? (
        <Login onDone={() => setAuth('ready')} switchLang={switchLang} />
      ) : (
        <Dashboard
          lang={lang}
          switchLang={switchLang}
          onLogout={
            auth === 'ready'
              ? () => {
                  void logout().then(() => setAuth('login'));
                }
              : undefined
          }
        />
      )}
    </LangContext.Provider>
  );
}

function Login(props: { onDone: () => void; switchLang: () => void }) {
  const t = useT();
  const [username, setUsername] = useState('operator');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>();
  return (
    <div className="login">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          login(username, password).then(props.onDone, (err: Error) =>
            setError(`${t('loginFailed')}: ${err.message}`),
          );
        }}
      >
        <h1>{t('title')}</h1>
        <label>
          {t('username')}
          <input
            name="username"
            autoComplete="username"
            value={username}
            onChange={(e) => setUsername(e.target.value)}
          />
        </label>
        <label>
          {t('password')}
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        <button type="submit">{t('login')}</button>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="button" className="link" onClick={props.switchLang}>
          中文 / English
        </button>
      </form>
    </div>
  );
}

const MAP_TYPES_FIRST = ['District', 'RoadSegment'];

function Dashboard(props: { lang: Lang; switchLang: () => void; onLogout: (() => void) | undefined }) {
  const t = useT();
  const [tab, setTab] = useState<Tab>('map');
  const [types, setTypes] = useState<string[]>([]);
  const store = useRef(new Map<string, Rec>());
  const [version, setVersion] = useState(0);
  const [feed, setFeed] = useState<FeedItem[]>([]);
  const [live, setLive] = useState(false);
  const [openId, setOpenId] = useState<string | undefined>();
  const [online, setOnline] = useState<string>('–');
  const recent = useRef<number[]>([]);
  const dirty = useRef(false);

  // Current state: every entity of every type (up to 5,000 per type), then kept live by the stream.
  useEffect(() => {
    const abort = new AbortController();
    void (async () => {
      const list = await entityTypes();
      setTypes(list);
      const ordered = [...list].sort((a, b) => rank(a) - rank(b));
      for (const type of ordered) {
        const rows = await entitiesOfType(type);
        for (const r of rows) store.current.set(r.id, shorten(r));
        setVersion((v) => v + 1);
      }
    })();
    let seq = 0;
    const onEvent = (e: ChangeEvent) => {
      if (e.kind === 'deleted') store.current.delete(e.id);
      else if (e.entity) store.current.set(e.id, shorten(e.entity));
      dirty.current = true;
      recent.current.push(Date.now());
      const item: FeedItem = { seq: ++seq, at: new Date(), event: e };
      setFeed((f) => [item, ...f].slice(0, 80));
    };
    void follow(onEvent, abort.signal, setLive);
    // Redraw at most once a second, however fast events come.
    const redraw = setInterval(() => {
      if (!dirty.current) return;
      dirty.current = false;
      setVersion((v) => v + 1);
    }, 1000);
    return () => {
      abort.abort();
      clearInterval(redraw);
    };
  }, []);
  usePoll(iotStats, 10_000, [], (s) =>
    setOnline(s.health ? `${s.health.online} / ${s.devices}` : String(s.devices)),
  );

  const kpi = useMemo(() => figures(store.current, recent.current), [version]); // recomputed on each redraw
  const open = useCallback((id: string) => {
    setOpenId(id);
    setTab('explorer');
  }, []);

  return (
    <div className="app">
      <header>
        <h1>{t('title')}</h1>
        <div className="kpis">
          <Kpi label={t('avgSpeed')} value={kpi.speed} testId="kpi-speed" />
          <Kpi label={t('pm25')} value={kpi.pm25} testId="kpi-pm25" />
          <Kpi label={t('freeSpots')} value={kpi.free} testId="kpi-free" />
          <Kpi label={t('online')} value={online} testId="kpi-online" />
          <Kpi label={t('events')} value={kpi.rate} testId="kpi-rate" />
        </div>
        <nav>
          {(['map', 'explorer', 'devices'] as const).map((x) => (
            <button
              key={x}
              className={tab === x ? 'active' : ''}
              onClick={() => setTab(x)}
              data-testid={`tab-${x}`}
            >
              {t(x)}
            </button>
          ))}
          <button onClick={props.switchLang} data-testid="lang">
            {props.lang === 'zh' ? 'English' : '中文'}
          </button>
          {props.onLogout && <button onClick={props.onLogout}>{t('logout')}</button>}
        </nav>
      </header>
      <main>
        <section className="content">
          {tab === 'map' && (
            <CityMap entities={store.current} version={version} lang={props.lang} onOpen={open} />
          )}
          {tab === 'explorer' && <Explorer types={types} {...(openId ? { openId } : {})} />}
          {tab === 'devices' && <Devices />}
        </section>
        <Feed items={feed} live={live} onOpen={open} />
      </main>
    </div>
  );
}

function rank(type: string): number {
  const i = MAP_TYPES_FIRST.indexOf(shortName(type));
  return i < 0 ? MAP_TYPES_FIRST.length : i;
}

function Kpi(props: { label: string; value: string; testId: string }) {
  return (
    <div className="kpi">
      <div className="kpi-value" data-testid={props.testId}>
        {props.value}
      </div>
      <div className="kpi-label">{props.label}</div>
    </div>
  );
}

function figures(
  entities: Map<string, Rec>,
  recent: number[],
): { speed: string; pm25: string; free: string; rate: string } {
  let speedSum = 0;
  let speedN = 0;
  let pmSum = 0;
  let pmN = 0;
  let free = 0;
  for (const e of entities.values()) {
    if (e.type === 'TrafficFlowObserved' && typeof e.averageVehicleSpeed === 'number') {
      speedSum += e.averageVehicleSpeed;
      speedN++;
    } else if (e.type === 'AirQualityObserved' && typeof e.pm25 === 'number') {
      pmSum += e.pm25;
      pmN++;
    } else if (e.type === 'ParkingSpot' && e.status === 'free') free++;
    else if (e.type === 'OffStreetParking' && typeof e.availableSpotNumber === 'number')
      free += e.availableSpotNumber;
  }
  const cutoff = Date.now() - 60_000;
  while (recent.length > 0 && recent[0] < cutoff) recent.shift();
  return {
    speed: speedN ? (speedSum / speedN).toFixed(1) : '–',
    pm25: pmN ? (pmSum / pmN).toFixed(0) : '–',
    free: String(free),
    rate: String(recent.length),
  };
}
