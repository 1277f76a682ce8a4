/**
 * HTTP routes of the IoT edge on the hub's port: the FIWARE IoT Agent provisioning API
 * (`/iot/services`, `/iot/devices`), the southbound HTTP transport (`POST /iot/json`, JSON; `POST
 * /iot/d`, Ultralight 2.0) and the platform view of device counters and health
 * (`/api/v1/iot/stats`). `fiware-service` is the NGSI-LD tenant (as `tenantOf` reads it),
 * `fiware-servicepath` the device's servicepath. Errors are NGSI-LD ProblemDetails.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { tenantOf } from '../http/ngsi-request.js';
import { HubError, badRequest } from '../core/errors.js';
import { parseServicePath } from '../core/iot/device-model.js';
import type { Device } from '../core/iot/device-model.js';
import type { Page } from '../core/iot/device-registry.js';
import type { IngestResult, SouthboundMessage } from './ingestion-service.js';
import type { IotService } from './iot-service.js';
import { deviceSecretMatches } from './device-credentials.js';
import { ANYONE, DEVICE, READS, guarded, type RouteAccess } from '../http/route-access.js';

/** Provisioning changes a tenant's devices and, through them, its entities: audited per request. */
const PROVISIONS: RouteAccess = { who: 'data', action: 'write', audit: 'iot.provision' };

const ABOUT = { libVersion: 'citypivot', port: 'hub', baseRoot: '/', version: '1' };

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function scope(req: FastifyRequest, allowWildcard = false) {
  return {
    service: tenantOf(req),
    servicePath: parseServicePath(header(req, 'fiware-servicepath'), allowWildcard),
  };
}

function page(q: Record<string, string | undefined>): Page {
  const int = (v: string | undefined, name: string, dflt: number, max: number) => {
    if (v === undefined) return dflt;
    if (!/^\d+$/.test(v) || Number(v) > max) throw badRequest(`${name} must be an integer from 0 to ${max}`);
    return Number(v);
  };
  const limit = int(q.limit, 'limit', 20, 1000);
  if (limit === 0) throw badRequest('limit must be at least 1');
  return { limit, offset: int(q.offset, 'offset', 0, 1_000_000) };
}

function required(q: Record<string, string | undefined>, name: string): string {
  const v = q[name];
  if (v === undefined || v === '') throw badRequest(`The query parameter ${name} is required`);
  return v;
}

/** A device as GET shows it: the provisioned fields, then its counters and health. */
async function withStatus(iot: IotService, d: Device): Promise<Record<string, unknown>> {
  const counters = await iot.counters.read({
    service: d.service,
    servicePath: d.service_path,
    deviceId: d.device_id,
  });
  const health = iot.health.status(d.service, d.service_path, d.device_id);
  return {
    ...d,
    readings: counters
      ? {
          received: counters.received,
          accepted: counters.accepted,
          rejected: counters.rejected,
          quarantined: counters.quarantined,
          ...(counters.lastError === undefined
            ? {}
            : { lastError: counters.lastError, lastErrorAt: counters.lastErrorAt }),
        }
      : undefined,
    lastSeen: health?.lastSeen ?? counters?.lastSeen ?? null,
    health: health?.state ?? 'unknown',
  };
}

function answer(result: IngestResult): { status: number; body: unknown } {
  switch (result.outcome) {
    case 'accepted':
      return { status: 200, body: {} };
    case 'unknown':
      throw new HubError('ResourceNotFound', result.detail ?? 'Unknown device');
    case 'rejected':
    case 'quarantined':
      if (result.refused) throw new HubError('Forbidden', result.detail ?? 'The reading was refused');
      throw badRequest(result.detail ?? `The reading was ${result.outcome}`);
  }
}

/**
 * With authentication on, a device that has a secret must present it on the HTTP southbound too
 * (`Authorization: Basic base64(device_id:secret)`), or anyone knowing its group's apikey could
 * write in its name; a device without one keeps the IoT Agents' apikey-only convention.
 */
async function checkDeviceSecret(iot: IotService, req: FastifyRequest, apikey: string, deviceId: string) {
  const held = (await iot.registry.devicesWithSecret(deviceId)).filter(
    (c) => c.device.apikey === undefined || c.device.apikey === apikey,
  );
  if (held.length === 0) return;
  const basic = /^Basic\s+(\S+)$/i.exec(header(req, 'authorization') ?? '')?.[1];
  const [user, ...rest] = basic ? Buffer.from(basic, 'base64').toString('utf8').split(':') : [];
  const secret = rest.join(':');
  const ok =
    user !== undefined &&
    (user === deviceId || user === `${apikey}/${deviceId}`) &&
    held.some((c) => deviceSecretMatches(secret, c.secretHash));
  if (!ok)
    throw new HubError(
      'Unauthorized',
      `Device ${deviceId} has credentials: send them as Authorization: Basic (device id and secret)`,
    );
}

