/**
 * The outbound rules at connection time, with an injected resolver standing in for DNS: a name that
 * resolves to a refused address is refused when connecting (HTTP, MQTT, @context fetches), whatever
 * the URL said, and nothing reaches the server; a name that resolves to an allowed address
 * connects to that address and keeps the name for TLS.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext, createServer as createTlsServer } from 'node:tls';
import { promisify } from 'node:util';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContextResolver, fetchContextDocument } from '../../src/broker/context-resolver.js';
import { createHttpSender, createMqttSender } from '../../src/broker/notification-senders.js';
import { createOutboundGuard, type HostResolver } from '../../src/broker/outbound-guard.js';
import { EndpointRefusedError } from '../../src/core/addresses/endpoint-rules.js';
import type { ClaimedNotification } from '../../src/core/subscription/subscription-store.js';
import type { NotificationEndpoint } from '../../src/core/subscription/subscription-model.js';

/** A city's DNS as the tests want it. */
const zone: Record<string, string[]> = {
  'receiver.city.test': ['127.0.0.1'],
  'metadata.city.test': ['169.254.169.254'],
  'rebind.city.test': ['127.0.0.1', '169.254.169.254'],
  'mapped.city.test': ['::ffff:169.254.169.254'],
};
const lookups: string[] = [];
const resolver: HostResolver = (hostname) => {
  lookups.push(hostname);
  const found = zone[hostname];
  if (!found)
    return Promise.reject(
      Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }),
    );
  return Promise.resolve(found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
};
const guard = createOutboundGuard({ resolver });

const note: ClaimedNotification = {
  seq: '1',
  attempts: 0,
  createdAt: '2026-12-03T00:00:00Z',
  tenant: '',
  subscriptionId: 'urn:ngsi-ld:Subscription:s',
  notificationId: 'urn:ngsi-ld:Notification:1',
  orderKey: 'e',
  endpoint: '',
  payload: { data: [{ id: 'urn:ngsi-ld:Room:1', type: 'Room' }], context: undefined },
  target: { uri: '', accept: 'application/json' },
};
const to = (uri: string): NotificationEndpoint => ({ uri, accept: 'application/json' });

let server: Server;
let port = 0;
const hits: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    req.resume();
    if (req.url === '/ctx') res.writeHead(200).end('{"@context":{"a":"https://e.org/a"}}');
    else if (req.url?.startsWith('/to/'))
      res.writeHead(302, { location: decodeURIComponent(req.url.slice(4)) }).end();
    else res.writeHead(204).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

describe('the guard', () => {
  it('resolves a name to addresses that are all allowed, or refuses it naming the address', async () => {
    expect(await guard.resolve('receiver.city.test')).toEqual([{ address: '127.0.0.1', family: 4 }]);
    expect(await guard.resolve('[::1]')).toEqual([{ address: '::1', family: 6 }]);
    await expect(guard.resolve('metadata.city.test')).rejects.toThrow(
      /^metadata\.city\.test resolves to 169\.254\.169\.254, which is in 169\.254\.0\.0\/16/,
    );
    // One refused address among allowed ones refuses the name: no rebinding between attempts.
    await expect(guard.resolve('rebind.city.test')).rejects.toBeInstanceOf(EndpointRefusedError);
    await expect(guard.resolve('mapped.city.test')).rejects.toThrow(/IPv4-mapped form of 169\.254\.169\.254/);
    await expect(guard.resolve('nowhere.city.test')).rejects.toThrow(/ENOTFOUND/);
  });

  it('checks IP literal hosts, which Node connects to without a lookup', () => {
    expect(() => guard.checkHost('169.254.169.254')).toThrow(EndpointRefusedError);
    expect(() => guard.checkHost('[fd00:ec2::254]')).toThrow(/AWS IPv6 metadata service/);
    expect(() => guard.checkHost('127.0.0.1')).not.toThrow();
    expect(() => guard.checkHost('receiver.city.test')).not.toThrow(); // judged when resolved
  });
});

describe('HTTP notifications', () => {
  const sender = createHttpSender({ guard });
  afterAll(() => sender.close());

  it('deliver to a name through the checked address', async () => {
    await sender.send(note, to(`http://receiver.city.test:${port}/named`), 'now', 2000);
    expect(hits).toContain('/named');
    expect(lookups).toContain('receiver.city.test');
  });

  it.each([
    [
      `http://metadata.city.test:${0}/x`,
      /metadata\.city\.test resolves to 169\.254\.169\.254, which is in 169\.254\.0\.0\/16/,
    ],
    [`http://rebind.city.test:${0}/x`, /rebind\.city\.test resolves to 169\.254\.169\.254/],
    [
      'http://169.254.169.254/latest/meta-data/',
      /169\.254\.169\.254 is in 169\.254\.0\.0\/16 .*--allow-endpoints/,
    ],
    ['http://[::ffff:169.254.169.254]/', /IPv4-mapped form of 169\.254\.169\.254/],
    ['https://[fd00:ec2::254]/', /AWS IPv6 metadata service/],
    ['http://0xa9fea9fe/', /169\.254\.169\.254 is in/], // WHATWG URL reads it as 169.254.169.254
  ])('refuse %s with the rule, sending nothing', async (uri, message) => {
    const before = hits.length;
    const target = uri.replace(':0/', `:${port}/`);
    await expect(sender.send(note, to(target), 'now', 2000)).rejects.toThrow(message);
    expect(hits.length).toBe(before);
  });
});

