/**
 * A hub-like process that runs one change-feed consumer (test/e2e/change-feed-sigkill.test.ts):
 * `node feed-consumer-process.js DATABASE_URL`. The consumer records each change it handles in
 * feed_seen (position, entity, pid), a few milliseconds apart. With HANG_AFTER=N it stops in the
 * middle of the batch in which it passes N records (prints "mid-batch" and waits), for the test to
 * kill it there. Uses the built code (dist/), as the citypivot command does.
 */
import pg from 'pg';
import { createPostgresStore } from '../../dist/store/postgres-store.js';
import { createFeedRunner } from '../../dist/broker/change-feed.js';

const url = process.argv[2];
const hangAfter = Number(process.env.HANG_AFTER ?? Infinity);
const store = await createPostgresStore({ url, max: 2 });
const pool = new pg.Pool({ connectionString: url, max: 2 });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let recorded = 0;

const runner = createFeedRunner({
  feed: store.feed,
  instance: `child:${process.pid}`,
  pollMs: 10,
  holdRetryMs: 50,
  consumers: [
    {
      name: 'test.sigkill',
      batchSize: 10,
      async handle(changes) {
        if (process.env.FEED_DEBUG)
          console.error(`batch ${changes[0]?.position}..${changes.at(-1)?.position} (${changes.length})`);
        for (const [i, c] of changes.entries()) {
          await pool.query('INSERT INTO feed_seen (position, entity, pid) VALUES ($1, $2, $3)', [
            c.position,
            c.id,
            process.pid,
          ]);
          recorded++;
          if (recorded >= hangAfter && i > 0 && i < changes.length - 1) {
            console.log('mid-batch');
            await sleep(600_000);
          }
          await sleep(2);
        }
      },
    },
  ],
  onError: (err, what) => console.error(`${what}: ${err instanceof Error ? err.message : String(err)}`),
});
runner.start();
const ready = setInterval(() => {
  if (runner.holding().includes('test.sigkill')) {
    console.log('holding');
    clearInterval(ready);
  }
}, 10);
process.on('SIGTERM', () => {
  void (async () => {
    await runner.stop();
    await store.close();
    await pool.end();
    process.exit(0);
  })();
});
