/**
 * pick and omit (NGSI-LD §4.21), with v1.9 projections into linked entities:
 * `pick=id,locatedAt{id,name,isInCountry{description}}` keeps id and locatedAt here, and id and
 * name (and so on down) in the entities that locatedAt links to.
 */
import { badRequest } from '../core/errors.js';
import type { ActiveContext } from '../core/context/active-context.js';
import type { RenderOptions } from '../core/entity-output.js';

/** Member name → the projection of the entities it links to (undefined: no nested projection). */
export type ProjectionTree = Map<string, ProjectionTree | undefined>;

export interface Projection {
  mode: 'pick' | 'omit';
  tree: ProjectionTree;
}

const MAX_DEPTH = 16;

/** Parses a pick/omit list with brace-nested sub-lists; throws BadRequestData on bad syntax. */
export function parseProjection(s: string): ProjectionTree {
  const isName = (n: string) =>
    n.length > 0 && n.length <= 512 && !/[\s<>"'=;()[\]|\\^`&?%]/.test(n) && !n.startsWith('@');
  let pos = 0;
  const fail = (msg: string): never => {
    throw badRequest(`Invalid projection ${JSON.stringify(s)}: ${msg} at position ${pos}`);
  };
  const parseList = (depth: number): ProjectionTree => {
    if (depth > MAX_DEPTH) fail('nested too deeply');
    const tree: ProjectionTree = new Map();
    for (;;) {
      const start = pos;
      while (pos < s.length && !',{}'.includes(s[pos] as string)) pos++;
      const name = s.slice(start, pos).trim();
      if (!isName(name)) fail(`invalid name ${JSON.stringify(name)}`);
      let sub: ProjectionTree | undefined;
      if (s[pos] === '{') {
        pos++;
        sub = parseList(depth + 1);
        if (s[pos] !== '}') fail("expected '}'");
        pos++;
      }
      tree.set(name, sub);
      if (s[pos] !== ',') return tree;
      pos++;
    }
  };
  const tree = parseList(0);
  if (pos !== s.length) fail('unexpected character');
  return tree;
}

/** Applies a projection node to render options; `undefined` keeps everything. */
export function applyProjection(
  base: RenderOptions,
  projection: Projection | undefined,
  ctx: ActiveContext,
): RenderOptions {
  if (!projection) return base;
  const names = [...projection.tree.keys()];
  const plain = (n: string) => n !== 'id' && n !== 'type';
  if (projection.mode === 'pick') {
    const only = new Set(names.filter(plain).map((n) => ctx.expand(n)));
    return { ...base, only, hideId: !names.includes('id'), hideType: !names.includes('type') };
  }
  // omit=locatedAt{name} omits inside what locatedAt links to, not locatedAt itself
  const dropped = names.filter((n) => projection.tree.get(n) === undefined);
  const omit = new Set(dropped.filter(plain).map((n) => ctx.expand(n)));
  return { ...base, omit, hideId: dropped.includes('id'), hideType: dropped.includes('type') };
}

/** The projection of the entities linked through `attrName`, if the parent projection names one. */
export function linkedProjection(
  projection: Projection | undefined,
  attrName: string,
): Projection | undefined {
  const sub = projection?.tree.get(attrName);
  return projection && sub ? { mode: projection.mode, tree: sub } : undefined;
}

/** Whether a relationship survives the projection (only those are followed by join). */
export function keepsAttribute(projection: Projection | undefined, attrName: string): boolean {
  if (!projection) return true;
  const named = projection.tree.has(attrName);
  // omit with a nested list omits inside the linked entities, not the relationship itself
  if (projection.mode === 'omit') return !named || projection.tree.get(attrName) !== undefined;
  return named;
}
