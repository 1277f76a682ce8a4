/**
 * Commands a module declares (core/module.ts) are `citypivot` commands like the hub's own: run
 * with their arguments, listed in the help, with their own --help; a module that takes a built-in
 * name, or a name another module took, stops the CLI with a message.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { ModuleCommand } from '../../src/core/module.js';

const got: string[][] = [];
const air: ModuleCommand = {
  name: 'air-quality',
  summary: 'recompute the air quality index',
  help: 'Usage: citypivot air-quality recompute [--district D]',
  run: (args) => {
    got.push(args);
    return Promise.resolve(args.includes('--fail') ? 1 : 0);
  },
};
const indicators = { name: 'indicators', commands: [air] };

function capture() {
  const out: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  return () => out.join('\n');
}

afterEach(() => {
  vi.restoreAllMocks();
  got.length = 0;
});

describe('module commands', () => {
  it('run with their arguments and give their exit status', async () => {
    expect(await main(['air-quality', 'recompute', '--district', 'D1'], [indicators])).toBe(0);
    expect(await main(['air-quality', '--fail'], [indicators])).toBe(1);
    expect(got).toEqual([['recompute', '--district', 'D1'], ['--fail']]);
  });

  it('are listed in the help beside the hub’s own, and answer --help with their own text', async () => {
    let out = capture();
    expect(await main(['help'], [indicators])).toBe(0);
    expect(out()).toMatch(/serve\s+.*\n[\s\S]*air-quality\s+recompute the air quality index/);
    vi.restoreAllMocks();
    out = capture();
    expect(await main(['air-quality', '--help'], [indicators])).toBe(0);
    expect(await main(['help', 'air-quality'], [indicators])).toBe(0);
    expect(out()).toBe(`${air.help}\n${air.help}`);
    expect(got).toEqual([]);
  });

  it('are named when a command is unknown', async () => {
    const out = capture();
    expect(await main(['air'], [indicators])).toBe(2);
    expect(out()).toMatch(/Unknown command "air"; the commands are serve, .*, air-quality/);
  });

  it('may not take a name of the hub or of another module', async () => {
    const out = capture();
    const serve = { ...air, name: 'serve' };
    expect(await main(['serve'], [{ name: 'indicators', commands: [serve] }])).toBe(1);
    expect(await main(['air-quality'], [indicators, { name: 'cases', commands: [air] }])).toBe(1);
    expect(out()).toContain('module indicators: "serve" is a command of the hub itself');
    expect(out()).toContain('modules indicators and cases both declare the command "air-quality"');
    expect(got).toEqual([]);
  });
});
