import { defineConfig } from 'vitest/config';

// Two projects: pure unit tests (no database) and tests against a real PostgreSQL server
// (embedded by default, or TEST_DATABASE_URL), which the global setup provides.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/core/**/*.test.ts', 'test/cli/**/*.test.ts', 'test/sim/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'db',
          include: ['test/**/*.test.ts'],
          exclude: ['test/core/**', 'test/cli/**', 'test/sim/**'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 120_000,
          pool: 'forks',
        },
      },
    ],
  },
});
