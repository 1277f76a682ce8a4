/**
 * The migrations are declared in the order they apply: versions 1, 2, 3… with no gap and no
 * repeat, so that reading src/store/migrations.ts top to bottom is reading the schema's history.
 */
import { describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/store/migrations.js';

describe('MIGRATIONS', () => {
  it('are declared in ascending order, from 1, without gaps or repeats', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_m, i) => i + 1));
  });

  it('each has a name', () => {
    for (const m of MIGRATIONS) expect(m.name.trim(), `migration ${m.version}`).not.toBe('');
  });
});
