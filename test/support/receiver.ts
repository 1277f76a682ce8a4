/**
 * A real HTTP notification receiver on port 0 for subscription tests: it records every POST and can
 * be told to fail (answer 500), to hang, or be stopped and started again on the same port.
 */
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: {
    id: string;
    type: string;
    subscriptionId: string;
    notifiedAt: string;
    data: Record<string, unknown>[];
    [k: string]: unknown;
  };
}

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** 'ok' answers 204; 'fail' answers 500; 'hang' never answers. */
  mode: 'ok' | 'fail' | 'hang';
  /** Resolves when at least `n` notifications have arrived, or rejects after `ms`. */
  waitFor(n: number, ms?: number): Promise<Received[]>;
  stop(): Promise<void>;
  /** Listens again on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(port = 0): Promise<Receiver> {
  let server: Server | undefined;
  const hanging = new Set<ServerResponse>();
  const waiters: { n: number; resolve: () => void }[] = [];
  const r: Receiver = {
    url: '',
    port: 0,
    received: [],
    mode: 'ok',
    async waitFor(n, ms = 15_000) {
      if (r.received.length >= n) return r.received;
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(
          () => reject(new Error(`expected ${n} notifications, got ${r.received.length} in ${ms} ms`)),
          ms,
        );
        waiters.push({
          n,
          resolve: () => {
            clearTimeout(t);
            resolve();
          },
        });
      });
      return r.received;
    },
    async stop() {
      for (const res of hanging) res.destroy();
      hanging.clear();
      if (!server) return;
      const s = server;
      server = undefined;
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    },
    async restart() {
      await listen(r.port);
    },
    async close() {
      await r.stop();
    },
  };

  async function listen(p: number) {
    const s = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (r.mode === 'hang') {
          hanging.add(res);
          return;
        }
        if (r.mode === 'fail') {
          res.statusCode = 500;
          res.end();
          return;
        }
        r.received.push({
          path: req.url ?? '',
          headers: req.headers,
          body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Received['body'],
        });
        res.statusCode = 204;
        res.end();
        for (const w of [...waiters]) {
          if (r.received.length >= w.n) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve();
          }
        }
      });
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(p, '127.0.0.1', () => resolve());
    });
    server = s;
    r.port = (s.address() as AddressInfo).port;
    r.url = `http://127.0.0.1:${r.port}/notify`;
  }

  await listen(port);
  return r;
}
