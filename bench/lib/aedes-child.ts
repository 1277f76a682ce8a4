/** Child process for the ingest baseline: a bare aedes broker (the hub's embedded broker) on port 0. */
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const broker = await Aedes.createBroker();
const server = createServer(broker.handle);
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  process.send?.({ type: 'ready', value: { port } });
});
process.once('disconnect', () => {
  server.close();
  broker.close();
});
