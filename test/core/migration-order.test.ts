/**
 * The migrations are declared in the order they apply: versions 1, 2, 3… with no gap and no
 * repeat, so that reading src/store/migrations.ts top to bottom is reading the schema's history.
 */
import { describe, expect, it } from 'vitest';
import { MIGRATIONS, checkModuleMigrations } from '../../src/store/migrations.js';

describe('MIGRATIONS', () => {
  it('are declared in ascending order, from 1, without gaps or repeats', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_m, i) => i + 1));
  });

  it('each has a name', () => {
    for (const m of MIGRATIONS) expect(m.name.trim(), `migration ${m.version}`).not.toBe('');
  });
});

describe('module migrations', () => {
  const m = (version: number, name = `step ${version}`) => ({ version, name, sql: 'SELECT 1' });

  it('accept each module’s own 1, 2, 3…', () => {
    expect(() =>
      checkModuleMigrations([
        { module: 'indicators', migrations: [m(1), m(2)] },
        { module: 'cases', migrations: [m(1)] },
        { module: 'empty', migrations: [] },
      ]),
    ).not.toThrow();
  });

  it.each([
    ['a gap', [{ module: 'a', migrations: [m(1), m(3)] }], /migration 2 is declared as version 3/],
    ['out of order', [{ module: 'a', migrations: [m(2), m(1)] }], /migration 1 is declared as version 2/],
    ['a repeat', [{ module: 'a', migrations: [m(1), m(1)] }], /migration 2 is declared as version 1/],
    ['no name', [{ module: 'a', migrations: [m(1, ' ')] }], /has no name/],
    ['a bad module name', [{ module: 'Air Quality', migrations: [] }], /lower-case-with-hyphens/],
    ['the kernel’s name', [{ module: 'kernel', migrations: [] }], /the hub's own/],
    [
      'two modules of one name',
      [
        { module: 'a', migrations: [] },
        { module: 'a', migrations: [] },
      ],
      /two modules are named a/,
    ],
  ])('refuse %s', (_what, list, message) => {
    expect(() => checkModuleMigrations(list)).toThrow(message);
  });
});
