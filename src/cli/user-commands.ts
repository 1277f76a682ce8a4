/**
 * `citypivot users add|passwd|unlock|totp-reset` and `citypivot audit verify`: account recovery
 * and audit checks from the machine the hub runs on (no API login needed). Passwords come from
 * CITYPIVOT_USER_PASSWORD or the first line of standard input, never from the command line.
 */
import { createInterface } from 'node:readline';
import { openDatabase } from '../store/database-setting.js';
import { createPostgresStore } from '../store/postgres-store.js';
import { openPool } from '../store/database.js';
import { createPostgresAccessStore } from '../access/postgres-access.js';
import type { AccessStore } from '../core/access/access-store.js';
import { verifyAuditLog } from '../access/audit-log.js';
import { UsageError } from './config.js';

export async function withAccessStore<T>(db: string, fn: (s: AccessStore) => Promise<T>): Promise<T> {
  const database = await openDatabase(db);
  try {
    const pool = openPool({ url: database.url, max: 2 });
    try {
      // The store applies the migrations; then the access tables are there.
      await createPostgresStore({ url: database.url, pool });
      return await fn(createPostgresAccessStore(pool));
    } finally {
      await pool.end();
    }
  } finally {
    await database.stop();
  }
}

/** One line typed in the terminal without echo (raw mode); Ctrl+C or Ctrl+D abandons. */
function promptHidden(prompt: string): Promise<string> {
  const input = process.stdin;
  input.setRawMode(true); // before the prompt: nothing typed after it is echoed
  process.stderr.write(prompt);
  input.resume();
  input.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let typed = '';
    const done = (err?: Error) => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(typed);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003' || ch === '\u0004') return done(new UsageError('No password given'));
        if (ch === '\u007f' || ch === '\b') typed = [...typed].slice(0, -1).join('');
        else if (ch >= ' ') typed += ch;
      }
    };
    input.on('data', onData);
  });
}

/**
 * The new password: CITYPIVOT_USER_PASSWORD, else asked twice in a terminal without echo, else
 * the first line of standard input (a pipe).
 */
export async function readPassword(name: string): Promise<string> {
  const env = process.env.CITYPIVOT_USER_PASSWORD;
  if (env) return env;
  if (process.stdin.isTTY) {
    const first = await promptHidden(`New password for ${name}: `);
    const again = await promptHidden('The same again: ');
    if (first !== again) throw new UsageError('The two passwords differ: nothing was changed');
    return first;
  }
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    rl.close();
    return line;
  }
  throw new UsageError('No password: set CITYPIVOT_USER_PASSWORD or give it on standard input');
}

function takeFlags(argv: string[]): { db: string; roles: string[]; department?: string; rest: string[] } {
  let db = process.env.CITYPIVOT_DB || './data';
  const roles: string[] = [];
  let department: string | undefined;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const v = argv[i + 1];
    if (a === '--db' || a === '--role' || a === '--department') {
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      if (a === '--db') db = v;
      else if (a === '--role') roles.push(v);
      else department = v;
      i++;
    } else rest.push(a);
  }
  return { db, roles, ...(department ? { department } : {}), rest };
}

export async function auditCommand(argv: string[]): Promise<number> {
  const { db, rest } = takeFlags(argv);
  if (rest.length !== 1 || rest[0] !== 'verify') throw new UsageError('audit: use audit verify');
  return withAccessStore(db, async (store) => {
    const r = await verifyAuditLog(store);
    if (r.ok) {
      console.log(`The audit log is intact: ${r.checked} records, last hash ${r.lastHash}`);
      return 0;
    }
    console.error(
      `citypivot: the audit log is broken at record ${r.firstBad?.seq} (${r.firstBad?.problem}) after ${r.checked} good records`,
    );
    return 1;
  });
}
