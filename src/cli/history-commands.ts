/**
 * `citypivot history …`: retention policies, rollups and partitions of the attribute history.
 *
 *   history retention set [--tenant T] [--type TYPE] [--attr ATTR] DURATION
 *   history retention list | remove [--tenant T] [--type TYPE] [--attr ATTR] | apply
 *   history rollups show | rebuild [--tenant T]
 *   history partitions [--prepare]
 *
 * Types and attributes are IRIs, or terms of the default @context (NGSI-LD default vocabulary).
 */
import { DurationSyntaxError, fixedMs, isFixed, parseDuration } from '../core/temporal/duration.js';
import type { Store } from '../core/store.js';
import { openDatabase } from '../store/database-setting.js';
import { createPostgresStore } from '../store/postgres-store.js';
import { UsageError } from './config.js';

const DEFAULT_VOCAB = 'https://uri.etsi.org/ngsi-ld/default-context/';

/** A term or IRI as the history stores it: IRIs stay, terms take the default vocabulary. */
function iriOf(s: string | undefined): string {
  if (s === undefined || s === '*') return '*';
  return /^[A-Za-z][A-Za-z0-9+.-]*:/.test(s) ? s : `${DEFAULT_VOCAB}${s}`;
}

/** `NAME VALUE` taken out of argv: the value (undefined when absent) and the rest. */
export function takeOption(argv: string[], name: string): [string | undefined, string[]] {
  const i = argv.indexOf(name);
  if (i < 0) return [undefined, argv];
  const v = argv[i + 1];
  if (v === undefined || v.startsWith('--')) throw new UsageError(`${name} needs a value`);
  return [v, [...argv.slice(0, i), ...argv.slice(i + 2)]];
}

/** Runs a history command; returns the exit code. */
export async function historyCommand(argv: string[]): Promise<number> {
  const [db, r1] = takeOption(argv, '--db');
  const [tenant, r2] = takeOption(r1, '--tenant');
  const [type, r3] = takeOption(r2, '--type');
  const [attr, rest] = takeOption(r3, '--attr');
  const [area, action, ...args] = rest;
  const key = { tenant: tenant ?? '*', entityType: iriOf(type), attr: iriOf(attr) };

  let keep: { text: string; seconds: number } | undefined;
  if (area === 'retention' && action === 'set') {
    const [text] = args;
    if (text === undefined || args.length !== 1)
      throw new UsageError('history retention set needs one DURATION');
    try {
      const d = parseDuration(text);
      if (!isFixed(d))
        throw new DurationSyntaxError('years and months have no fixed length: use days (P365D)');
      keep = { text, seconds: Math.floor(fixedMs(d) / 1000) };
    } catch (err) {
      if (err instanceof DurationSyntaxError)
        throw new UsageError(`Invalid retention ${text}: ${err.message}`);
      throw err;
    }
    if (keep.seconds < 60) throw new UsageError('A retention shorter than a minute keeps nothing');
  }
  const known: Record<string, string[]> = {
    retention: ['set', 'list', 'remove', 'apply'],
    rollups: ['show', 'rebuild'],
    partitions: [],
  };
  if (area === undefined || !(area in known))
    throw new UsageError(`history: use retention, rollups or partitions`);
  if (area !== 'partitions' && (action === undefined || !known[area]?.includes(action)))
    throw new UsageError(`history ${area}: use ${known[area]?.join(', ')}`);

  const database = await openDatabase(db ?? process.env.CITYPIVOT_DB ?? './data');
  try {
    const store = await createPostgresStore({ url: database.url, max: 2 });
    try {
      return await run(store, area, action, { key, keep, prepare: rest.includes('--prepare'), tenant });
    } finally {
      await store.close();
    }
  } finally {
    await database.stop();
  }
}

async function run(
  store: Store,
  area: string,
  action: string | undefined,
  o: {
    key: { tenant: string; entityType: string; attr: string };
    keep: { text: string; seconds: number } | undefined;
    prepare: boolean;
    tenant: string | undefined;
  },
): Promise<number> {
  const m = store.history.maintenance;
  if (area === 'retention') {
    if (action === 'set' && o.keep) {
      await m.setRetention({ ...o.key, keep: o.keep.text, keepSeconds: o.keep.seconds });
      console.log(
        `Retention ${o.keep.text} for tenant ${o.key.tenant}, type ${o.key.entityType}, attribute ${o.key.attr}`,
      );
    } else if (action === 'list') {
      const list = await m.listRetention();
      if (list.length === 0) console.log('No retention policies: history is kept for ever.');
      for (const p of list)
        console.log(`${p.keep.padEnd(8)} tenant=${p.tenant} type=${p.entityType} attr=${p.attr}`);
    } else if (action === 'remove') {
      if (!(await m.removeRetention(o.key.tenant, o.key.entityType, o.key.attr))) {
        console.error('citypivot: no such retention policy');
        return 1;
      }
      console.log('Removed');
    } else {
      const r = await m.applyRetention(new Date());
      console.log(
        `Dropped ${r.droppedPartitions.length} partitions${r.droppedPartitions.length ? ` (${r.droppedPartitions.join(', ')})` : ''}; deleted ${r.deletedRows} rows of narrower policies`,
      );
    }
    return 0;
  }
  if (area === 'rollups') {
    if (action === 'rebuild') {
      const n = await m.rebuildRollups(o.tenant);
      console.log(`Rebuilt ${n} rollup rows`);
    } else {
      for (const s of await m.rollupStats())
        console.log(
          `${s.grain.padEnd(6)} ${String(s.rows).padStart(10)} rows  ${s.first ?? '-'} .. ${s.last ?? '-'}`,
        );
    }
    return 0;
  }
  if (o.prepare) {
    const created = await m.ensurePartitions(new Date(), 1, 3);
    console.log(created.length > 0 ? `Created ${created.join(', ')}` : 'Nothing to create');
  }
  for (const p of await m.listPartitions())
    console.log(
      `${p.name.padEnd(30)} ${(p.from ?? 'default').padEnd(25)} ${(p.to ?? '').padEnd(25)} ${p.rows} rows`,
    );
  return 0;
}
