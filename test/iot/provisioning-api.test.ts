/**
 * The FIWARE IoT Agent provisioning API on the hub's port: config groups and devices, with
 * fiware-service as the NGSI-LD tenant and fiware-servicepath kept; bad requests get
 * ProblemDetails and store nothing; a device's entity is created through the entity service.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIotTestHub, svc } from './support/iot-hub.js';
import type { IotTestHub } from './support/iot-hub.js';

let hub: IotTestHub;
beforeAll(async () => {
  hub = await createIotTestHub({ mqtt: 'off' });
});
afterAll(async () => {
  await hub.close();
});

const json = <T = Record<string, unknown>>(r: { body: string }) => JSON.parse(r.body) as T;

describe('config groups /iot/services', () => {
  it('creates, lists, updates and deletes a group', async () => {
    const post = await hub.request({
      method: 'POST',
      url: '/iot/services',
      headers: svc('cityA', '/env'),
      payload: {
        services: [
          {
            apikey: 'k-air',
            resource: '/iot/json',
            entity_type: 'AirQualityObserved',
            attributes: [{ object_id: 'n', name: 'NO2', type: 'Number' }],
          },
        ],
      },
    });
    expect(post.statusCode).toBe(201);
    const list = await hub.request({ method: 'GET', url: '/iot/services', headers: svc('cityA', '/env') });
    expect(list.statusCode).toBe(200);
    const body = json<{
      count: number;
      services: { apikey: string; entity_type: string; subservice: string }[];
    }>(list);
    expect(body.count).toBe(1);
    expect(body.services[0]).toMatchObject({
      apikey: 'k-air',
      entity_type: 'AirQualityObserved',
      subservice: '/env',
    });
    // Another servicepath sees nothing; the wildcard sees all of the service; another service nothing.
    expect(
      json<{ count: number }>(
        await hub.request({ method: 'GET', url: '/iot/services', headers: svc('cityA', '/other') }),
      ).count,
    ).toBe(0);
    expect(
      json<{ count: number }>(
        await hub.request({ method: 'GET', url: '/iot/services', headers: svc('cityA', '/*') }),
      ).count,
    ).toBe(1);
    expect(
      json<{ count: number }>(
        await hub.request({ method: 'GET', url: '/iot/services', headers: svc('cityB', '/env') }),
      ).count,
    ).toBe(0);

    const put = await hub.request({
      method: 'PUT',
      url: '/iot/services?apikey=k-air&resource=/iot/json',
      headers: svc('cityA', '/env'),
      payload: { expected_interval: 60 },
    });
    expect(put.statusCode).toBe(204);
    const after = json<{ services: { expected_interval: number; attributes: unknown[] }[] }>(
      await hub.request({ method: 'GET', url: '/iot/services', headers: svc('cityA', '/env') }),
    );
    expect(after.services[0]?.expected_interval).toBe(60);
    expect(after.services[0]?.attributes).toHaveLength(1);

    const del = await hub.request({
      method: 'DELETE',
      url: '/iot/services?apikey=k-air&resource=/iot/json',
      headers: svc('cityA', '/env'),
    });
    expect(del.statusCode).toBe(204);
    const again = await hub.request({
      method: 'DELETE',
      url: '/iot/services?apikey=k-air&resource=/iot/json',
      headers: svc('cityA', '/env'),
    });
    expect(again.statusCode).toBe(404);
  });

  it('refuses bad groups with ProblemDetails and stores none of the request', async () => {
    const cases: [unknown, RegExp][] = [
      [{}, /services array/],
      [{ services: [{ resource: '/iot/d' }] }, /apikey is required/],
      [{ services: [{ apikey: 'k', resource: 'iot/d' }] }, /resource must be a path/],
      [
        { services: [{ apikey: 'k', resource: '/iot/d', attributes: [{ name: 'id', type: 'Text' }] }] },
        /cannot be an attribute name/,
      ],
      [
        {
          services: [
            {
              apikey: 'k',
              resource: '/iot/d',
              attributes: [{ name: 't', type: 'Number', expression: 't.constructor' }],
            },
          ],
        },
        /not allowed/,
      ],
      [
        {
          services: [
            {
              apikey: 'k',
              resource: '/iot/d',
              attributes: [{ name: 't', type: 'Number', expression: 'eval(t)' }],
            },
          ],
        },
        /Unknown function eval/,
      ],
      [
        {
          services: [
            { apikey: 'ok1', resource: '/iot/d' },
            { apikey: 'k', resource: '/iot/d', schema_validation: 'maybe' },
          ],
        },
        /schema_validation/,
      ],
    ];
    for (const [payload, detail] of cases) {
      const r = await hub.request({
        method: 'POST',
        url: '/iot/services',
        headers: svc('bad'),
        payload: payload as object,
      });
      expect(r.statusCode, JSON.stringify(payload)).toBe(400);
      expect(json<{ type: string; detail: string }>(r)).toMatchObject({
        type: 'https://uri.etsi.org/ngsi-ld/errors/BadRequestData',
        detail: expect.stringMatching(detail),
      });
    }
    expect(
      json<{ count: number }>(
        await hub.request({ method: 'GET', url: '/iot/services', headers: svc('bad', '/*') }),
      ).count,
    ).toBe(0);
    const hdr = await hub.request({ method: 'GET', url: '/iot/services', headers: svc('bad', 'no-slash') });
    expect(hdr.statusCode).toBe(400);
  });

  it('answers a duplicate group with 409', async () => {
    const payload = { services: [{ apikey: 'dup', resource: '/iot/d' }] };
    expect(
      (await hub.request({ method: 'POST', url: '/iot/services', headers: svc('dup'), payload })).statusCode,
    ).toBe(201);
    const r = await hub.request({ method: 'POST', url: '/iot/services', headers: svc('dup'), payload });
    expect(r.statusCode).toBe(409);
    expect(json(r).type).toBe('https://uri.etsi.org/ngsi-ld/errors/AlreadyExists');
  });
});

describe('devices /iot/devices', () => {
  it('provisions a device and creates its entity in the tenant, with static and command attributes', async () => {
    const r = await hub.request({
      method: 'POST',
      url: '/iot/devices',
      headers: svc('cityC', '/lights'),
      payload: {
        devices: [
          {
            device_id: 'lamp1',
            entity_name: 'urn:ngsi-ld:Streetlight:lamp1',
            entity_type: 'Streetlight',
            attributes: [{ object_id: 'l', name: 'illuminanceLevel', type: 'Number' }],
            static_attributes: [
              { name: 'location', type: 'geo:json', value: { type: 'Point', coordinates: [113.6, 34.7] } },
            ],
            commands: [{ name: 'switch', type: 'command' }],
          },
        ],
      },
    });
    expect(r.statusCode).toBe(201);
    const got = await hub.request({
      method: 'GET',
      url: '/iot/devices/lamp1',
      headers: svc('cityC', '/lights'),
    });
    expect(got.statusCode).toBe(200);
    expect(json(got)).toMatchObject({
      device_id: 'lamp1',
      service: 'cityC',
      service_path: '/lights',
      entity_name: 'urn:ngsi-ld:Streetlight:lamp1',
      attributes: [{ object_id: 'l', name: 'illuminanceLevel', type: 'Number' }],
      health: 'unknown',
    });
    const e = await hub.request({
      method: 'GET',
      url: '/ngsi-ld/v1/entities/urn:ngsi-ld:Streetlight:lamp1',
      headers: {
        'NGSILD-Tenant': 'cityC',
        link: '<https://smart-data-models.github.io/dataModel.Streetlighting/context.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"',
      },
    });
    expect(e.statusCode).toBe(200);
    const entity = json(e);
    expect(entity.type).toBe('Streetlight');
    expect(entity.location).toMatchObject({ type: 'GeoProperty', value: { type: 'Point' } });
    expect(entity.switch_status).toMatchObject({ value: 'UNKNOWN' });
    // Another tenant does not see it.
    const other = await hub.request({
      method: 'GET',
      url: '/iot/devices/lamp1',
      headers: svc('cityD', '/lights'),
    });
    expect(other.statusCode).toBe(404);
  });

  it('lists with limit, offset and count; updates; deletes', async () => {
    const devices = Array.from({ length: 5 }, (_, i) => ({ device_id: `d${i}`, entity_type: 'Thing' }));
    expect(
      (
        await hub.request({
          method: 'POST',
          url: '/iot/devices',
          headers: svc('cityE'),
          payload: { devices },
        })
      ).statusCode,
    ).toBe(201);
    const page = json<{ count: number; devices: { device_id: string; entity_name: string }[] }>(
      await hub.request({ method: 'GET', url: '/iot/devices?limit=2&offset=1', headers: svc('cityE') }),
    );
    expect(page.count).toBe(5);
    expect(page.devices.map((d) => d.device_id)).toEqual(['d1', 'd2']);
    expect(page.devices[0]?.entity_name).toBe('urn:ngsi-ld:Thing:d1');
    const put = await hub.request({
      method: 'PUT',
      url: '/iot/devices/d1',
      headers: svc('cityE'),
      payload: { expected_interval: 5 },
    });
    expect(put.statusCode).toBe(204);
    const bad = await hub.request({
      method: 'PUT',
      url: '/iot/devices/d1',
      headers: svc('cityE'),
      payload: { entity_name: 'urn:x:y' },
    });
    expect(bad.statusCode).toBe(400);
    expect(
      json(await hub.request({ method: 'GET', url: '/iot/devices/d1', headers: svc('cityE') }))
        .expected_interval,
    ).toBe(5);
    expect(
      (await hub.request({ method: 'DELETE', url: '/iot/devices/d1', headers: svc('cityE') })).statusCode,
    ).toBe(204);
    expect(
      (await hub.request({ method: 'GET', url: '/iot/devices/d1', headers: svc('cityE') })).statusCode,
    ).toBe(404);
    expect(
      (await hub.request({ method: 'GET', url: '/iot/devices?limit=0', headers: svc('cityE') })).statusCode,
    ).toBe(400);
    expect(
      (await hub.request({ method: 'GET', url: '/iot/devices?limit=abc', headers: svc('cityE') })).statusCode,
    ).toBe(400);
  });

  it('refuses bad devices and duplicates, storing nothing of the request', async () => {
    const bad = await hub.request({
      method: 'POST',
      url: '/iot/devices',
      headers: svc('cityF'),
      payload: { devices: [{ device_id: 'ok' }, { device_id: 'x y' }] },
    });
    expect(bad.statusCode).toBe(400);
    expect(
      json<{ count: number }>(
        await hub.request({ method: 'GET', url: '/iot/devices', headers: svc('cityF') }),
      ).count,
    ).toBe(0);
    const notUri = await hub.request({
      method: 'POST',
      url: '/iot/devices',
      headers: svc('cityF'),
      payload: { devices: [{ device_id: 'a', entity_name: 'plain' }] },
    });
    expect(notUri.statusCode).toBe(400);
    expect(json(notUri).detail).toMatch(/not a URI/);
    const one = { devices: [{ device_id: 'same' }] };
    expect(
      (await hub.request({ method: 'POST', url: '/iot/devices', headers: svc('cityF'), payload: one }))
        .statusCode,
    ).toBe(201);
    expect(
      (await hub.request({ method: 'POST', url: '/iot/devices', headers: svc('cityF'), payload: one }))
        .statusCode,
    ).toBe(409);
    const notJson = await hub.request({
      method: 'POST',
      url: '/iot/devices',
      headers: { ...svc('cityF'), 'content-type': 'application/json' },
      payload: '{nope',
    });
    expect(notJson.statusCode).toBe(400);
    const badTenant = await hub.request({ method: 'GET', url: '/iot/devices', headers: svc('bad tenant!') });
    expect(badTenant.statusCode).toBe(400);
  });
});
