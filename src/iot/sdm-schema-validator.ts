/**
 * Checks readings against the Smart Data Models JSON schema of their entity type (ajv, draft
 * 2020-12, with formats). A reading carries some attributes, not a whole entity, so members the
 * schema requires but the reading lacks are not errors: the values it carries must fit.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;

export interface SchemaValidator {
  /** True if a schema is known for the type. */
  has(entityType: string): boolean;
  /** `undefined` when valid (or no schema), else a short description of the first problems. */
  validate(entityType: string, keyValues: Record<string, unknown>): string | undefined;
}

/**
 * Loads `{dir}/dataModel.*\/{Type}/schema.json` and `{dir}/_shared/*.json` (the common schema the
 * models refer to by URL). Schemas compile on first use. A directory that does not exist gives a
 * validator that knows no type.
 */
export function createSchemaValidator(
  dir: string,
  opts: { onWarning?: (message: string) => void } = {},
): SchemaValidator {
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  const files = new Map<string, string>();
  if (existsSync(dir)) {
    const shared = join(dir, '_shared');
    if (existsSync(shared)) {
      for (const f of readdirSync(shared).filter((x) => x.endsWith('.json'))) {
        ajv.addSchema(JSON.parse(readFileSync(join(shared, f), 'utf8')) as object);
      }
    }
    for (const domain of readdirSync(dir).filter((d) => d.startsWith('dataModel.'))) {
      // Domain-wide schemas (Environment-schema.json), referred to by their github.io id and by
      // their raw.githubusercontent.com URL.
      for (const f of readdirSync(join(dir, domain)).filter((x) => x.endsWith('-schema.json'))) {
        const doc = JSON.parse(readFileSync(join(dir, domain, f), 'utf8')) as Record<string, unknown>;
        ajv.addSchema(doc);
        const raw = `https://raw.githubusercontent.com/smart-data-models/${domain}/master/${f}`;
        if (doc.$id !== raw) ajv.addSchema({ ...doc, $id: raw });
      }
      for (const model of readdirSync(join(dir, domain))) {
        const f = join(dir, domain, model, 'schema.json');
        if (existsSync(f)) files.set(model, f);
      }
    }
  }
  const compiled = new Map<string, ValidateFunction | null>();
  const get = (type: string): ValidateFunction | undefined => {
    const held = compiled.get(type);
    if (held !== undefined) return held ?? undefined;
    const f = files.get(type);
    if (!f) return undefined;
    const schema = JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown>;
    let v: ValidateFunction | null;
    try {
      v = ajv.getSchema(String(schema.$id)) ?? ajv.compile(schema);
    } catch (err) {
      // A schema that refers to one not shipped cannot check anything: the type counts as unknown.
      opts.onWarning?.(`The ${type} schema cannot be compiled: ${(err as Error).message}`);
      v = null;
    }
    compiled.set(type, v);
    return v ?? undefined;
  };
  return {
    has: (type) => get(type) !== undefined,
    validate(type, keyValues) {
      const v = get(type);
      if (!v || v(keyValues)) return undefined;
      const errors = (v.errors ?? []).filter((e) => e.keyword !== 'required' && e.keyword !== 'if');
      // anyOf/oneOf report their branches too; the branch errors say what is wrong.
      const useful = errors.filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf');
      const shown = (useful.length > 0 ? useful : errors).slice(0, 3);
      if (shown.length === 0) return undefined;
      return shown.map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`).join('; ');
    },
  };
}
