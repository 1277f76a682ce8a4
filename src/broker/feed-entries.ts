/**
 * What a write appends to the change feed: one entry per entity change, with the attributes it
 * created, changed or removed.
 */
import type { StoredEntity } from '../core/entity-model.js';
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

/** The attributes a change created, changed or removed (all of them for a creation or deletion). */
export function changedAttributes(c: Change): string[] {
  const before = c.before?.attrs ?? {};
  const after = c.kind === 'deleted' ? {} : (c.after?.attrs ?? {});
  const names: string[] = [];
  for (const [name, list] of Object.entries(after))
    if (before[name] !== list && JSON.stringify(before[name]) !== JSON.stringify(list)) names.push(name);
  for (const name of Object.keys(before)) if (!(name in after)) names.push(name);
  const scopes = (e: StoredEntity | undefined) => JSON.stringify(e?.scopes ?? []);
  if (scopes(c.before) !== scopes(c.kind === 'deleted' ? undefined : c.after)) names.push(SCOPE_IRI);
  return names;
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
