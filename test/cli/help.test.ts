/**
 * Issue 16: one CLI grammar. `citypivot help` lists every command the dispatcher knows;
 * `citypivot COMMAND --help`, `-h` and `citypivot help COMMAND` print that command's own usage
 * with its options and examples (never the whole help, never a parser's raw message); a usage
 * error names the flag and what it accepts, with exit code 2. Runs src/cli/main.ts in-process.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { COMMANDS, generalHelp } from '../../src/cli/help.js';
import { ROLES } from '../../src/core/access/access-model.js';

let out = '';
let err = '';
beforeEach(() => {
  out = '';
  err = '';
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void (out += `${a.join(' ')}\n`));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void (err += `${a.join(' ')}\n`));
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** The commands main() dispatches, read from its switch (so a new command without help fails). */
function dispatched(): string[] {
  const src = readFileSync(join(import.meta.dirname, '../../src/cli/main.ts'), 'utf8');
  return [...src.matchAll(/case '([a-z][a-z-]*)':/g)].map((m) => m[1]!).filter((c) => c !== 'help');
}

describe('citypivot help', () => {
  it('lists every command main() dispatches, each with a line of its own', async () => {
    expect(await main(['help'])).toBe(0);
    for (const c of [...dispatched(), 'help']) expect(out).toMatch(new RegExp(`^  ${c} +\\S`, 'm'));
    expect(out).toBe(`${generalHelp()}\n`);
  });

  it('without a command: the list on stderr, exit 2', async () => {
    expect(await main([])).toBe(2);
    expect(err).toContain('Commands:');
  });
});

describe('each command has its own help', () => {
  for (const c of COMMANDS) {
    for (const form of [
      [c.name, '--help'],
      [c.name, '-h'],
      ['help', c.name],
    ]) {
      it(`citypivot ${form.join(' ')}`, async () => {
        expect(await main(form)).toBe(0);
        expect(out.trim()).toBe(c.text.trim());
        expect(out).toMatch(/^Usage/);
        expect(out).not.toContain('Commands:'); // not the whole help
      });
    }
  }

  it('commands that take options show them and an example', () => {
    for (const c of COMMANDS.filter((x) => !['version', 'help'].includes(x.name))) {
      expect(c.text, c.name).toMatch(/Options:|options/);
      expect(c.text, c.name).toMatch(/Examples?:/);
    }
  });

  it('users lists the roles there are', () => {
    const users = COMMANDS.find((c) => c.name === 'users')!.text;
    for (const r of ROLES) expect(users).toContain(r);
  });
});

describe('usage errors name the flag and what it takes (exit 2)', () => {
  it.each([
    [['demo', '--speed', '-1'], '--speed must be'],
    [['demo', '--sensors', 'many'], '--sensors must be'],
    [['serve', '--port', '-5'], '--port'],
    [['serve', '--auth', 'maybe'], '--auth'],
    [['serve', '--bogus'], "'--bogus'"],
    [['devices', 'import'], 'devices import FILE'],
    [['nothing-like-it'], 'the commands are serve, demo'],
    [['help', 'nothing-like-it'], 'the commands are serve, demo'],
  ])('citypivot %j', async (argv, message) => {
    expect(await main(argv)).toBe(2);
    expect(err).toContain(message);
    expect(err).not.toMatch(/ambiguous/);
  });
});
