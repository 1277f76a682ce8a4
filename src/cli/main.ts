/**
 * The `citypivot` command: serve, contexts. Exit codes: 0 ok, 1 failure, 2 usage error.
 */
import { readFile } from 'node:fs/promises';
import { createPostgresStore } from '../store/postgres-store.js';
import { openDatabase } from '../store/database-setting.js';
import { DirectoryInUseError } from '../store/embedded-process.js';
import { UsageError, isLoopback, parseServeArgs } from './config.js';
import { listenForStopSignals, startHubFromConfig, untilSignal, version } from './hub-runner.js';
import { demoCommand } from './demo-command.js';
import { devicesCommand } from './device-commands.js';
import { historyCommand } from './history-commands.js';
import { feedCommand } from './feed-commands.js';
import { auditCommand } from './user-commands.js';
import { COMMANDS, commandHelp, generalHelp } from './help.js';
import { apiKeysCommand, departmentsCommand, policiesCommand, usersCommand } from './admin-commands.js';
import { moduleCommands, type CommandSource } from './module-commands.js';
import type { ModuleCommand } from '../core/module.js';
import { MODULES } from '../server/hub-services.js';

export async function main(argv: string[], modules: readonly CommandSource[] = MODULES): Promise<number> {
  const [command, ...rest] = argv;
  let added: ModuleCommand[];
  try {
    added = moduleCommands(modules);
  } catch (err) {
    console.error(`citypivot: ${(err as Error).message}`);
    return 1;
  }
  const names = [...COMMANDS, ...added].map((c) => c.name).join(', ');
  const helpOf = (name: string) => {
    const c = added.find((x) => x.name === name);
    return c ? { text: c.help } : commandHelp(name);
  };
  try {
    // `citypivot COMMAND --help`: that command's usage, options and examples, whatever else follows.
    const help = command === undefined ? undefined : helpOf(command);
    if (help && (rest.includes('--help') || rest.includes('-h'))) {
      console.log(help.text);
      return 0;
    }
    switch (command) {
      case 'serve':
        return await serve(rest);
      case 'demo':
        return await demoCommand(rest);
      case 'contexts':
        return await contexts(rest);
      case 'devices':
        return await devicesCommand(rest);
      case 'history':
        return await historyCommand(rest);
      case 'feed':
        return await feedCommand(rest);
      case 'users':
        return await usersCommand(rest);
      case 'audit':
        return await auditCommand(rest);
      case 'departments':
        return await departmentsCommand(rest);
      case 'api-keys':
        return await apiKeysCommand(rest);
      case 'policies':
        return await policiesCommand(rest);
      case 'version':
      case '--version':
        console.log(version());
        return 0;
      case undefined:
        console.error(generalHelp(added));
        return 2;
      case 'help':
      case '--help':
      case '-h': {
        if (rest.length === 0) {
          console.log(generalHelp(added));
          return 0;
        }
        const one = rest.length === 1 ? helpOf(rest[0] as string) : undefined;
        if (!one)
          throw new UsageError(
            `help: no command ${JSON.stringify(rest.join(' '))}; the commands are ${names}`,
          );
        console.log(one.text);
        return 0;
      }
      default: {
        const own = added.find((c) => c.name === command);
        if (own) return await own.run(rest);
        throw new UsageError(`Unknown command ${JSON.stringify(command)}; the commands are ${names}`);
      }
    }
  } catch (err) {
    if (err instanceof UsageError) {
      const usage = command && helpOf(command) ? `citypivot ${command} --help` : 'citypivot help';
      console.error(`citypivot: ${err.message}\nRun "${usage}" for usage.`);
      return 2;
    }
    const hint = err instanceof DirectoryInUseError ? whileRunning(argv) : undefined;
    console.error(`citypivot: ${err instanceof Error ? err.message : String(err)}${hint ? `\n${hint}` : ''}`);
    return 1;
  }
}

async function serve(argv: string[]): Promise<number> {
  const cfg = parseServeArgs(argv, process.env);
  if (cfg.help) {
    console.log(commandHelp('serve')?.text);
    return 0;
  }
  // parseServeArgs refuses --auth none on other hosts already; this guards callers that build the config.
  if (cfg.auth === 'none' && !isLoopback(cfg.host)) {
    throw new UsageError(
      `--auth none is for local development only: refusing to listen on ${cfg.host} without authentication`,
    );
  }
  const log = (line: string) => console.log(line);
  // Listening from before the start: a signal while starting abandons the start in order (exit 1).
  const signals = listenForStopSignals();
  try {
    const hub = await startHubFromConfig(cfg, log, signals);
    await untilSignal(hub, log, signals);
  } finally {
    signals.close();
  }
  log('stopped');
  return 0;
}

