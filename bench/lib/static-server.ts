/**
 * The HTTP baseline: a bare node:http server answering every request with the same status,
 * headers and bytes, in a child process pinned to the server CPU (where the hub runs).
 */
import { join } from 'node:path';
import { awaitMessage, spawnNode } from './child-process.js';
import { COMPILED_LIB_DIR } from './paths.js';

export interface StaticResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export interface StaticServer {
  url: string;
  stop(): Promise<void>;
}

export async function startStaticServer(response: StaticResponse): Promise<StaticServer> {
  const child = spawnNode('server', join(COMPILED_LIB_DIR, 'static-server-child.js'));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = awaitMessage<{ port: number }>(child, 'ready');
  child.send(response);
  const { port } = await ready;
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.connected) child.disconnect(); // the child closes its server when the channel goes
      await exited;
    },
  };
}
