/** Child process of static-server.ts: serves one fixed response until its parent disconnects. */
import { createServer } from 'node:http';
import type { StaticResponse } from './static-server.js';

process.once('message', (r: StaticResponse) => {
  const body = Buffer.from(r.body, 'utf8');
  const headers = { ...r.headers, 'content-length': String(body.length) };
  const server = createServer((req, res) => {
    // Read (and drop) any request body, as a real server must, then answer.
    req.resume();
    req.on('end', () => {
      res.writeHead(r.status, headers);
      res.end(body);
    });
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    process.send?.({ type: 'ready', value: { port } });
  });
  process.once('disconnect', () => {
    server.close();
    server.closeAllConnections();
  });
});
