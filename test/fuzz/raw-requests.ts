/**
 * Requests that only a raw socket can send, from the seeded generator: most are refused by Node's
 * HTTP parser before Fastify sees them (the hub's clientErrorHandler must still answer with a
 * ProblemDetails), the rest reach the hub spelled in ways inject would normalise away.
 */
import type { Rng } from './prng.js';

export interface RawRequest {
  index: number;
  kind: string;
  bytes: Buffer;
  /** Sent once the answer has begun (a malformed request on a connection busy streaming). */
  then?: Buffer;
  /** The credentials it carries (for the oracles): anonymous unless a token was added. */
  principal: 'anonymous' | 'transport' | 'health';
  /** The request line, for the report. */
  summary: string;
}

const PATHS = [
  '/ngsi-ld/v1/entities?type=Person',
  '/ngsi-ld/v1/entities/urn:ngsi-ld:Person:secret-1',
  '/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:Person:secret-1',
  '/api/v1/users',
  '/api/v1/notifications',
  '/api/v1/audit',
  '/iot/devices',
  '/metrics',
  '/health',
  '/api/v1/stream',
];

const HOSTILE_PATHS = [
  '/ngsi-ld/v1/entities/../../api/v1/users',
  '/ngsi-ld/v1/entities/%2e%2e/%2e%2e/api/v1/users',
  '/api/v1/./users',
  '/api//v1/users',
  '\\api\\v1\\users',
  '/api/v1/users/..',
  '/api/v1/users;x=1',
  '/api/v1/users%00',
  '/api/v1/users%',
  '/api/v1/users#frag',
  '/health/../api/v1/users',
  '//api/v1/users',
  'http://localhost/api/v1/users',
  'http://evil.invalid/api/v1/users',
  '*',
  '/%2e%2e/%2e%2e/etc/passwd',
  '/ngsi-ld/v1/entities/urn:ngsi-ld:T:😀-1',
  '/ngsi-ld/v1/entities/urn:ngsi-ld:T:é',
  '/ngsi-ld/v1/entities?type=Person&q=name=="é"',
  '/iot/devices/é',
];

