/**
 * Which notification trigger (NGSI-LD §5.2.12 notificationTrigger, §5.8.6) one entity change
 * fires for one subscription, and which attributes it concerns. Pure: the broker calls it inside
 * the write transaction with the entity before and after.
 */
import type { StoredAttribute, StoredEntity } from '../entity-model.js';
import type { TypeExpr } from '../query/type-expr.js';
import { triggersOf, type NotificationTrigger, type Subscription } from './subscription-model.js';

export interface ChangeInput {
  kind: 'created' | 'updated' | 'deleted';
  before?: StoredEntity | undefined;
  after?: StoredEntity | undefined;
}

export interface TriggerResult {
  trigger: NotificationTrigger;
  /** Attribute IRIs whose instances were updated (showChanges adds previous values to these). */
  updated: Set<string>;
  /** Attribute IRI → instances that are gone (shown with the NGSI-LD Null value). */
  deleted: Map<string, StoredAttribute[]>;
}

/** True if an entity's types satisfy a type selection over expanded names (NGSI-LD §4.17). */
export function matchesTypeExpr(expr: TypeExpr, types: readonly string[]): boolean {
  switch (expr.kind) {
    case 'type':
      return types.includes(expr.name);
    case 'or':
      return expr.items.some((i) => matchesTypeExpr(i, types));
    case 'and':
      return expr.items.every((i) => matchesTypeExpr(i, types));
  }
}

/**
 * Decides whether `change` fires `sub`, ignoring q, geoQ and scopeQ (checked after, against the
 * store). Entity selectors are checked by the caller. One change fires at most one notification per
 * subscription; when several triggers apply, attribute triggers win over entityUpdated.
 */
export function triggerFor(sub: Subscription, change: ChangeInput): TriggerResult | undefined {
  const triggers = triggersOf(sub);
  const watched = sub.watchedAttributes ? new Set(sub.watchedAttributes) : undefined;
  const ds = sub.datasetId ? new Set(sub.datasetId) : undefined;
  const keep = (list: StoredAttribute[] | undefined): StoredAttribute[] =>
    (list ?? []).filter((i) => !ds || ds.has(i.datasetId ?? '@none'));
  const isWatched = (iri: string) => !watched || watched.has(iri);
  const empty = (): TriggerResult => ({ trigger: 'entityUpdated', updated: new Set(), deleted: new Map() });

  if (change.kind === 'created') {
    const after = change.after;
    if (!after) return undefined;
    if (triggers.includes('entityCreated')) return { ...empty(), trigger: 'entityCreated' };
    const created = Object.keys(after.attrs).some(
      (iri) => isWatched(iri) && keep(after.attrs[iri]).length > 0,
    );
    if (triggers.includes('attributeCreated') && created) return { ...empty(), trigger: 'attributeCreated' };
    return undefined;
  }
  if (change.kind === 'deleted') {
    const before = change.before;
    if (triggers.includes('entityDeleted')) {
      const r = { ...empty(), trigger: 'entityDeleted' as const };
      if (before) for (const [iri, list] of Object.entries(before.attrs)) r.deleted.set(iri, keep(list));
      return r;
    }
    if (!before || !triggers.includes('attributeDeleted')) return undefined;
    const r = { ...empty(), trigger: 'attributeDeleted' as const };
    for (const [iri, list] of Object.entries(before.attrs)) {
      const gone = keep(list);
      if (isWatched(iri) && gone.length > 0) r.deleted.set(iri, gone);
    }
    return r.deleted.size > 0 ? r : undefined;
  }

  const before = change.before;
  const after = change.after;
  if (!before || !after) return undefined;
  let created = false;
  const updated = new Set<string>();
  const deleted = new Map<string, StoredAttribute[]>();
  for (const iri of new Set([...Object.keys(before.attrs), ...Object.keys(after.attrs)])) {
    if (!isWatched(iri)) continue;
    const was = keep(before.attrs[iri]);
    const now = keep(after.attrs[iri]);
    for (const inst of now) {
      const old = was.find((w) => w.datasetId === inst.datasetId);
      if (!old) created = true;
      else if (!sameInstance(old, inst)) updated.add(iri);
    }
    const gone = was.filter((w) => !now.some((n) => n.datasetId === w.datasetId));
    if (gone.length > 0) deleted.set(iri, gone);
  }
  if (created && triggers.includes('attributeCreated'))
    return { trigger: 'attributeCreated', updated, deleted: new Map() };
  if (updated.size > 0 && triggers.includes('attributeUpdated'))
    return { trigger: 'attributeUpdated', updated, deleted: new Map() };
  if (deleted.size > 0 && triggers.includes('attributeDeleted'))
    return { trigger: 'attributeDeleted', updated, deleted };
  if (triggers.includes('entityUpdated')) {
    const entityChanged =
      created ||
      updated.size > 0 ||
      deleted.size > 0 ||
      (!watched &&
        (before.types.join() !== after.types.join() ||
          (before.scopes ?? []).join() !== (after.scopes ?? []).join()));
    if (entityChanged) return { trigger: 'entityUpdated', updated, deleted };
  }
  return undefined;
}

/** Two instances are the same if they differ at most in their system timestamps. */
function sameInstance(a: StoredAttribute, b: StoredAttribute): boolean {
  return canonical(a) === canonical(b);
}

function canonical(a: StoredAttribute): string {
  return JSON.stringify(a, (key, value: unknown) =>
    key === 'createdAt' || key === 'modifiedAt'
      ? undefined
      : value && typeof value === 'object' && !Array.isArray(value)
        ? Object.fromEntries(Object.entries(value).sort(([x], [y]) => (x < y ? -1 : 1)))
        : value,
  );
}
