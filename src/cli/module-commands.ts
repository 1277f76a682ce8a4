/**
 * The `citypivot` commands the modules declare (core/module.ts), beside the hub's own: a module
 * adds a command without touching the CLI. A module command may not take a built-in name, nor one
 * another module took: found when the CLI starts, before anything runs.
 */
import type { ModuleCommand } from '../core/module.js';
import { COMMANDS } from './help.js';

/** A module as the CLI sees it: its name and its commands. */
export interface CommandSource {
  name: string;
  commands?: readonly ModuleCommand[];
}

/** Every module command, checked: no built-in name, no name twice. */
export function moduleCommands(modules: readonly CommandSource[]): ModuleCommand[] {
  const builtIn = new Set(COMMANDS.map((c) => c.name));
  const owner = new Map<string, string>();
  const out: ModuleCommand[] = [];
  for (const m of modules)
    for (const c of m.commands ?? []) {
      if (builtIn.has(c.name))
        throw new Error(`module ${m.name}: "${c.name}" is a command of the hub itself`);
      const other = owner.get(c.name);
      if (other) throw new Error(`modules ${other} and ${m.name} both declare the command "${c.name}"`);
      owner.set(c.name, m.name);
      out.push(c);
    }
  return out;
}
