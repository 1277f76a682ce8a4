/** The device list: health (online, offline) and per-device reading counters, refreshed every 10 s. */
import { useState } from 'react';
import { devices, type DeviceRow } from './api';
import { useT } from './i18n';
import { usePoll } from './poll';

export function Devices() {
  const t = useT();
  const [rows, setRows] = useState<DeviceRow[]>([]);
  const [count, setCount] = useState(0);
  const [filter, setFilter] = useState('');
  const [error, setError] = useState<string | undefined>();
  usePoll(
    devices,
    10_000,
    [],
    (r) => {
      setRows(r.devices);
      setCount(r.count);
      setError(undefined);
    },
    (e) => setError(e.message),
  );
  const shown = rows.filter(
    (d) =>
      !filter ||
      `${d.device_id} ${d.entity_type} ${d.health ?? ''}`.toLowerCase().includes(filter.toLowerCase()),
  );
  return (
    <div className="devices">
      <div className="devices-bar">
        <label>
          {t('filter')}{' '}
          <input value={filter} onChange={(e) => setFilter(e.target.value)} data-testid="device-filter" />
        </label>
        <span>
          {shown.length} / {count}
        </span>
        {error && <span className="error">{error}</span>}
      </div>
      <table data-testid="device-table">
        <thead>
          <tr>
            <th>{t('device')}</th>
            <th>{t('type')}</th>
            <th>{t('health')}</th>
            <th>{t('received')}</th>
            <th>{t('accepted')}</th>
            <th>{t('rejected')}</th>
            <th>{t('lastSeen')}</th>
            <th>{t('lastError')}</th>
          </tr>
        </thead>
        <tbody>
          {shown.slice(0, 500).map((d) => (
            <tr key={`${d.service_path}/${d.device_id}`}>
              <td title={d.entity_name}>{d.device_id}</td>
              <td>{d.entity_type}</td>
              <td>
                <span className={`health ${d.health ?? 'unknown'}`}>{d.health ?? 'unknown'}</span>
              </td>
              <td>{d.readings?.received ?? 0}</td>
              <td>{d.readings?.accepted ?? 0}</td>
              <td>{d.readings?.rejected ?? 0}</td>
              <td>{d.lastSeen ? new Date(d.lastSeen).toLocaleTimeString() : ''}</td>
              <td className="error">{d.readings?.lastError ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
