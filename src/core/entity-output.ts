/**
 * Renders stored entities in the NGSI-LD representations: normalized, concise and keyValues
 * (NGSI-LD §4.5.1, §4.5.3 simplified), and GeoJSON (§4.5.16), compacted with the request's @context.
 */
import type { ActiveContext } from './context/active-context.js';
import type { StoredAttribute, StoredEntity } from './entity-model.js';
import { isPlainObject } from './validation.js';

export const FORMATS = ['normalized', 'concise', 'keyValues'] as const;
export type Format = (typeof FORMATS)[number];

export interface RenderOptions {
  format: Format;
  sysAttrs?: boolean | undefined;
  /** Expanded attribute IRIs to keep (attrs/pick); undefined keeps all. */
  only?: Set<string> | undefined;
  /** Expanded attribute IRIs to drop (omit). */
  omit?: Set<string> | undefined;
  /** pick/omit of the entity's own id and type members. */
  hideId?: boolean;
  hideType?: boolean;
  /** Only instances with one of these datasetIds ('@none': the default instance), NGSI-LD §4.5.5. */
  datasetIds?: Set<string> | undefined;
  /**
   * Linked entity retrieval, join=inline (NGSI-LD §4.5.23): the rendered target of a relationship
   * object, or undefined when it is not to be (or cannot be) inlined.
   */
  inline?: ((id: string, attrIri: string) => Rendered | undefined) | undefined;
  /** NGSI-LD §4.15 lang: pick one language from LanguageProperty values. */
  lang?: string | undefined;
}

export type Rendered = Record<string, unknown>;

export function renderEntity(e: StoredEntity, ctx: ActiveContext, opts: RenderOptions): Rendered {
  const out: Rendered = {};
  if (!opts.hideId) out.id = e.id;
  if (!opts.hideType) {
    const types = e.types.map((t) => ctx.compact(t));
    out.type = types.length === 1 ? types[0] : types;
  }
  const scopeIri = ctx.expand('scope');
  const showScope = (!opts.only || opts.only.has(scopeIri)) && !opts.omit?.has(scopeIri);
  if (showScope && e.scopes && e.scopes.length > 0)
    out.scope = e.scopes.length === 1 ? e.scopes[0] : e.scopes;
  if (opts.sysAttrs && opts.format !== 'keyValues') {
    if (e.createdAt) out.createdAt = e.createdAt;
    if (e.modifiedAt) out.modifiedAt = e.modifiedAt;
  }
  for (const [iri, all] of Object.entries(e.attrs)) {
    if (opts.only && !opts.only.has(iri)) continue;
    if (opts.omit?.has(iri)) continue;
    const ds = opts.datasetIds;
    const instances = ds ? all.filter((i) => ds.has(i.datasetId ?? '@none')) : all;
    if (instances.length === 0) continue;
    const name = ctx.compact(iri);
    if (opts.format === 'keyValues' && instances.length > 1) {
      // NGSI-LD §4.5.5: a multi-attribute's simplified form keys its values by datasetId.
      const dataset: Record<string, unknown> = {};
      for (const i of instances) dataset[i.datasetId ?? '@none'] = simplifiedValue(i, ctx, opts.lang);
      out[name] = { dataset };
      continue;
    }
    if (opts.format === 'keyValues') {
      const inst = instances.find((i) => i.datasetId === undefined) ?? instances[0];
      if (inst) {
        const inlined =
          inst.type === 'Relationship' && opts.inline && inst.object !== undefined
            ? inlineTargets(inst.object, (id) => opts.inline?.(id, iri))
            : undefined;
        out[name] = inlined ?? simplifiedValue(inst, ctx, opts.lang);
      }
      continue;
    }
    const rendered = instances.map((i) => renderAttribute(i, ctx, opts, iri));
    out[name] = rendered.length === 1 ? rendered[0] : rendered;
  }
  return out;
}

