/**
 * The entity explorer: search by type and id, the entity's attributes, and a history chart of a
 * numeric attribute from the temporal API (the last two hours, refreshed every 10 s).
 */
import { useEffect, useRef, useState } from 'react';
import * as echarts from 'echarts/core';
import { LineChart } from 'echarts/charts';
import { GridComponent, TooltipComponent } from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';
import { display, entity, history, searchEntities, shortName, type KeyValues } from './api';
import { useT } from './i18n';
import { kindOf } from './kinds';
import { usePoll } from './poll';

echarts.use([LineChart, GridComponent, TooltipComponent, CanvasRenderer]);

interface Attr {
  iri: string;
  name: string;
  value: unknown;
  observedAt?: string;
  unitCode?: string;
}

function attributesOf(e: Record<string, unknown>): Attr[] {
  const out: Attr[] = [];
  for (const [iri, raw] of Object.entries(e)) {
    if (iri === 'id' || iri === 'type' || iri === '@context') continue;
    const a = (Array.isArray(raw) ? raw[0] : raw) as Record<string, unknown>;
    const value =
      a.type === 'Relationship' ? a.object : a.type === 'LanguageProperty' ? a.languageMap : a.value;
    out.push({
      iri,
      name: shortName(iri),
      value,
      ...(typeof a.observedAt === 'string' ? { observedAt: a.observedAt } : {}),
      ...(typeof a.unitCode === 'string' ? { unitCode: a.unitCode } : {}),
    });
  }
  return out.sort((x, y) => x.name.localeCompare(y.name));
}

export function Explorer(props: { types: string[]; openId?: string }) {
  const t = useT();
  const [type, setType] = useState<string>('');
  const [idPart, setIdPart] = useState('');
  const [found, setFound] = useState<KeyValues[]>([]);
  const [selected, setSelected] = useState<string | undefined>(props.openId);
  const [attrs, setAttrs] = useState<Attr[]>([]);
  const [chartAttr, setChartAttr] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    if (!type && props.types.length > 0) {
      const traffic = props.types.find((x) => shortName(x) === 'TrafficFlowObserved');
      setType(traffic ?? props.types[0]);
    }
  }, [props.types, type]);
  useEffect(() => {
    if (props.openId) setSelected(props.openId);
  }, [props.openId]);

  const search = () => {
    if (!type) return;
    searchEntities(type, idPart).then(
      (r) => {
        setFound(r);
        setError(undefined);
      },
      (e: Error) => setError(e.message),
    );
  };
  useEffect(search, [type]);

  usePoll(
    selected ? () => entity(selected) : undefined,
    10_000,
    [selected],
    (e) => {
      const list = attributesOf(e);
      setAttrs(list);
      const kind = kindOf(String(e.type));
      setChartAttr((held) => {
        if (held && list.some((a) => a.iri === held)) return held;
        const main = list.find((a) => a.name === kind?.main && typeof a.value === 'number');
        return (main ?? list.find((a) => typeof a.value === 'number'))?.iri;
      });
    },
    (err) => setError(err.message),
  );

  return (
    <div className="explorer">
      <div className="explorer-search">
        <label>
          {t('type')}{' '}
          <select data-testid="explorer-type" value={type} onChange={(e) => setType(e.target.value)}>
            {props.types.map((x) => (
              <option key={x} value={x}>
                {shortName(x)}
              </option>
            ))}
          </select>
        </label>
        <label>
          {t('idContains')}{' '}
          <input
            data-testid="explorer-id"
            value={idPart}
            onChange={(e) => setIdPart(e.target.value)}
            onKeyDown={(e) => e.key === 'Enter' && search()}
          />
        </label>
        <button onClick={search}>{t('search')}</button>
        {error && <span className="error">{error}</span>}
      </div>
      <div className="explorer-body">
        <ul className="explorer-list" data-testid="explorer-results">
          {found.map((e) => (
            <li key={e.id} className={e.id === selected ? 'selected' : ''}>
              <button onClick={() => setSelected(e.id)} title={e.id}>
                {display(e[Object.keys(e).find((k) => shortName(k) === 'name') ?? ''] ?? shortName(e.id))}
                <small>{e.id}</small>
              </button>
            </li>
          ))}
        </ul>
        {selected && (
          <div className="explorer-entity" data-testid="explorer-entity">
            <h3>{selected}</h3>
            <table>
              <thead>
                <tr>
                  <th>{t('attribute')}</th>
                  <th>{t('value')}</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {attrs.map((a) => (
                  <tr key={a.iri} className={a.iri === chartAttr ? 'charted' : ''}>
                    <td title={a.iri}>{a.name}</td>
                    <td>
                      {display(a.value)}
                      {a.unitCode ? ` ${a.unitCode}` : ''}
                    </td>
                    <td>
                      {typeof a.value === 'number' && (
                        <button onClick={() => setChartAttr(a.iri)}>{t('chart')}</button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {chartAttr && <HistoryChart id={selected} attr={chartAttr} />}
          </div>
        )}
      </div>
    </div>
  );
}

function HistoryChart(props: { id: string; attr: string }) {
  const t = useT();
  const box = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | undefined>(undefined);
  const [points, setPoints] = useState(0);
  useEffect(() => {
    if (!box.current) return;
    const c = echarts.init(box.current, 'dark');
    chart.current = c;
    const resize = () => c.resize();
    window.addEventListener('resize', resize);
    return () => {
      window.removeEventListener('resize', resize);
      c.dispose();
      chart.current = undefined;
    };
  }, []);
  usePoll(
    () => history(props.id, props.attr, new Date(Date.now() - 2 * 3600_000)),
    10_000,
    [props.id, props.attr],
    (values) => {
      setPoints(values.length);
      chart.current?.setOption({
        backgroundColor: 'transparent',
        grid: { left: 50, right: 20, top: 30, bottom: 30 },
        tooltip: { trigger: 'axis' },
        title: { show: false },
        xAxis: { type: 'time' },
        yAxis: { type: 'value', scale: true, name: shortName(props.attr) },
        series: [{ type: 'line', showSymbol: false, data: values.map(([v, at]) => [at, v]) }],
      });
    },
  );
  return (
    <div className="history">
      <div className="history-title">
        {t('history')}: {shortName(props.attr)} {points === 0 && `(${t('noHistory')})`}
      </div>
      <div ref={box} className="history-chart" data-testid="history-chart" data-points={points} />
    </div>
  );
}
