/**
 * `citypivot feed …`: the change feed's consumers, for an operator.
 *
 *   feed consumers        every consumer the database knows: lag (changes, seconds), holder
 *   feed remove NAME      forget a consumer that is gone from the code (it holds the feed back)
 */
import type { ConsumerStatus } from '../core/change-feed.js';
import { openDatabase } from '../store/database-setting.js';
import { createPostgresStore } from '../store/postgres-store.js';
import { UsageError } from './config.js';
import { table } from './admin-commands.js';
import { takeOption } from './history-commands.js';

/** The consumers as a table, one line each. */
export function formatConsumers(list: ConsumerStatus[]): string {
  if (list.length === 0) return 'No change feed consumers.';
  return table(
    ['CONSUMER', 'LAG', 'LAG_SECONDS', 'HELD_BY', 'CURSOR_MOVED'],
    list.map((c) => [
      c.name,
      String(c.lagChanges),
      c.lagSeconds.toFixed(1),
      c.holder ?? '-',
      c.updatedAt ?? '-',
    ]),
  );
}

/** Runs a feed command; returns the exit code. */
export async function feedCommand(argv: string[]): Promise<number> {
  const [db, rest] = takeOption(argv, '--db');
  const [action, ...args] = rest;
  if (action !== 'consumers' && action !== 'remove')
    throw new UsageError('feed: use consumers or remove NAME');
  if (action === 'consumers' && args.length > 0) throw new UsageError('feed consumers takes no argument');
  if (action === 'remove' && args.length !== 1) throw new UsageError('feed remove needs one consumer NAME');
  const database = await openDatabase(db ?? process.env.CITYPIVOT_DB ?? './data');
  try {
    const store = await createPostgresStore({ url: database.url, max: 2 });
    try {
      if (action === 'consumers') {
        console.log(formatConsumers(await store.feed.consumers()));
        return 0;
      }
      const name = args[0] as string;
      if (!(await store.feed.removeConsumer(name))) {
        console.error(`citypivot: no change feed consumer is named ${JSON.stringify(name)}`);
        return 1;
      }
      console.log(
        `Removed the change feed consumer ${name}: its cursor no longer holds the feed back (a hub still running it starts it again at the feed's end).`,
      );
      return 0;
    } finally {
      await store.close();
    }
  } finally {
    await database.stop();
  }
}
