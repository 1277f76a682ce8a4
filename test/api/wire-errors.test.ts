/**
 * Issue 15, item 7: every 4xx and 5xx is an NGSI-LD ProblemDetails, framework errors included,
 * and no input makes the hub answer 500. Sent over a real socket, byte for byte, because Node's
 * HTTP parser answers some requests before Fastify sees them (headers too large, raw UTF-8 or
 * control characters in the request line, a malformed request line). Also: ids with characters
 * outside Latin-1 are stored and answered with a valid Location header (the client is told the
 * write happened, and can follow the Location back to the entity).
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { createHubServices } from '../../src/server/hub-services.js';
import { createPostgresStore } from '../../src/store/postgres-store.js';
import type { Store } from '../../src/core/store.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

let db: TestDatabase;
let store: Store;
let app: FastifyInstance;
let services: Awaited<ReturnType<typeof createHubServices>>;
let port = 0;

/** Sends raw bytes, returns the status and body of the answer (the connection closes or ends). */
function raw(bytes: Buffer | string): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, headers: head, body: rest.join('\r\n\r\n') });
    };
    socket.setTimeout(10_000, () => {
      socket.destroy();
      reject(new Error('no answer within 10 s'));
    });
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      // one answer is all we wait for: a complete body with Content-Length
      const text = Buffer.concat(chunks).toString('utf8');
      const m = /content-length: (\d+)/i.exec(text);
      const at = text.indexOf('\r\n\r\n');
      if (m && at >= 0 && Buffer.byteLength(text.slice(at + 4)) >= Number(m[1])) {
        socket.end();
        done();
        socket.destroy();
      }
    });
    socket.on('end', done);
    socket.on('error', reject);
    socket.write(bytes);
  });
}

