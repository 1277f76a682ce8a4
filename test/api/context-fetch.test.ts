/**
 * A @context URL the hub does not bundle is fetched once over HTTP, kept in the database, and
 * still resolves after a restart when its server is gone.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHubServices } from '../../src/server/hub-services.js';
import { JSON_CT, createTestHub, json, link } from '../support/test-hub.js';
import type { TestHub } from '../support/test-hub.js';

let hub: TestHub;
let hits = 0;
const server = createServer((req, res) => {
  hits++;
  if (req.url === '/city.jsonld') {
    res.writeHead(200, { 'content-type': 'application/ld+json' });
    res.end(
      JSON.stringify({
        '@context': { noiseLevel: 'https://city.example/noiseLevel', Meter: 'https://city.example/Meter' },
      }),
    );
  } else {
    res.writeHead(404).end();
  }
});
let base = '';

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  hub = await createTestHub({ fetchContexts: true });
});
afterAll(async () => {
  server.close();
  await hub?.close();
});

describe('remote @context', () => {
  it('fetches once, caches in the database, and survives the origin going away', async () => {
    const ctx = link(`${base}/city.jsonld`);
    for (let i = 1; i <= 3; i++) {
      const res = await hub.request({
        method: 'POST',
        url: '/ngsi-ld/v1/entities',
        headers: { ...JSON_CT, ...ctx },
        payload: JSON.stringify({ id: `urn:ngsi-ld:Meter:${i}`, type: 'Meter', noiseLevel: 50 + i }),
      });
      expect(res.statusCode, res.body).toBe(201);
    }
    expect(hits).toBe(1);
    const got = json<Record<string, unknown>>(
      await hub.request({ method: 'GET', url: '/ngsi-ld/v1/entities/urn:ngsi-ld:Meter:1' }),
    );
    expect(got.type).toBe('https://city.example/Meter');

    const listed = json<{ URL: string; kind: string }[]>(
      await hub.request({ method: 'GET', url: '/ngsi-ld/v1/jsonldContexts?details=true&kind=Cached' }),
    );
    expect(listed.map((c) => c.URL)).toContain(`${base}/city.jsonld`);

    await new Promise<void>((resolve) => server.close(() => resolve()));
    // A new set of services (a restarted hub) on the same database: no fetch possible any more.
    const restarted = await createHubServices(hub.store, { fetchContexts: false });
    try {
      const res = await restarted.app.inject({
        method: 'GET',
        url: '/ngsi-ld/v1/entities?type=Meter&q=noiseLevel>51',
        headers: ctx,
      });
      expect(res.statusCode, res.body).toBe(200);
      expect(
        json<{ id: string }[]>(res)
          .map((e) => e.id)
          .sort(),
      ).toEqual(['urn:ngsi-ld:Meter:2', 'urn:ngsi-ld:Meter:3']);
    } finally {
      await restarted.app.close();
    }
  });

  it('answers 503 when the context URL cannot be loaded', async () => {
    const res = await hub.request({
      method: 'GET',
      url: '/ngsi-ld/v1/types',
      headers: link(`${base}/missing.jsonld`),
    });
    expect(res.statusCode).toBe(503);
  });
});