export function createRawGenerator(tokens: { transport: string; health: string }) {
  const line = (method: string, target: string, version = 'HTTP/1.1') => `${method} ${target} ${version}`;

  return function generate(rng: Rng, index: number): RawRequest {
    const principal = rng.weighted<RawRequest['principal']>([
      [6, 'anonymous'],
      [2, 'transport'],
      [2, 'health'],
    ]);
    const auth = principal === 'anonymous' ? [] : [`Authorization: Bearer ${tokens[principal]}`];
    const base = (extra: string[] = []) => ['Host: 127.0.0.1', ...auth, ...extra, 'Connection: close'];
    const build = (requestLine: string, headers: string[], body = '') =>
      Buffer.concat([
        Buffer.from(`${requestLine}\r\n${headers.join('\r\n')}\r\n\r\n`, 'utf8'),
        Buffer.from(body),
      ]);
    const path = () => rng.pick(PATHS);
    const kind = rng.weighted([
      [3, 'huge-headers'],
      [3, 'raw-utf8-path'],
      [3, 'control-bytes'],
      [4, 'bad-request-line'],
      [3, 'long-url'],
      [4, 'bad-headers'],
      [3, 'hostile-path'],
      [2, 'bodies'],
      [1, 'pipelined'],
      [1, 'mid-answer'],
      [1, 'protocol'],
    ]);
    let bytes: Buffer;
    let then: Buffer | undefined;
    switch (kind) {
      case 'huge-headers': {
        const size = rng.pick([16 * 1024, 17 * 1024, 40 * 1024, 200 * 1024]);
        const headers = rng.chance(0.5)
          ? [`X-Big: ${'a'.repeat(size)}`]
          : Array.from({ length: Math.ceil(size / 100) }, (_v, i) => `X-H${i}: ${'b'.repeat(90)}`);
        bytes = build(line('GET', path()), base(headers));
        break;
      }
      case 'raw-utf8-path': {
        const target = rng.pick([
          '/ngsi-ld/v1/entities/urn:ngsi-ld:T:é',
          '/ngsi-ld/v1/entities/urn:ngsi-ld:T:😀-1',
          '/ngsi-ld/v1/entities?type=Pérson',
          '/api/v1/users/é',
          '/ngsi-ld/v1/entities/urn:ngsi-ld:T:\u202e',
        ]);
        bytes = build(line('GET', target), base());
        break;
      }
      case 'control-bytes': {
        const c = rng.pick([
          '\u0000',
          '\u0001',
          '\u0007',
          '\u001b',
          '\u007f',
          '\t',
          '\u000b',
          '\u000c',
          '\r',
          '\n',
        ]);
        const target =
          rng.pick(['/ngsi-ld/v1/entities/urn:ngsi-ld:T:', '/api/v1/', '/iot/devices/', '/health']) + c + 'x';
        bytes = build(line('GET', target), base());
        break;
      }
      case 'bad-request-line': {
        const requestLine = rng.pick([
          'GET',
          'GET /health',
          'get /health HTTP/1.1',
          'G€T /health HTTP/1.1',
          'GET  /health HTTP/1.1',
          'GET /health HTTP/1.1 extra',
          'GET /health HTTP/9.9',
          'GET /health HTTP/2.0',
          'GET /health HTTP/1',
          'GET /health FTP/1.1',
          'BREW /health HTTP/1.1',
          'QUERY /ngsi-ld/v1/entities HTTP/1.1',
          '/health HTTP/1.1',
          ' GET /health HTTP/1.1',
          'GET health HTTP/1.1',
          '',
          '\u0000\u0001\u0002',
          'PRI * HTTP/2.0',
          'CONNECT 127.0.0.1:443 HTTP/1.1',
          'OPTIONS * HTTP/1.1',
        ]);
        bytes = build(requestLine, base());
        break;
      }
      case 'long-url': {
        const n = rng.pick([2100, 3000, 8000, 15_000, 17_000, 64_000]);
        const target = rng.pick([
          `/ngsi-ld/v1/entities/urn:ngsi-ld:T:${'a'.repeat(n)}`,
          `/ngsi-ld/v1/entities?type=Person&q=${'a'.repeat(n)}`,
          `/api/v1/users/${'%41'.repeat(Math.floor(n / 3))}`,
          `/${'x/'.repeat(Math.floor(n / 2))}`,
        ]);
        bytes = build(line('GET', target), base());
        break;
      }
      case 'bad-headers': {
        const h = rng.pick([
          ['Bad Header: 1'],
          ['NoColon'],
          ['X-Fold: a', ' continued'],
          ['X-Nul: a\u0000b'],
          ['X-Ctl: a\u0001b'],
          [': empty-name'],
          ['Content-Length: 5', 'Content-Length: 6'],
          ['Content-Length: -1'],
          ['Content-Length: abc'],
          ['Content-Length: 1', 'Transfer-Encoding: chunked'],
          ['Transfer-Encoding: gzip, chunked'],
          ['Transfer-Encoding: chunked, identity'],
          ['NGSILD-Tenant: é'],
          ['NGSILD-Tenant: clinic', 'NGSILD-Tenant: traffic'],
          ['Fiware-Service: traffic\u00ff'],
          ['Link: <é>; rel="http://www.w3.org/ns/json-ld#context"'],
          ['Authorization: Bearer é'],
          ['Expect: 100-continue', 'Content-Length: 0'],
          ['Expect: something-else'],
          ['Connection: Upgrade', 'Upgrade: websocket'],
          ['Host: a', 'Host: b'],
          ['Content-Type: application/json\u00e9'],
        ]);
        const noHost = rng.chance(0.15);
        const headers = noHost ? [...auth, ...h, 'Connection: close'] : base(h);
        bytes = build(line(rng.pick(['GET', 'POST']), path()), headers);
        break;
      }
      case 'hostile-path': {
        bytes = build(line(rng.pick(['GET', 'DELETE', 'POST']), rng.pick(HOSTILE_PATHS)), base());
        break;
      }
      case 'bodies': {
        const variant = rng.pick([
          ['Content-Type: application/json', 'Content-Length: 99999999999'],
          ['Content-Type: application/json', 'Transfer-Encoding: chunked'],
          ['Content-Type: application/json', 'Content-Length: 2'],
        ]);
        const body = variant.includes('Transfer-Encoding: chunked')
          ? rng.pick([
              'zz\r\n{}\r\n0\r\n\r\n',
              '2\r\n{}\r\n0\r\n\r\n',
              '-1\r\n\r\n',
              '2;ext=\u0000\r\n{}\r\n0\r\n\r\n',
            ])
          : '{}';
        bytes = build(line('POST', '/ngsi-ld/v1/entityOperations/query'), base(variant), body);
        break;
      }
      case 'pipelined': {
        const first = build(line('GET', '/health'), ['Host: 127.0.0.1']);
        const second = build(
          rng.pick(['get /health HTTP/1.1', line('GET', '/api/v1/users'), 'BROKEN']),
          base(),
        );
        bytes = Buffer.concat([first, second]);
        break;
      }
      case 'mid-answer': {
        // A client that keeps the connection and sends garbage while its answer streams.
        const streaming = rng.pick(['/api/v1/stream', '/api/v1/export', '/ngsi-ld/v1/entities?type=Person']);
        bytes = build(line('GET', streaming), ['Host: 127.0.0.1', ...auth]);
        then = Buffer.from(
          rng.pick(['BROKEN\r\n\r\n', 'get / HTTP/1.1\r\n\r\n', '\u0000\r\n\r\n']),
          'latin1',
        );
        break;
      }
      default: {
        bytes = Buffer.from(
          rng.pick([
            'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
            '\u0016\u0003\u0001\u0002\u0000\u0001\u0000\u0001\u00fc\u0003\u0003',
            'GET /health HTTP/1.0\r\n\r\n',
            'GET /api/v1/users HTTP/1.0\r\n\r\n',
            'GET /health HTTP/1.1\n\n',
            'GET /health HTTP/1.1\r\nHost: x\n\r\n',
          ]),
          'latin1',
        );
      }
    }
    const summary = bytes.subarray(0, Math.min(bytes.length, 200)).toString('latin1').split('\r\n')[0] ?? '';
    return { index, kind, bytes, ...(then ? { then } : {}), principal, summary };
  };
}
