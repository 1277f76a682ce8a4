/**
 * Issue 17: the layer and module rules of eslint.config.js are enforced. Small files that cross
 * each rule are linted with the project's configuration (as `npm run lint` would lint them at
 * their paths) and each crossing is reported; legal imports are not. A module folder made for the
 * test shows that a new module is kept apart without editing the configuration.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
/** A module folder that exists only while this file runs. */
const NEW_MODULE = `zz-probe-${process.pid}`;

let eslint: ESLint;

beforeAll(() => {
  mkdirSync(join(ROOT, 'src', NEW_MODULE));
  eslint = new ESLint({
    cwd: ROOT,
    // The import rules need no type information: lint without it, and only with them.
    overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
    ruleFilter: ({ ruleId }) =>
      ruleId === 'import-x/no-restricted-paths' || ruleId === 'no-restricted-imports',
  });
});
afterAll(() => {
  rmSync(join(ROOT, 'src', NEW_MODULE), { recursive: true, force: true });
});

/** The rules a file reports when it has these import lines. */
async function reported(path: string, ...imports: string[]): Promise<string[]> {
  const [result] = await eslint.lintText(`${imports.join('\n')}\nexport {};\n`, {
    filePath: join(ROOT, path),
  });
  return (result?.messages ?? []).map((m) => m.ruleId ?? `fatal: ${m.message}`);
}

describe('layer and module rules (eslint.config.js)', () => {
  it.each([
    ['a module imports another module', 'src/access/probe.ts', "import '../iot/iot-setup.js';"],
    ['a module imports an edge', 'src/iot/probe.ts', "import '../server/hub.js';"],
    [
      'a new module folder imports a module',
      `src/${NEW_MODULE}/probe.ts`,
      "import '../access/access-module.js';",
    ],
    ['the kernel imports a module', 'src/broker/probe.ts', "import '../access/access-module.js';"],
    ['core imports a module', 'src/core/probe.ts', "import type { IotModule } from '../iot/iot-setup.js';"],
    ["the broker's routes import a module", 'src/api/probe.ts', "import '../iot/iot-setup.js';"],
    [
      'a test of a module imports another module',
      'test/iot/probe.test.ts',
      "import '../../src/access/access-setup.js';",
    ],
    [
      'a test of the kernel imports a module',
      'test/store/probe.test.ts',
      "import '../../src/iot/postgres-iot.js';",
    ],
  ])('%s: reported', async (_what, path, line) => {
    expect(await reported(path, line)).toEqual(['import-x/no-restricted-paths']);
  });

  it.each([
    ['an edge imports the driver', 'src/api/probe.ts', "import pg from 'pg';"],
    ['an edge imports the store adapter', 'src/api/probe.ts', "import '../store/postgres-store.js';"],
    ['an edge imports the pool', 'src/server/probe.ts', "import { openPool } from '../store/database.js';"],
    ['an edge imports a module adapter', 'src/server/probe.ts', "import '../access/postgres-access.js';"],
    [
      'a command without a database imports an adapter',
      'src/cli/probe.ts',
      "import '../iot/postgres-iot.js';",
    ],
    ['HTTP code imports the driver', 'src/http/probe.ts', "import type pg from 'pg';"],
    ['a module imports the driver outside its adapters', 'src/iot/probe.ts', "import pg from 'pg';"],
    ["a module imports the store's adapter", 'src/access/probe.ts', "import '../store/postgres-store.js';"],
  ])('%s: reported', async (_what, path, line) => {
    expect(await reported(path, line)).toEqual(['no-restricted-imports']);
  });

  it.each([
    [
      'a module imports the kernel',
      'src/iot/probe.ts',
      "import '../core/errors.js';",
      "import '../broker/entity-service.js';",
      "import '../http/route-access.js';",
      "import '../store/sql-errors.js';",
    ],
    [
      "a module's adapter imports the driver and the pool",
      'src/iot/postgres-probe.ts',
      "import pg from 'pg';",
      "import '../store/database.js';",
    ],
    [
      'the composition root opens the database and builds the adapters',
      'src/server/hub.ts',
      "import '../store/database.js';",
      "import '../access/postgres-access.js';",
      "import '../iot/postgres-iot.js';",
      "import '../access/access-module.js';",
    ],
    ['an edge imports a module', 'src/server/probe.ts', "import '../iot/iot-setup.js';"],
    [
      "a module's test harness builds a hub with every module",
      'test/iot/support/probe.ts',
      "import '../../../src/access/access-setup.js';",
    ],
    [
      'an integration suite imports anything',
      'test/e2e/probe.test.ts',
      "import '../../src/access/postgres-access.js';",
      "import pg from 'pg';",
    ],
  ])('%s: allowed', async (_what, path, ...lines) => {
    expect(await reported(path, ...lines)).toEqual([]);
  });
});