function expectProblem(r: { status: number; body: string }, status: number): void {
  expect(r.status, r.body).toBe(status);
  const pd = JSON.parse(r.body) as { type: string; title: string; status: number; detail: string };
  expect(pd.status).toBe(status);
  expect(pd.type).toMatch(/^https:\/\/uri\.etsi\.org\/ngsi-ld\/errors\//);
  expect(typeof pd.title).toBe('string');
  expect(typeof pd.detail).toBe('string');
}

beforeAll(async () => {
  db = await createTestDatabase();
  store = await createPostgresStore({ url: db.url, max: 4 });
  services = await createHubServices(store, { fetchContexts: false });
  app = services.app;
  await services.start();
  await app.listen({ port: 0, host: '127.0.0.1' });
  port = (app.server.address() as { port: number }).port;
});

afterAll(async () => {
  await services?.stop();
  await app?.close();
  await store?.close();
  await db?.drop();
});

describe('errors before any route are ProblemDetails', () => {
  it('431 for a header block larger than the server takes', async () => {
    const big = `x-filler: ${'a'.repeat(20_000)}\r\n`;
    expectProblem(await raw(`GET /ngsi-ld/v1/entities?type=T HTTP/1.1\r\nHost: x\r\n${big}\r\n`), 431);
  });

  it('400 for raw UTF-8 bytes and control characters in the request line', async () => {
    const utf8 = Buffer.concat([
      Buffer.from('GET /ngsi-ld/v1/entities/urn:ngsi-ld:T:'),
      Buffer.from('😀', 'utf8'),
      Buffer.from(' HTTP/1.1\r\nHost: x\r\n\r\n'),
    ]);
    const a = await raw(utf8);
    expect([400, 404]).toContain(a.status);
    expectProblem(a, a.status);
    expectProblem(await raw('GET /ngsi-ld/v1/entities/a\u0001b HTTP/1.1\r\nHost: x\r\n\r\n'), 400);
  });

  it('400 for a request line that is not HTTP', async () => {
    expectProblem(await raw('HELLO THERE\r\n\r\n'), 400);
  });

  it('400 for a malformed percent-encoding, 404 for an encoded % that names nothing', async () => {
    expectProblem(await raw('GET /ngsi-ld/v1/entities/%zz HTTP/1.1\r\nHost: x\r\n\r\n'), 400);
    expectProblem(await raw('GET /ngsi-ld/v1/jsonldContexts/%25 HTTP/1.1\r\nHost: x\r\n\r\n'), 404);
  });

  it('an entity id longer than the router takes is a ProblemDetails, not a bare 414', async () => {
    const r = await raw(
      `GET /ngsi-ld/v1/entities/urn:ngsi-ld:T:${'x'.repeat(3000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    expect([400, 404, 414]).toContain(r.status);
    expectProblem(r, r.status);
  });
});

/** Sends raw bytes and reads until the server closes: every answer's status line, in order. */
function rawAll(bytes: Buffer | string, then?: { after: string; send: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let sent = false;
    socket.setTimeout(10_000, () => {
      socket.destroy();
      resolve(text);
    });
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (then && !sent && text.includes(then.after)) {
        sent = true;
        socket.write(then.send);
      }
    });
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
    socket.write(bytes);
  });
}
const statusLines = (text: string) => [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));

describe("what Node's HTTP server answers by itself is a ProblemDetails too", () => {
  it('417 for an Expect the hub does not meet', async () => {
    const r = await raw(
      'GET /health HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\nConnection: close\r\n\r\n',
    );
    expectProblem(r, 417);
  });

  it('405 for CONNECT (the hub is no proxy)', async () => {
    const r = await raw('CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n');
    expectProblem(r, 405);
  });

  it('400 for an HTTP/1.1 request without Host; HTTP/1.0 needs none', async () => {
    expectProblem(await raw('GET /health HTTP/1.1\r\nConnection: close\r\n\r\n'), 400);
    expect((await raw('GET /health HTTP/1.0\r\n\r\n')).status).toBe(200);
  });

  it('400 for a chunked body whose chunk size is not hexadecimal', async () => {
    const r = await raw(
      'POST /ngsi-ld/v1/entityOperations/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        'Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
    );
    expectProblem(r, 400);
  });

  it('a bad request after a good one on the same connection: both are answered, in order', async () => {
    const text = await rawAll('GET /health HTTP/1.1\r\nHost: x\r\n\r\nBROKEN\r\nHost: x\r\n\r\n');
    expect(statusLines(text)).toEqual([200, 400]);
  });

  it('bad bytes while an answer streams never cut into it', async () => {
    await app.inject({
      method: 'POST',
      url: '/ngsi-ld/v1/entities',
      headers: { 'content-type': 'application/json' },
      payload: { id: 'urn:ngsi-ld:WireThing:1', type: 'WireThing', n: { type: 'Property', value: 1 } },
    });
    const text = await rawAll('GET /ngsi-ld/v1/entities?type=WireThing HTTP/1.1\r\nHost: x\r\n\r\n', {
      after: 'HTTP/1.1 200',
      send: '\u0000\r\n\r\n',
    });
    expect(statusLines(text)).toEqual([200, 400]);
    const first = text.slice(0, text.indexOf('HTTP/1.1 400'));
    expect(first).toContain('urn:ngsi-ld:WireThing:1');
    expect(first.trimEnd().endsWith(']')).toBe(true);
  });
});

describe('ids outside Latin-1', () => {
  const ID = 'urn:ngsi-ld:T:😀-1';

  it('are stored, answered 201 with a percent-encoded Location that leads back to the entity', async () => {
    const r = await app.inject({
      method: 'POST',
      url: '/ngsi-ld/v1/entities',
      payload: { id: ID, type: 'T', name: { type: 'Property', value: 'smile' } },
    });
    expect(r.statusCode, r.body).toBe(201);
    const location = String(r.headers.location);
    expect(location).toMatch(/^[\x21-\x7e]+$/);
    const back = await app.inject({ method: 'GET', url: location });
    expect(back.statusCode, back.body).toBe(200);
    expect((JSON.parse(back.body) as { id: string }).id).toBe(ID);
    // and over the wire, where Node itself writes the header
    const wire = await fetch(`http://127.0.0.1:${port}/ngsi-ld/v1/entities`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'urn:ngsi-ld:T:é-2', type: 'T' }),
    });
    expect(wire.status).toBe(201);
    expect(wire.headers.get('location')).toBe('/ngsi-ld/v1/entities/urn:ngsi-ld:T:%C3%A9-2');
  });

  it('work in batches, subscriptions and temporal provision', async () => {
    const batch = await app.inject({
      method: 'POST',
      url: '/ngsi-ld/v1/entityOperations/create',
      payload: [{ id: 'urn:ngsi-ld:T:中文-3', type: 'T' }],
    });
    expect(batch.statusCode, batch.body).toBe(201);
    const sub = await app.inject({
      method: 'POST',
      url: '/ngsi-ld/v1/subscriptions',
      payload: {
        id: 'urn:ngsi-ld:Subscription:订阅-1',
        type: 'Subscription',
        entities: [{ type: 'T' }],
        notification: { endpoint: { uri: 'http://127.0.0.1:9/n' } },
      },
    });
    expect(sub.statusCode, sub.body).toBe(201);
    expect(String(sub.headers.location)).toMatch(/^[\x21-\x7e]+$/);
    const t = await app.inject({
      method: 'POST',
      url: '/ngsi-ld/v1/temporal/entities',
      payload: {
        id: 'urn:ngsi-ld:T:温度-4',
        type: 'T',
        temp: [{ type: 'Property', value: 20, observedAt: '2026-12-01T10:00:00Z' }],
      },
    });
    expect(t.statusCode, t.body).toBe(201);
    expect(String(t.headers.location)).toMatch(/^[\x21-\x7e]+$/);
    const back = await app.inject({ method: 'GET', url: String(t.headers.location) });
    expect(back.statusCode, back.body).toBe(200);
  });
});