describe('@context fetches', () => {
  const base = () => `http://127.0.0.1:${port}`;

  it('fetch through a name that resolves to an allowed address', async () => {
    expect(await fetchContextDocument(`http://receiver.city.test:${port}/ctx`, guard)).toEqual({
      '@context': { a: 'https://e.org/a' },
    });
  });

  it('do not follow a redirect to a refused address or name', async () => {
    const via = (url: string) => `${base()}/to/${encodeURIComponent(url)}`;
    await expect(fetchContextDocument(via('http://169.254.169.254/ctx'), guard)).rejects.toThrow(
      /169\.254\.169\.254 is in 169\.254\.0\.0\/16/,
    );
    await expect(fetchContextDocument(via(`http://metadata.city.test:${port}/ctx`), guard)).rejects.toThrow(
      /metadata\.city\.test resolves to 169\.254\.169\.254/,
    );
    // Allowed redirects are still followed.
    expect(await fetchContextDocument(via(`http://receiver.city.test:${port}/ctx`), guard)).toEqual({
      '@context': { a: 'https://e.org/a' },
    });
  });

  it('refuse by default (no guard given) and through the resolver as LdContextNotAvailable', async () => {
    await expect(fetchContextDocument('http://169.254.169.254/ctx')).rejects.toBeInstanceOf(
      EndpointRefusedError,
    );
    const bundled = new Map<string, unknown>([
      [
        'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld',
        { '@context': { id: '@id', type: '@type' } },
      ],
    ]);
    const resolver = createContextResolver({ bundled, outbound: { deny: ['127.0.0.0/8'] } });
    await expect(resolver.resolve(`${base()}/ctx`)).rejects.toMatchObject({
      code: 'LdContextNotAvailable',
      message: expect.stringMatching(/127\.0\.0\.1 is in 127\.0\.0\.0\/8, refused by --deny-endpoints/),
    });
  });
});

describe('MQTT notifications', () => {
  let broker: Aedes;
  let tcp: ReturnType<typeof createTcpServer>;
  let brokerPort = 0;
  const sender = createMqttSender({ guard });

  beforeAll(async () => {
    broker = await Aedes.createBroker();
    tcp = createTcpServer(broker.handle);
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
    brokerPort = (tcp.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await sender.close();
    await new Promise<void>((r) => broker.close(() => r()));
    await new Promise<void>((r) => tcp.close(() => r()));
  });

  it('publish through a name resolved and checked first', async () => {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${brokerPort}`);
    const got: string[] = [];
    client.on('message', (t) => got.push(t));
    await client.subscribeAsync('city/alerts');
    try {
      await sender.send(note, to(`mqtt://receiver.city.test:${brokerPort}/city/alerts`), 'now', 2000);
      await expect.poll(() => got).toEqual(['city/alerts']);
    } finally {
      await client.endAsync();
    }
  });

  it('refuse a broker on a refused address, by name or literal, naming the rule', async () => {
    await expect(
      sender.send(note, to(`mqtt://metadata.city.test:${brokerPort}/t`), 'now', 2000),
    ).rejects.toThrow(
      /^mqtt:\/\/metadata\.city\.test:\d+: metadata\.city\.test resolves to 169\.254\.169\.254/,
    );
    await expect(sender.send(note, to('mqtts://[fe80::1]/t'), 'now', 2000)).rejects.toThrow(
      /fe80::1 is in fe80::\/10 \(IPv6 link-local\)/,
    );
  });

  it('keep the name for TLS (SNI and the certificate check) while connecting to the checked address', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'citypivot-sni-'));
    try {
      await promisify(execFile)('openssl', [
        ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
        ...['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1'],
        ...['-subj', '/CN=receiver.city.test'],
      ]);
      const context = createSecureContext({
        key: await readFile(join(dir, 'key.pem')),
        cert: await readFile(join(dir, 'cert.pem')),
      });
      const names: string[] = [];
      const tls = createTlsServer({
        SNICallback: (name, cb) => {
          names.push(name);
          cb(null, context);
        },
      });
      tls.on('tlsClientError', () => undefined);
      await new Promise<void>((r) => tls.listen(0, '127.0.0.1', () => r()));
      const tlsPort = (tls.address() as AddressInfo).port;
      try {
        // The certificate is self-signed: the client refuses it, after sending the name.
        await expect(
          sender.send(note, to(`mqtts://receiver.city.test:${tlsPort}/t`), 'now', 2000),
        ).rejects.toThrow(/self-signed certificate/);
        expect(names).toEqual(['receiver.city.test']);
      } finally {
        await new Promise<void>((r) => tls.close(() => r()));
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
