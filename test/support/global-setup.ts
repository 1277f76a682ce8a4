/**
 * Vitest global setup of the "db" project: one PostgreSQL server for the whole run, either the
 * server named by TEST_DATABASE_URL (an administrator URL, e.g.
 * postgres://postgres@127.0.0.1:5433/postgres) or an embedded server in a temporary directory.
 * Tests get its administrator URL with `inject('databaseAdminUrl')`; each test file makes its own
 * database on it (test/support/db.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { openDatabase } from '../../src/store/database-setting.js';
import { startEmbeddedPostgres } from '../../src/store/embedded-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of a superuser on the test server, to the `postgres` database. */
    databaseAdminUrl: string;
    /** Where the test server comes from. */
    databaseServer: 'embedded' | 'external';
  }
}

/** Starts (or checks) the test server; the returned function stops it at teardown. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.TEST_DATABASE_URL;
  if (external) {
    const db = await openDatabase(external); // checks it is reachable and PostgreSQL 15+
    project.provide('databaseAdminUrl', external);
    project.provide('databaseServer', 'external');
    return () => db.stop();
  }
  const dir = await mkdtemp(join(tmpdir(), 'citypivot-test-'));
  try {
    const server = await startEmbeddedPostgres({
      dataDir: dir,
      temporary: true,
      log: (line) => console.log(`[test database] ${line}`),
    });
    const admin = new URL(server.url);
    admin.pathname = '/postgres';
    project.provide('databaseAdminUrl', admin.toString());
    project.provide('databaseServer', 'embedded');
    return () => server.stop();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
