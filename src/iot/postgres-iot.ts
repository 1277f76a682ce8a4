/**
 * The PostgreSQL adapter of the device registry port (tables of migration 4): config groups and
 * devices as jsonb documents keyed by service (the tenant), counters as columns added in batches.
 */
import type pg from 'pg';
import type { QueryResultRow } from 'pg';
import { HubError } from '../core/errors.js';
import type { Device, ServiceGroup } from '../core/iot/device-model.js';
import type {
  CounterDelta,
  DeviceCounters,
  DeviceRegistry,
  QuarantinedReading,
} from '../core/iot/device-registry.js';
import { translate } from '../store/sql-errors.js';
import { withTransaction } from '../store/database.js';

interface CounterRow extends QueryResultRow {
  readings_received: string;
  readings_accepted: string;
  readings_rejected: string;
  readings_quarantined: string;
  last_error: string | null;
  last_error_at: string | null;
  last_seen: string | null;
}

/** The IoT tables on the hub's pool (database.ts; the store has applied migration 4). */
export function createPostgresIotRegistry(pool: pg.Pool): DeviceRegistry {
  const run = async <R extends QueryResultRow>(sql: string, params: unknown[] = []) => {
    try {
      return await pool.query<R>(sql, params);
    } catch (err) {
      throw translate(err);
    }
  };
  const inTx = (fn: (q: (sql: string, params: unknown[]) => Promise<unknown>) => Promise<void>) =>
    withTransaction(pool, (client) => fn((sql, params) => client.query(sql, params)), translate);
  const subserviceFilter = (subservice: string, param: string) =>
    subservice === '/*' ? 'TRUE' : `subservice = ${param}`;

  return {
    async insertGroups(groups) {
      await inTx(async (q) => {
        for (const g of groups) {
          await q(
            `INSERT INTO iot_service_groups (service, subservice, apikey, resource, config)
             VALUES ($1, $2, $3, $4, $5)`,
            [g.service, g.subservice, g.apikey, g.resource, g],
          ).catch((err: unknown) => {
            throw alreadyExists(
              err,
              `A config group with apikey ${g.apikey} and resource ${g.resource} exists`,
            );
          });
        }
      });
    },
    async listGroups(service, subservice, page) {
      const where = `service = $1 AND ${subserviceFilter(subservice, '$2')}`;
      const params = subservice === '/*' ? [service] : [service, subservice];
      const n = params.length;
      const r = await run<{ config: ServiceGroup; total: string }>(
        `SELECT config, count(*) OVER () AS total FROM iot_service_groups WHERE ${where}
         ORDER BY created_at, apikey, resource LIMIT $${n + 1} OFFSET $${n + 2}`,
        [...params, page.limit, page.offset],
      );
      let count = Number(r.rows[0]?.total ?? 0);
      if (r.rows.length === 0 && page.offset > 0) {
        const c = await run<{ n: string }>(
          `SELECT count(*) AS n FROM iot_service_groups WHERE ${where}`,
          params,
        );
        count = Number(c.rows[0]?.n ?? 0);
      }
      return { count, groups: r.rows.map((x) => x.config) };
    },
    async getGroup(service, subservice, apikey, resource) {
      const r = await run<{ config: ServiceGroup }>(
        `SELECT config FROM iot_service_groups
         WHERE service = $1 AND subservice = $2 AND apikey = $3 AND resource = $4`,
        [service, subservice, apikey, resource],
      );
      return r.rows[0]?.config;
    },
    async groupsByApikey(apikey) {
      const r = await run<{ config: ServiceGroup }>(
        'SELECT config FROM iot_service_groups WHERE apikey = $1 ORDER BY created_at',
        [apikey],
      );
      return r.rows.map((x) => x.config);
    },
    async updateGroup(g) {
      await run(
        `UPDATE iot_service_groups SET config = $5
         WHERE service = $1 AND subservice = $2 AND apikey = $3 AND resource = $4`,
        [g.service, g.subservice, g.apikey, g.resource, g],
      );
    },
    async deleteGroup(service, subservice, apikey, resource) {
      const r = await run(
        `DELETE FROM iot_service_groups WHERE service = $1 AND subservice = $2 AND apikey = $3 AND resource = $4`,
        [service, subservice, apikey, resource],
      );
      return (r.rowCount ?? 0) > 0;
    },

    async insertDevices(devices, secretHashes) {
      await inTx(async (q) => {
        for (const [i, d] of devices.entries()) {
          await q(
            `INSERT INTO iot_devices (service, service_path, device_id, apikey, entity_name, entity_type, config, secret_hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
            [
              d.service,
              d.service_path,
              d.device_id,
              d.apikey ?? null,
              d.entity_name,
              d.entity_type,
              stored(d),
              secretHashes?.[i] ?? null,
            ],
          ).catch((err: unknown) => {
            throw alreadyExists(err, `A device with device_id ${d.device_id} exists`);
          });
        }
      });
    },
    async listDevices(service, servicePath, page) {
      const all = servicePath === '/*';
      const where = all ? 'service = $1' : 'service = $1 AND service_path = $2';
      const params = all ? [service] : [service, servicePath];
      const n = params.length;
      const r = await run<{ config: Device; total: string; secret: boolean }>(
        `SELECT config, secret_hash IS NOT NULL AS secret, count(*) OVER () AS total FROM iot_devices WHERE ${where}
         ORDER BY created_at, device_id LIMIT $${n + 1} OFFSET $${n + 2}`,
        [...params, page.limit, page.offset],
      );
      let count = Number(r.rows[0]?.total ?? 0);
      if (r.rows.length === 0 && page.offset > 0) {
        const c = await run<{ n: string }>(`SELECT count(*) AS n FROM iot_devices WHERE ${where}`, params);
        count = Number(c.rows[0]?.n ?? 0);
      }
      return { count, devices: r.rows.map((x) => withSecretFlag(x.config, x.secret)) };
    },
    async getDevice(service, servicePath, deviceId) {
      const r = await run<{ config: Device; secret: boolean }>(
        `SELECT config, secret_hash IS NOT NULL AS secret FROM iot_devices
         WHERE service = $1 AND service_path = $2 AND device_id = $3`,
        [service, servicePath, deviceId],
      );
      const row = r.rows[0];
      return row ? withSecretFlag(row.config, row.secret) : undefined;
    },
    async findDevice(apikey, deviceId) {
      const r = await run<{ config: Device }>(
        `SELECT d.config FROM iot_devices d
         WHERE d.device_id = $2 AND (d.apikey = $1 OR (d.apikey IS NULL AND EXISTS (
           SELECT 1 FROM iot_service_groups g
           WHERE g.service = d.service AND g.subservice = d.service_path AND g.apikey = $1)))
         ORDER BY d.created_at LIMIT 1`,
        [apikey, deviceId],
      );
      return r.rows[0]?.config;
    },
    async deviceOfEntity(service, entityName) {
      const r = await run<{ config: Device }>(
        'SELECT config FROM iot_devices WHERE service = $1 AND entity_name = $2 ORDER BY created_at LIMIT 1',
        [service, entityName],
      );
      return r.rows[0]?.config;
    },
    async updateDevice(d) {
      await run(
        `UPDATE iot_devices SET config = $4, apikey = $5
         WHERE service = $1 AND service_path = $2 AND device_id = $3`,
        [d.service, d.service_path, d.device_id, stored(d), d.apikey ?? null],
      );
    },
    async setDeviceSecret(service, servicePath, deviceId, hash) {
      const r = await run(
        'UPDATE iot_devices SET secret_hash = $4 WHERE service = $1 AND service_path = $2 AND device_id = $3',
        [service, servicePath, deviceId, hash],
      );
      return (r.rowCount ?? 0) > 0;
    },
    async devicesWithSecret(deviceId) {
      const r = await run<{ config: Device; secret_hash: string }>(
        `SELECT config, secret_hash FROM iot_devices
         WHERE device_id = $1 AND secret_hash IS NOT NULL ORDER BY created_at LIMIT 10`,
        [deviceId],
      );
      return r.rows.map((x) => ({ device: x.config, secretHash: x.secret_hash }));
    },
    async deleteDevice(service, servicePath, deviceId) {
      const r = await run(
        'DELETE FROM iot_devices WHERE service = $1 AND service_path = $2 AND device_id = $3',
        [service, servicePath, deviceId],
      );
      return (r.rowCount ?? 0) > 0;
    },

    async getCounters(service, servicePath, deviceId) {
      const r = await run<CounterRow>(
        `SELECT readings_received, readings_accepted, readings_rejected, readings_quarantined,
                last_error, last_error_at, last_seen
         FROM iot_devices WHERE service = $1 AND service_path = $2 AND device_id = $3`,
        [service, servicePath, deviceId],
      );
      const row = r.rows[0];
      return row ? toCounters(row) : undefined;
    },
    async addCounters(deltas) {
      if (deltas.length === 0) return;
      const col = <K extends keyof CounterDelta>(k: K) => deltas.map((d) => d[k] ?? null);
      await run(
        `UPDATE iot_devices d SET
           readings_received = d.readings_received + v.received,
           readings_accepted = d.readings_accepted + v.accepted,
           readings_rejected = d.readings_rejected + v.rejected,
           readings_quarantined = d.readings_quarantined + v.quarantined,
           last_error = COALESCE(v.last_error, d.last_error),
           last_error_at = COALESCE(v.last_error_at, d.last_error_at),
           last_seen = GREATEST(d.last_seen, v.last_seen)
         FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[],
                     $7::bigint[], $8::text[], $9::timestamptz[], $10::timestamptz[])
           AS v(service, service_path, device_id, received, accepted, rejected, quarantined,
                last_error, last_error_at, last_seen)
         WHERE d.service = v.service AND d.service_path = v.service_path AND d.device_id = v.device_id`,
        [
          col('service'),
          col('servicePath'),
          col('deviceId'),
          col('received'),
          col('accepted'),
          col('rejected'),
          col('quarantined'),
          col('lastError'),
          col('lastErrorAt'),
          col('lastSeen'),
        ],
      );
    },
    async totals(service) {
      const r = await run<CounterRow & { devices: string }>(
        `SELECT count(*) AS devices,
                COALESCE(sum(readings_received), 0) AS readings_received,
                COALESCE(sum(readings_accepted), 0) AS readings_accepted,
                COALESCE(sum(readings_rejected), 0) AS readings_rejected,
                COALESCE(sum(readings_quarantined), 0) AS readings_quarantined,
                NULL AS last_error, max(last_error_at) AS last_error_at, max(last_seen) AS last_seen
         FROM iot_devices WHERE $1::text IS NULL OR service = $1`,
        [service ?? null],
      );
      const row = r.rows[0] as CounterRow & { devices: string };
      return { ...toCounters(row), devices: Number(row.devices) };
    },

    async quarantine(q) {
      await run(
        `INSERT INTO iot_quarantine (service, service_path, device_id, received_at, reading, error)
         VALUES ($1, $2, $3, $4, $5, $6)`,
        [q.service, q.servicePath, q.deviceId, q.receivedAt, JSON.stringify(q.reading), q.error],
      );
    },
    async listQuarantine(service, servicePath, deviceId, limit) {
      const r = await run<{
        id: string;
        received_at: string;
        reading: unknown;
        error: string;
      }>(
        `SELECT id::text, received_at, reading, error FROM iot_quarantine
         WHERE service = $1 AND service_path = $2 AND device_id = $3 ORDER BY id DESC LIMIT $4`,
        [service, servicePath, deviceId, limit],
      );
      return r.rows.map((x): QuarantinedReading => ({
        id: x.id,
        service,
        servicePath,
        deviceId,
        receivedAt: new Date(x.received_at).toISOString(),
        reading: x.reading,
        error: x.error,
      }));
    },
  };
}

function toCounters(row: CounterRow): DeviceCounters {
  const c: DeviceCounters = {
    received: Number(row.readings_received),
    accepted: Number(row.readings_accepted),
    rejected: Number(row.readings_rejected),
    quarantined: Number(row.readings_quarantined),
  };
  if (row.last_error !== null) c.lastError = row.last_error;
  if (row.last_error_at !== null) c.lastErrorAt = new Date(row.last_error_at).toISOString();
  if (row.last_seen !== null) c.lastSeen = new Date(row.last_seen).toISOString();
  return c;
}

function alreadyExists(err: unknown, detail: string): unknown {
  const t = translate(err);
  return t instanceof HubError && t.code === 'AlreadyExists'
    ? new HubError('AlreadyExists', detail, { cause: err })
    : t;
}

/** The config column: the device without the derived `password_set`. */
function stored(d: Device): Device {
  const { password_set: _set, ...config } = d;
  return config;
}

/** A device as listed: `password_set` tells whether it has credentials (the hash never leaves). */
function withSecretFlag(config: Device, secret: boolean): Device {
  return secret ? { ...config, password_set: true } : config;
}
