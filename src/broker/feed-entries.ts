/**
 * What a write appends to the change feed: one entry per entity change, with the attributes it
 * created, changed or removed.
 */
import type { StoredAttribute, StoredEntity } from '../core/entity-model.js';
import type { FeedChangeKind, FeedEntry } from '../core/change-feed.js';

/** A change as the entity service builds it (structurally its EntityChange). */
interface Change {
  tenant: string;
  id: string;
  kind: FeedChangeKind;
  before?: StoredEntity;
  after?: StoredEntity;
}

const SCOPE_IRI = 'https://uri.etsi.org/ngsi-ld/scope';

const keyOf = (i: StoredAttribute) => i.datasetId ?? '';

/** What a change did to the attribute instances: the ones created or changed, and the ones removed. */
export interface InstanceDiff {
  written: [attr: string, instance: StoredAttribute][];
  removed: [attr: string, instance: StoredAttribute][];
  /** The entity had a scope and has none now. */
  scopeRemoved: boolean;
  /** The attributes touched, scope included (expanded IRIs). */
  attributes: string[];
}

const diffs = new WeakMap<Change, InstanceDiff>();

/**
 * The instance diff of a change, computed once per change (the history recorder and the change
 * feed both read it). Instances are rewritten whole when changed (their modifiedAt moves), so an
 * instance whose JSON is equal is unchanged.
 */
export function instanceDiff(c: Change): InstanceDiff {
  const held = diffs.get(c);
  if (held) return held;
  const before = c.before?.attrs ?? {};
  const after = c.kind === 'deleted' ? {} : (c.after?.attrs ?? {});
  const written: InstanceDiff['written'] = [];
  const removed: InstanceDiff['removed'] = [];
  const touched = new Set<string>();
  for (const [attr, list] of Object.entries(after)) {
    const old = new Map((before[attr] ?? []).map((i) => [keyOf(i), i]));
    for (const inst of list) {
      const was = old.get(keyOf(inst));
      if (was && JSON.stringify(was) === JSON.stringify(inst)) continue;
      written.push([attr, inst]);
      touched.add(attr);
    }
  }
  for (const [attr, list] of Object.entries(before)) {
    const kept = new Set((after[attr] ?? []).map(keyOf));
    for (const inst of list)
      if (!kept.has(keyOf(inst))) {
        removed.push([attr, inst]);
        touched.add(attr);
      }
  }
  const scopes = (e: StoredEntity | undefined) => e?.scopes ?? [];
  const hadScope = scopes(c.before).length > 0;
  const now = c.kind === 'deleted' ? [] : scopes(c.after);
  const scopeRemoved = hadScope && now.length === 0;
  if (JSON.stringify(scopes(c.before)) !== JSON.stringify(now)) touched.add(SCOPE_IRI);
  const diff = { written, removed, scopeRemoved, attributes: [...touched] };
  diffs.set(c, diff);
  return diff;
}

/** The attributes a change created, changed or removed (all of them for a creation or deletion). */
export function changedAttributes(c: Change): string[] {
  return instanceDiff(c).attributes;
}

/** The feed entries of a write's changes, in the write's order. */
export function feedEntriesOf(changes: Change[]): FeedEntry[] {
  return changes.map((c) => ({
    tenant: c.tenant,
    id: c.id,
    kind: c.kind,
    types: (c.kind === 'deleted' ? c.before : (c.after ?? c.before))?.types ?? [],
    attributes: changedAttributes(c),
  }));
}
