/**
 * Linked entity retrieval (NGSI-LD §4.5.23, v1.8.1): `join=inline` puts the target of each
 * relationship inside it (as `entity`, or in place of the value for keyValues); `join=flat` adds the
 * targets to the result. `joinLevel` (default 1) follows relationships that many hops.
 */
import type { ActiveContext } from '../core/context/active-context.js';
import type { StoredEntity } from '../core/entity-model.js';
import { renderEntity } from '../core/entity-output.js';
import type { Rendered, RenderOptions } from '../core/entity-output.js';
import { badRequest } from '../core/errors.js';
import type { Params } from './query-options.js';
import { projectionOf, str } from './query-options.js';
import { applyProjection, keepsAttribute, linkedProjection } from './projection.js';
import type { Projection } from './projection.js';

export interface JoinOptions {
  mode: 'inline' | 'flat';
  level: number;
}

const MAX_LEVEL = 8;

/** Reads join/joinLevel; undefined when no join was asked for (join=@none counts as none). */
export function joinOf(p: Params): JoinOptions | undefined {
  const join = str(p, 'join');
  const levelRaw = str(p, 'joinLevel');
  if (join === undefined || join === '@none') {
    if (levelRaw !== undefined && join === undefined)
      throw badRequest('joinLevel needs join=inline or join=flat');
    return undefined;
  }
  if (join !== 'inline' && join !== 'flat') throw badRequest('join must be inline, flat or @none');
  let level = 1;
  if (levelRaw !== undefined) {
    if (!/^\d+$/.test(levelRaw) || Number(levelRaw) < 1)
      throw badRequest('joinLevel must be a positive integer');
    level = Math.min(Number(levelRaw), MAX_LEVEL);
  }
  return { mode: join, level };
}

function targetsOf(e: StoredEntity): string[] {
  const out: string[] = [];
  for (const instances of Object.values(e.attrs)) {
    for (const a of instances) {
      if (a.type === 'Relationship' && a.object !== undefined)
        out.push(...(Array.isArray(a.object) ? a.object : [a.object]));
    }
  }
  return out;
}

/** Loads the entities reachable from `roots` in at most `level` hops (one query per hop). */
export async function loadLinked(
  getMany: (ids: string[]) => Promise<Map<string, StoredEntity>>,
  roots: StoredEntity[],
  level: number,
): Promise<Map<string, StoredEntity>> {
  const found = new Map<string, StoredEntity>();
  const seen = new Set(roots.map((r) => r.id));
  let frontier = roots;
  for (let hop = 0; hop < level && frontier.length > 0; hop++) {
    const ids = [...new Set(frontier.flatMap(targetsOf))].filter((id) => !seen.has(id));
    if (ids.length === 0) break;
    for (const id of ids) seen.add(id);
    const got = await getMany(ids);
    for (const [id, e] of got) found.set(id, e);
    frontier = [...got.values()];
  }
  return found;
}

/**
 * Renders roots with their linked entities, inline or flat. Only relationships the projection
 * keeps are followed; the entities they link to get the projection nested under that relationship
 * (`pick=id,locatedAt{id,name}`), or none.
 */
export function renderJoined(
  roots: StoredEntity[],
  linked: Map<string, StoredEntity>,
  ctx: ActiveContext,
  ro: RenderOptions,
  join: JoinOptions,
  projection?: Projection,
): Rendered[] {
  const base: RenderOptions = { format: ro.format, sysAttrs: ro.sysAttrs ?? false, lang: ro.lang };
  const follows = (proj: Projection | undefined, iri: string) => keepsAttribute(proj, ctx.compact(iri));
  if (join.mode === 'inline') {
    const inlineAt =
      (depth: number, proj: Projection | undefined) =>
      (id: string, iri: string): Rendered | undefined => {
        const target = linked.get(id);
        if (!target || !follows(proj, iri)) return undefined;
        const sub = linkedProjection(proj, ctx.compact(iri));
        return renderEntity(target, ctx, {
          ...applyProjection(base, sub, ctx),
          inline: depth < join.level ? inlineAt(depth + 1, sub) : undefined,
        });
      };
    return roots.map((e) => renderEntity(e, ctx, { ...ro, inline: inlineAt(1, projection) }));
  }
  // flat: walk the kept relationships breadth first, each linked entity once, with its projection
  const out = roots.map((e) => renderEntity(e, ctx, ro));
  const seen = new Set(roots.map((r) => r.id));
  let frontier: [StoredEntity, Projection | undefined][] = roots.map((r) => [r, projection]);
  for (let hop = 0; hop < join.level && frontier.length > 0; hop++) {
    const next: [StoredEntity, Projection | undefined][] = [];
    for (const [e, proj] of frontier) {
      for (const [iri, instances] of Object.entries(e.attrs)) {
        if (!follows(proj, iri)) continue;
        const sub = linkedProjection(proj, ctx.compact(iri));
        for (const a of instances) {
          if (a.type !== 'Relationship' || a.object === undefined) continue;
          for (const id of Array.isArray(a.object) ? a.object : [a.object]) {
            const target = linked.get(id);
            if (!target || seen.has(id)) continue;
            seen.add(id);
            out.push(renderEntity(target, ctx, applyProjection(base, sub, ctx)));
            next.push([target, sub]);
          }
        }
      }
    }
    frontier = next;
  }
  return out;
}

/**
 * The rendered entities with their linked entities when the request asks for a join
 * (join/joinLevel and pick/omit from `p`), or undefined when it does not.
 */
export async function renderWithJoin(
  p: Params,
  getMany: (ids: string[]) => Promise<Map<string, StoredEntity>>,
  roots: StoredEntity[],
  ctx: ActiveContext,
  ro: RenderOptions,
): Promise<{ join: JoinOptions; bodies: Rendered[] } | undefined> {
  const join = joinOf(p);
  if (!join) return undefined;
  const linked = await loadLinked(getMany, roots, join.level);
  return { join, bodies: renderJoined(roots, linked, ctx, ro, join, projectionOf(p)) };
}