async function contexts(argv: string[]): Promise<number> {
  const dbIdx = argv.indexOf('--db');
  let db = process.env.CITYPIVOT_DB || './data';
  if (dbIdx >= 0) {
    const v = argv[dbIdx + 1];
    if (v === undefined) throw new UsageError('--db needs a value');
    db = v;
    argv = [...argv.slice(0, dbIdx), ...argv.slice(dbIdx + 2)];
  }
  const [sub, ...args] = argv;
  if (sub !== 'add' && sub !== 'list' && sub !== 'remove')
    throw new UsageError('contexts: use add, list or remove');
  let doc: unknown;
  if (sub === 'add') {
    const [url, file] = args;
    if (!url || !file || args.length !== 2) throw new UsageError('contexts add needs URL and FILE');
    if (!/^https?:\/\/\S+$/.test(url)) throw new UsageError(`Not an http(s) URL: ${url}`);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new Error(`Cannot read ${file}: ${(err as Error).message}`, { cause: err });
    }
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new Error(`${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
    if (typeof doc !== 'object' || doc === null || !('@context' in doc))
      throw new Error(`${file} has no @context member`);
  } else if (sub === 'remove' && args.length !== 1) throw new UsageError('contexts remove needs URL');
  const database = await openDatabase(db);
  try {
    const store = await createPostgresStore({ url: database.url, max: 2 });
    try {
      if (sub === 'add') {
        await store.contexts.put(args[0] as string, doc, 'preloaded');
        console.log(`Stored @context for ${args[0]}`);
      } else if (sub === 'list') {
        for (const r of await store.contexts.list()) console.log(`${r.origin.padEnd(9)} ${r.url}`);
      } else {
        const ok = await store.contexts.delete(args[0] as string);
        if (!ok) throw new Error(`No stored @context for ${args[0]}`);
        console.log(`Removed ${args[0]}`);
      }
    } finally {
      await store.close();
    }
  } finally {
    await database.stop();
  }
  return 0;
}

/**
 * What an administration command does through the API of the hub that holds the data directory
 * (the hub runs with authentication: an account of the role named signs in first).
 */
function whileRunning(argv: string[]): string | undefined {
  const [command, sub, name] = argv.filter(
    (a, i, all) => !a.startsWith('--') && !all[i - 1]?.startsWith('--'),
  );
  // The API names accounts by id: GET /api/v1/users gives the id of each user name.
  const user = '{id}';
  const api: Record<string, string | undefined> = {
    'users add': 'POST /api/v1/users (security-administrator)',
    'users passwd': `POST /api/v1/users/${user}/password (security-administrator)`,
    'users unlock': `POST /api/v1/users/${user}/unlock (security-administrator)`,
    'users totp-reset': `DELETE /api/v1/users/${user}/totp (security-administrator)`,
    'users list': 'GET /api/v1/users (security-administrator)',
    'users set': `PATCH /api/v1/users/${user} (security-administrator)`,
    'users remove': `DELETE /api/v1/users/${user} (security-administrator)`,
    'audit verify': 'GET /api/v1/audit/verify (auditor)',
    'departments add': 'POST /api/v1/departments (system-administrator)',
    'departments list': 'GET /api/v1/departments',
    'departments remove': 'DELETE /api/v1/departments/{id} (system-administrator)',
    'api-keys add': 'POST /api/v1/api-keys (system-administrator)',
    'api-keys list': 'GET /api/v1/api-keys (system-administrator)',
    'api-keys revoke': 'DELETE /api/v1/api-keys/{id} (system-administrator)',
    'policies add': 'POST /api/v1/policies (security-administrator)',
    'policies list': 'GET /api/v1/policies (security-administrator or auditor)',
    'policies remove': 'DELETE /api/v1/policies/{id} (security-administrator)',
    'contexts add': 'POST /ngsi-ld/v1/jsonldContexts (the document in the body)',
    'contexts list': 'GET /ngsi-ld/v1/jsonldContexts',
    'contexts remove': 'DELETE /ngsi-ld/v1/jsonldContexts/{URL, percent-encoded}',
    'devices import': 'POST /iot/devices (fiware-service and fiware-servicepath headers)',
  };
  const route = api[`${command} ${sub}`];
  const byId =
    route?.includes('{id}') && command === 'users' && name
      ? ` ({id}: the id GET /api/v1/users gives for ${name})`
      : '';
  return route
    ? `While that hub runs, do the same through its API: ${route}${byId}.`
    : command === 'history'
      ? 'The history commands need the database to themselves for a moment: stop the hub, run the command, start the hub again.'
      : undefined;
}
