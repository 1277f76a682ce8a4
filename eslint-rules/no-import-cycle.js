// @ts-check
/**
 * no-import-cycle: an import whose module leads back, import by import, to the importing file.
 * Type-only imports (`import type`, `import { type X }`, `export type … from`, `import('…').T`)
 * count like any other: import-x/no-cycle skips them and has no option to count them, so a cycle
 * made of type imports went unreported (and type cycles tangle modules all the same).
 *
 * Modules are read with TypeScript's preProcessFile and resolved the way tsc resolves them
 * (NodeNext: './x.js' is ./x.ts); only relative specifiers are followed, since a package does not
 * import this project back. The file being linted is read from its AST, the others from disk
 * (re-read when their modification time changes).
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const OPTIONS = { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext };

/** @type {Map<string, { mtimeMs: number, imports: string[] }>} file → the project files it imports */
const modules = new Map();

/** @param {string} specifier @param {string} from */
function resolve(specifier, from) {
  if (!specifier.startsWith('.')) return undefined;
  const r = ts.resolveModuleName(
    specifier,
    from,
    OPTIONS,
    ts.sys,
    undefined,
    undefined,
    ts.ModuleKind.ESNext,
  ).resolvedModule;
  if (!r || r.isExternalLibraryImport || r.resolvedFileName.endsWith('.d.ts')) return undefined;
  return path.resolve(r.resolvedFileName);
}

/** @param {string} file */
function readImports(file) {
  let mtimeMs;
  try {
    mtimeMs = fs.statSync(file).mtimeMs;
  } catch {
    return [];
  }
  const held = modules.get(file);
  if (held?.mtimeMs === mtimeMs) return held.imports;
  const found = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true).importedFiles;
  const imports = [...new Set(found.map((f) => resolve(f.fileName, file)).filter((f) => f !== undefined))];
  modules.set(file, { mtimeMs, imports });
  return imports;
}

/** @type {import('eslint').Rule.RuleModule} */
export default {
  meta: {
    type: 'problem',
    docs: { description: 'Forbid import cycles, type-only imports included' },
    schema: [],
    messages: { cycle: 'Import cycle (type imports included): {{route}}' },
  },
  create(context) {
    const self = path.resolve(context.physicalFilename);
    /** @type {Map<string, string[]>} files read for this file: each checked against the disk once */
    const seen = new Map();
    /** @param {string} file */
    const importsOf = (file) => {
      let imports = seen.get(file);
      if (!imports) seen.set(file, (imports = readImports(file)));
      return imports;
    };
    /**
     * The files from `start` back to this one (breadth first: a shortest way), or undefined.
     * @param {string} start
     */
    const wayBack = (start) => {
      /** @type {Map<string, string | undefined>} */
      const cameFrom = new Map([[start, undefined]]);
      const queue = [start];
      for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
        for (const next of importsOf(file)) {
          if (next === self) {
            const way = [];
            for (let f = /** @type {string | undefined} */ (file); f !== undefined; f = cameFrom.get(f))
              way.unshift(f);
            return way;
          }
          if (!cameFrom.has(next)) {
            cameFrom.set(next, file);
            queue.push(next);
          }
        }
      }
      return undefined;
    };
    /** @param {import('estree').Node} node @param {unknown} specifier */
    const check = (node, specifier) => {
      if (typeof specifier !== 'string') return;
      const target = resolve(specifier, self);
      if (target === undefined || target === self) return;
      const way = wayBack(target);
      if (!way) return;
      const route = [self, ...way, self].map((f) => path.relative(context.cwd, f)).join(' → ');
      context.report({ node, messageId: 'cycle', data: { route } });
    };
    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => check(node, node.source?.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => check(node, node.source.type === 'Literal' ? node.source.value : undefined),
      // `import('./x.js').T` and `import x = require('./x.js')`: typescript-eslint's nodes.
      /** @param {any} node */
      TSImportType: (node) => check(node, node.argument?.literal?.value),
      /** @param {any} node */
      TSExternalModuleReference: (node) => check(node, node.expression?.value),
    };
  },
};
