/**
 * Reads the @context documents shipped in `contexts/` (the NGSI-LD core context and the Smart Data
 * Models contexts; see contexts/ATTRIBUTION.md), keyed by every URL they are published at, so that
 * the context resolver never fetches them.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `contexts/` of the package: two levels up from both src/server/ and dist/server/. */
export const BUNDLED_CONTEXTS_DIR = fileURLToPath(new URL('../../contexts/', import.meta.url));

/**
 * Loads `index.json` of `dir` (default {@link BUNDLED_CONTEXTS_DIR}), a map from URL to file path
 * relative to `dir`, and returns URL → parsed document. Several URLs naming one file share one
 * parsed object. Throws if the index or a file is missing or not JSON.
 */
export async function loadBundledContexts(dir: string = BUNDLED_CONTEXTS_DIR): Promise<Map<string, unknown>> {
  const indexPath = join(dir, 'index.json');
  const index = JSON.parse(await readFile(indexPath, 'utf8')) as unknown;
  if (typeof index !== 'object' || index === null || Array.isArray(index)) {
    throw new Error(`${indexPath} must be a JSON object mapping URLs to files`);
  }
  const byFile = new Map<string, Promise<unknown>>();
  const read = (file: string) => {
    let doc = byFile.get(file);
    if (doc === undefined) {
      const path = join(dir, file);
      doc = readFile(path, 'utf8').then(
        (text) => JSON.parse(text) as unknown,
        (err: unknown) => {
          throw new Error(`Bundled context ${path} listed in ${indexPath} cannot be read`, { cause: err });
        },
      );
      byFile.set(file, doc);
    }
    return doc;
  };
  const out = new Map<string, unknown>();
  for (const [url, file] of Object.entries(index)) {
    if (typeof file !== 'string') throw new Error(`${indexPath}: the file for ${url} must be a string`);
    out.set(url, await read(file));
  }
  return out;
}