/** One attribute instance, normalized or concise. */
export function renderAttribute(
  a: StoredAttribute,
  ctx: ActiveContext,
  opts: RenderOptions,
  iri = '',
): unknown {
  const concise = opts.format === 'concise';
  const out: Rendered = {};
  if (!concise) out.type = a.type;
  switch (a.type) {
    case 'Property':
      out.value = a.value;
      break;
    case 'GeoProperty':
      out.value = a.value;
      break;
    case 'Relationship':
      out.object = a.object;
      if (a.objectType !== undefined) out.objectType = compactList(a.objectType, ctx);
      if (opts.inline && a.object !== undefined) {
        const inline = opts.inline;
        const inlined = inlineTargets(a.object, (id) => inline(id, iri));
        if (inlined !== undefined) out.entity = inlined;
      }
      break;
    case 'LanguageProperty': {
      if (opts.lang !== undefined) {
        const [lang, text] = pickLanguage(a.languageMap ?? {}, opts.lang);
        if (!concise) out.type = 'Property';
        out.value = text;
        out.lang = lang;
      } else {
        out.languageMap = a.languageMap;
      }
      break;
    }
    case 'VocabProperty':
      out.vocab = a.vocab === undefined ? undefined : compactList(a.vocab, ctx);
      break;
    case 'JsonProperty':
      out.json = a.json;
      break;
    case 'ListProperty':
      out.valueList = a.valueList;
      break;
    case 'ListRelationship':
      out.objectList = a.objectList;
      break;
    default: {
      const never: never = a.type;
      return never;
    }
  }
  if (a.datasetId !== undefined) out.datasetId = a.datasetId;
  if (a.observedAt !== undefined) out.observedAt = a.observedAt;
  if (a.unitCode !== undefined) out.unitCode = a.unitCode;
  if (opts.sysAttrs) {
    if (a.createdAt !== undefined) out.createdAt = a.createdAt;
    if (a.modifiedAt !== undefined) out.modifiedAt = a.modifiedAt;
  }
  if (a.sub) {
    for (const [subIri, sub] of Object.entries(a.sub))
      out[ctx.compact(subIri)] = renderAttribute(sub, ctx, opts, subIri);
  }
  if (concise) return conciseShortcut(a, out);
  return out;
}

/** Concise form (NGSI-LD §4.5.1.2): a Property with nothing but a value is just the value. */
function conciseShortcut(a: StoredAttribute, out: Rendered): unknown {
  const keys = Object.keys(out);
  if (a.type === 'GeoProperty' && keys.length === 1) return out.value;
  if (a.type === 'Property' && keys.length === 1 && 'value' in out) {
    const v = out.value;
    // Objects and arrays stay wrapped: bare they would read as attribute metadata or as instances.
    if (!isPlainObject(v) && !Array.isArray(v)) return v;
  }
  return out;
}

/** The plain value of an attribute, as keyValues shows it (NGSI-LD §4.5.3). */
export function simplifiedValue(a: StoredAttribute, ctx: ActiveContext, lang?: string): unknown {
  switch (a.type) {
    case 'Property':
    case 'GeoProperty':
      return a.value;
    case 'Relationship':
      return a.object;
    case 'LanguageProperty':
      return lang === undefined ? { languageMap: a.languageMap } : pickLanguage(a.languageMap ?? {}, lang)[1];
    case 'VocabProperty':
      return a.vocab === undefined ? undefined : { vocab: compactList(a.vocab, ctx) };
    case 'JsonProperty':
      return { json: a.json };
    case 'ListProperty':
      return { valueList: a.valueList };
    case 'ListRelationship':
      return { objectList: a.objectList };
    default: {
      const never: never = a.type;
      return never;
    }
  }
}

function inlineTargets(object: string | string[], inline: (id: string) => Rendered | undefined): unknown {
  if (!Array.isArray(object)) return inline(object);
  const all = object.map((o) => inline(o)).filter((x) => x !== undefined);
  return all.length > 0 ? all : undefined;
}

function compactList(v: string | string[], ctx: ActiveContext): string | string[] {
  return Array.isArray(v) ? v.map((x) => ctx.compact(x)) : ctx.compact(v);
}

/**
 * Picks the best language for a `lang` parameter (NGSI-LD §4.15): a comma-separated list with
 * optional q-weights, `*` for any; falls back to @none, then to the first entry.
 */
export function pickLanguage(map: Record<string, unknown>, lang: string): [string, unknown] {
  const wanted = lang
    .split(',')
    .map((part, i) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => /^q=([\d.]+)$/.exec(p.trim())).find((m) => m)?.[1];
      return { tag: tag.trim(), q: q === undefined ? 1 : Number(q), i };
    })
    .filter((w) => w.tag.length > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i);
  const keys = Object.keys(map);
  for (const w of wanted) {
    if (w.tag === '*') break;
    const exact = keys.find((k) => k.toLowerCase() === w.tag.toLowerCase());
    if (exact !== undefined) return [exact, map[exact]];
    const prefix = keys.find((k) => k.toLowerCase().startsWith(`${w.tag.toLowerCase()}-`));
    if (prefix !== undefined) return [prefix, map[prefix]];
  }
  if ('@none' in map) return ['@none', map['@none']];
  const first = keys[0] ?? '@none';
  return [first, map[first]];
}

/** GeoJSON Feature (NGSI-LD §4.5.16): geometry from the chosen GeoProperty, the rest as properties. */
export function renderFeature(
  e: StoredEntity,
  ctx: ActiveContext,
  opts: RenderOptions,
  geoPropertyIri: string,
): Rendered {
  const body = renderEntity(e, ctx, opts);
  const { id, ...properties } = body;
  const geo = e.attrs[geoPropertyIri]?.find((i) => i.type === 'GeoProperty');
  return { id, type: 'Feature', geometry: geo?.value ?? null, properties };
}
