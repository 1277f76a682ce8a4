/**
 * Where things are, whether this file runs compiled (bench/dist/bench/lib/) or from source: the
 * repository root is found by walking up to the package.json of `citypivot`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'citypivot')
      return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('bench: cannot find the citypivot repository root');
    dir = up;
  }
}

/** The repository root (holds package.json, bin/, contexts/, bench/). */
export const REPO_ROOT = findRepoRoot();
/** The `citypivot` command the hub child process runs (needs `npm run build`). */
export const HUB_BIN = join(REPO_ROOT, 'bin', 'citypivot.js');
/** The bundled @context documents (contexts/index.json). */
export const CONTEXTS_DIR = join(REPO_ROOT, 'contexts');
/** Committed inputs of the scenarios. */
export const FIXTURES_DIR = join(REPO_ROOT, 'bench', 'fixtures');
/** Where results (and profiles) are written; git-ignored. */
export const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');
/** The compiled directory of this file: scenarios and child scripts are found next to it. */
export const COMPILED_LIB_DIR = dirname(fileURLToPath(import.meta.url));
