/**
 * The durable change feed: every committed entity change, readable by named consumers, each with
 * its own cursor kept in the database. At least once, in commit order per entity, across restarts
 * and hub instances (one instance runs a consumer at a time). The applications (rules, cases,
 * indicators, federation) read the hub's changes from here, never from in-process listeners that
 * lose what was under way when a process died.
 */
import { HubError } from './errors.js';

export type FeedChangeKind = 'created' | 'updated' | 'deleted';

/** One committed change of one entity, as a consumer receives it. */
export interface FeedChange {
  /** Where this change stands in the feed (opaque; increases along the feed). */
  position: string;
  tenant: string;
  id: string;
  kind: FeedChangeKind;
  /** The entity's types (expanded IRIs): after the change, or before it for a deletion. */
  types: string[];
  /** The attributes the change created, changed or removed (expanded IRIs); all of them for a creation or deletion. */
  attributes: string[];
  /** When the writing transaction ran (ISO 8601). */
  at: string;
}

/** What a write appends to the feed, in its transaction. */
export type FeedEntry = Omit<FeedChange, 'position' | 'at'>;

/** The feed's part of a write transaction. */
export interface ChangeFeedTx {
  append(entries: FeedEntry[]): Promise<void>;
}

/** A named reader of the feed: its handler gets the changes after its cursor, a batch at a time. */
export interface ChangeConsumer {
  /** Unique in the hub, `module.purpose` (e.g. `indicators.air-quality`); the cursor's key. */
  name: string;
  /** Changes per call of `handle` (default 200). */
  batchSize?: number;
  /** Only changes of entities with one of these types (expanded IRIs); default all. */
  types?: string[];
  /**
   * Handles a batch, in feed order. The cursor moves past the batch only when this resolves: a
   * handler that throws, or a process that dies, gets the same changes again (so handling must
   * be idempotent). A change that can never be handled must be dealt with by the handler itself
   * (logged, parked), or the consumer stops there.
   */
  handle(changes: FeedChange[]): Promise<void>;
}

/** Where a consumer stands (metrics, CLI). */
export interface ConsumerStatus {
  name: string;
  /** Changes after its cursor. */
  lagChanges: number;
  /** Age of the oldest change after its cursor, in seconds (0 when none). */
  lagSeconds: number;
  /** The instance holding it now, if any. */
  holder?: string;
  /** When its cursor last moved. */
  updatedAt?: string;
}

/** A consumer's place in the feed: the last change handled (row `key.seq`, its entry `n`). */
export interface FeedCursor {
  key: string;
  seq: string;
  /** The entry within the row; {@link WHOLE_ROW} when the whole row is handled. */
  n: number;
}

/** The `n` of a cursor past every entry of its row. */
export const WHOLE_ROW = 2147483647;

/**
 * A connection of one hub instance to the feed, holding the consumers it runs: a consumer is held
 * by one session at a time in the whole database (taken over when the holder's connection ends),
 * and its cursor moves only through the session that holds it.
 */
export interface FeedSession {
  /** Takes the consumer if no other session holds it; returns its cursor then (created at the feed's end when new). */
  tryHold(consumer: string, holder: string): Promise<FeedCursor | undefined>;
  /** Lets it go (another instance may take it). */
  release(consumer: string): Promise<void>;
  /** Up to `limit` committed changes after `cursor`, in feed order. */
  read(cursor: FeedCursor, limit: number): Promise<FeedChange[]>;
  /** Moves a held consumer's cursor; fails when this session no longer holds it. */
  advance(consumer: string, to: FeedCursor): Promise<void>;
  /** Takes a named singleton job's lock if no other session holds it (no cursor). */
  tryLock(job: string): Promise<boolean>;
  /** Lets a job's lock go. */
  unlock(job: string): Promise<void>;
  /** Ends the connection; everything held is let go. */
  close(): Promise<void>;
}

/** The feed's part of the store. */
export interface ChangeFeedStore {
  /** A dedicated connection for the consumers of this instance. */
  openSession(): Promise<FeedSession>;
  /** Every consumer known to the database, with its lag. */
  consumers(): Promise<ConsumerStatus[]>;
  /** Forgets a consumer (its cursor stops holding the feed back); false when there was none. */
  removeConsumer(name: string): Promise<boolean>;
  /**
   * Deletes changes older than `olderThanMs` that every known consumer has read; returns how many
   * were deleted. Changes a consumer has not read are kept, however old.
   */
  prune(olderThanMs: number): Promise<number>;
}

/** The cursor of a position (`key.seq.n`; `key.seq`: the whole row). */
export function cursorOf(position: string): FeedCursor {
  const [key = '0', seq = '0', n] = position.split('.');
  return { key, seq, n: n === undefined ? WHOLE_ROW : Number(n) };
}

/**
 * Runs `update` once for each entity of a batch that a change (not a deletion) touched through one
 * of the attributes `watched` accepts, in the order first seen. An entity's own trouble (a HubError
 * without a cause: deleted meanwhile, a value its model refuses) skips it; anything else (the
 * database) fails the batch, which the feed gives again.
 */
export async function forEachEntityTouched(
  changes: FeedChange[],
  watched: (attribute: string) => boolean,
  update: (tenant: string, id: string) => Promise<void>,
): Promise<void> {
  const entities = new Map<string, { tenant: string; id: string }>();
  for (const c of changes)
    if (c.kind !== 'deleted' && c.attributes.some(watched))
      entities.set(`${c.tenant}\u0000${c.id}`, { tenant: c.tenant, id: c.id });
  for (const { tenant, id } of entities.values())
    try {
      await update(tenant, id);
    } catch (err) {
      if (!(err instanceof HubError && err.cause === undefined)) throw err;
    }
}
