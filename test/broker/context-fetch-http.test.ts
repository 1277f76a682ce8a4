/**
 * The @context fetcher on Node's http client (it left global fetch to check every connection,
 * redirects included, against the outbound rules): what fetch did for free still holds, namely
 * compressed bodies, the 1 MiB limit and a bounded number of redirects.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync, brotliCompressSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchContextDocument } from '../../src/broker/context-resolver.js';

const DOC = { '@context': { a: 'https://e.org/a' } };
let server: Server;
let base = '';
let encodings: (string | undefined)[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    encodings.push(req.headers['accept-encoding']);
    const text = JSON.stringify(DOC);
    if (req.url === '/gzip') res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync(text));
    else if (req.url === '/br')
      res.writeHead(200, { 'content-encoding': 'br' }).end(brotliCompressSync(text));
    else if (req.url === '/big-declared') res.writeHead(200, { 'content-length': String(2 << 20) }).end();
    else if (req.url === '/big-chunked') {
      res.writeHead(200);
      res.end(`{"@context":{"a":"${'x'.repeat(1 << 20)}"}}`);
    } else if (req.url === '/bomb') {
      res.writeHead(200, { 'content-encoding': 'gzip' }).end(gzipSync(' '.repeat(4 << 20)));
    } else if (req.url?.startsWith('/loop')) res.writeHead(301, { location: '/loop' }).end();
    else if (req.url === '/odd') res.writeHead(200, { 'content-encoding': 'compress' }).end('x');
    else res.writeHead(404, 'Not Found').end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

describe('fetchContextDocument over node:http', () => {
  it('asks for and decodes gzip and brotli', async () => {
    encodings = [];
    expect(await fetchContextDocument(`${base}/gzip`)).toEqual(DOC);
    expect(await fetchContextDocument(`${base}/br`)).toEqual(DOC);
    expect(encodings).toEqual(['gzip, deflate, br', 'gzip, deflate, br']);
  });

  it('refuses documents over 1 MiB, declared, streamed or decompressed', async () => {
    for (const path of ['/big-declared', '/big-chunked', '/bomb'])
      await expect(fetchContextDocument(`${base}${path}`), path).rejects.toThrow(/larger than 1 MiB/);
  });

  it('stops after 5 redirects, and says what the status was', async () => {
    await expect(fetchContextDocument(`${base}/loop`)).rejects.toThrow(/more than 5 redirects/);
    await expect(fetchContextDocument(`${base}/missing`)).rejects.toThrow(/^HTTP 404 Not Found$/);
    await expect(fetchContextDocument(`${base}/odd`)).rejects.toThrow(
      /unsupported content-encoding compress/,
    );
  });
});