/** Registers the routes in an encapsulated scope (its text/plain parser stays inside it). */
export function registerIotRoutes(
  app: FastifyInstance,
  iot: IotService,
  opts: { deviceSecrets?: boolean } = {},
): void {
  void app.register((r, _opts, done) => {
    r.addContentTypeParser(
      ['text/plain', 'application/octet-stream'],
      { parseAs: 'string' },
      (_req, body, done) => done(null, body),
    );

    r.get('/iot/about', guarded(ANYONE), (_req, reply) => reply.send(ABOUT));

    // Config groups
    r.get('/iot/services', guarded(READS), async (req) => {
      const q = req.query as Record<string, string | undefined>;
      const { service, servicePath } = scope(req, true);
      const filter: { apikey?: string; resource?: string } = {};
      if (q.apikey !== undefined) filter.apikey = q.apikey;
      if (q.resource !== undefined) filter.resource = q.resource;
      return iot.provisioning.listGroups(service, servicePath, page(q), filter);
    });
    r.post('/iot/services', guarded(PROVISIONS), async (req, reply) => {
      const { service, servicePath } = scope(req);
      await iot.provisioning.createGroups(service, servicePath, req.body);
      return reply.code(201).send({});
    });
    r.put('/iot/services', guarded(PROVISIONS), async (req, reply) => {
      const q = req.query as Record<string, string | undefined>;
      const { service, servicePath } = scope(req);
      await iot.provisioning.updateGroup(
        service,
        servicePath,
        required(q, 'apikey'),
        required(q, 'resource'),
        req.body,
      );
      return reply.code(204).send();
    });
    r.delete('/iot/services', guarded(PROVISIONS), async (req, reply) => {
      const q = req.query as Record<string, string | undefined>;
      const { service, servicePath } = scope(req);
      await iot.provisioning.deleteGroup(
        service,
        servicePath,
        required(q, 'apikey'),
        required(q, 'resource'),
      );
      return reply.code(204).send();
    });

    // Devices
    r.get('/iot/devices', guarded(READS), async (req) => {
      const { service, servicePath } = scope(req, true);
      const q = req.query as Record<string, string | undefined>;
      const list = await iot.provisioning.listDevices(service, servicePath, page(q));
      // CityPivot: status=true adds each device's counters and health, as GET /iot/devices/{id} shows them.
      if (q.status === undefined || q.status === 'false') return list;
      if (q.status !== 'true') throw badRequest('status must be true or false');
      const devices = [];
      for (const d of list.devices) devices.push(await withStatus(iot, d));
      return { count: list.count, devices };
    });
    r.post('/iot/devices', guarded(PROVISIONS), async (req, reply) => {
      const { service, servicePath } = scope(req);
      await iot.provisioning.createDevices(service, servicePath, req.body);
      return reply.code(201).send({});
    });
    r.get('/iot/devices/:deviceId', guarded(READS), async (req) => {
      const { service, servicePath } = scope(req);
      const { deviceId } = req.params as { deviceId: string };
      return withStatus(iot, await iot.provisioning.getDevice(service, servicePath, deviceId));
    });
    r.get('/iot/devices/:deviceId/quarantine', guarded(READS), async (req) => {
      const { service, servicePath } = scope(req);
      const { deviceId } = req.params as { deviceId: string };
      await iot.provisioning.getDevice(service, servicePath, deviceId);
      const { limit } = page(req.query as Record<string, string | undefined>);
      return { readings: await iot.registry.listQuarantine(service, servicePath, deviceId, limit) };
    });
    r.put('/iot/devices/:deviceId', guarded(PROVISIONS), async (req, reply) => {
      const { service, servicePath } = scope(req);
      const { deviceId } = req.params as { deviceId: string };
      await iot.provisioning.updateDevice(service, servicePath, deviceId, req.body);
      return reply.code(204).send();
    });
    // CityPivot: a new MQTT secret for the device, shown once.
    r.post('/iot/devices/:deviceId/password', guarded(PROVISIONS), async (req, reply) => {
      const { service, servicePath } = scope(req);
      const { deviceId } = req.params as { deviceId: string };
      return reply.code(201).send(await iot.provisioning.newSecret(service, servicePath, deviceId));
    });
    r.delete('/iot/devices/:deviceId', guarded(PROVISIONS), async (req, reply) => {
      const { service, servicePath } = scope(req);
      const { deviceId } = req.params as { deviceId: string };
      await iot.provisioning.deleteDevice(service, servicePath, deviceId);
      return reply.code(204).send();
    });

    // Southbound HTTP: ?k=apikey&i=device_id[&t=timestamp]
    const southbound = (format: 'json' | 'ul', resource: string) => (req: FastifyRequest) => {
      const q = req.query as Record<string, string | undefined>;
      const msg: SouthboundMessage = {
        apikey: required(q, 'k'),
        deviceId: required(q, 'i'),
        format,
        payload: req.body,
        resource,
      };
      if (msg.payload === undefined) throw badRequest('The request has no payload');
      if (format === 'ul' && typeof msg.payload !== 'string')
        throw new HubError('UnsupportedMediaType', 'Ultralight payloads are sent as text/plain');
      if (format === 'json' && typeof msg.payload === 'string') msg.format = 'json';
      if (q.t !== undefined) {
        if (Number.isNaN(Date.parse(q.t))) throw badRequest('t must be an ISO 8601 date-time');
        msg.timestamp = new Date(q.t).toISOString();
      }
      return msg;
    };
    const json = southbound('json', '/iot/json');
    const ul = southbound('ul', '/iot/d');
    r.post('/iot/json', guarded(DEVICE), async (req, reply) => {
      const msg = json(req);
      if (opts.deviceSecrets) await checkDeviceSecret(iot, req, msg.apikey, msg.deviceId);
      const { status, body } = answer(await iot.ingestion.ingest(msg));
      return reply.code(status).send(body);
    });
    r.post('/iot/d', guarded(DEVICE), async (req, reply) => {
      const msg = ul(req);
      if (opts.deviceSecrets) await checkDeviceSecret(iot, req, msg.apikey, msg.deviceId);
      const { status, body } = answer(await iot.ingestion.ingest(msg));
      return reply.code(status).send(body);
    });

    // Platform API: "where is my data"
    r.get('/api/v1/iot/stats', guarded(READS), async (req) => {
      const service = tenantOf(req);
      await iot.counters.flush();
      const totals = await iot.registry.totals(service);
      return { service, ...totals, health: iot.health.summary(service) };
    });
    done();
  });
}
