/**
 * The HTTP notification sender against a real server: 2xx is success, anything else (redirects
 * included, never followed) a failure with the status, no answer in time a failure that says so,
 * and notifications to one receiver reuse one kept-alive connection.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpSender } from '../../src/broker/notification-senders.js';
import type { ClaimedNotification } from '../../src/core/subscription/subscription-store.js';
import type { NotificationEndpoint } from '../../src/core/subscription/subscription-model.js';

describe('HTTP notification sender', () => {
  let server: Server;
  let base = '';
  const connections = new Set<Socket>();
  const bodies: unknown[] = [];
  const sender = createHttpSender();

  beforeAll(async () => {
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        bodies.push({ path: req.url, headers: req.headers, body: JSON.parse(text) as unknown });
        if (req.url === '/ok') res.writeHead(204).end();
        else if (req.url === '/moved') res.writeHead(301, { location: '/ok' }).end();
        else if (req.url === '/broken') res.writeHead(500).end('no');
        // '/silent' never answers
      });
    });
    server.on('connection', (s) => connections.add(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await sender.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  const note = (n: number): ClaimedNotification => ({
    seq: String(n),
    attempts: 0,
    createdAt: '2026-12-03T00:00:00Z',
    tenant: 'city',
    subscriptionId: 'urn:ngsi-ld:Subscription:s',
    notificationId: `urn:ngsi-ld:Notification:${n}`,
    orderKey: 'e',
    endpoint: base,
    payload: { data: [{ id: 'urn:ngsi-ld:Room:1', type: 'Room' }], context: undefined },
    target: { uri: '', accept: 'application/json' },
  });
  const to = (path: string): NotificationEndpoint => ({
    uri: `${base}${path}`,
    accept: 'application/json',
    receiverInfo: [{ key: 'X-City', value: 'demo' }],
  });

  it('posts the notification with its headers and reuses the connection', async () => {
    for (let n = 0; n < 5; n++) await sender.send(note(n), to('/ok'), '2026-12-03T01:00:00Z', 2000);
    expect(bodies).toHaveLength(5);
    expect(bodies[4]).toMatchObject({
      path: '/ok',
      headers: { 'content-type': 'application/json', 'ngsild-tenant': 'city', 'x-city': 'demo' },
      body: { id: 'urn:ngsi-ld:Notification:4', type: 'Notification', notifiedAt: '2026-12-03T01:00:00Z' },
    });
    expect(connections.size).toBe(1);
  });

  it('fails on anything but 2xx, without following redirects', async () => {
    await expect(sender.send(note(6), to('/broken'), 'now', 2000)).rejects.toThrow(/answered HTTP 500/);
    await expect(sender.send(note(7), to('/moved'), 'now', 2000)).rejects.toThrow(/answered HTTP 301/);
    expect(bodies.filter((b) => (b as { path: string }).path === '/ok')).toHaveLength(5);
  });

  it('gives up on a receiver that does not answer in time, and on what is not http(s)', async () => {
    await expect(sender.send(note(8), to('/silent'), 'now', 200)).rejects.toThrow(/no answer within 200 ms/);
    await expect(
      sender.send(note(9), { uri: 'ftp://127.0.0.1/x', accept: 'application/json' }, 'now', 200),
    ).rejects.toThrow(/not an http\(s\) URL/);
    await expect(
      sender.send(note(10), { uri: 'http://127.0.0.1:1/x', accept: 'application/json' }, 'now', 2000),
    ).rejects.toThrow(/ECONNREFUSED/);
  });
});
