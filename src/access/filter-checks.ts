/**
 * Refuses (403) a subscription's filters (q, geoQ) on attributes the requesting department may
 * not read or sees masked: they run later on unmasked values, where they would tell which
 * entities hold a value. No request access (authentication off, or outside a request): nothing to
 * check.
 */
import type { EntityQuery } from '../core/store.js';
import { HubError } from '../core/errors.js';
import { filterScope, namedTypes } from './guarded-store.js';
import { currentAccess } from './request-access.js';
import type { SecurityEvents } from './security-events.js';

export async function checkFilters(
  events: SecurityEvents,
  tenant: string,
  query: EntityQuery,
): Promise<void> {
  const a = currentAccess();
  if (!a) return;
  const f = await a.filter(tenant);
  if (!f.tenantReadable)
    throw new HubError('Forbidden', `Your department may not read data of tenant ${JSON.stringify(tenant)}`);
  // Watching a type the department may not read would watch nothing now and everything the day a
  // policy were widened without anyone looking at the subscriptions: refused.
  const hidden = namedTypes(query).filter((t) => f.readableTypes !== '*' && !f.readableTypes.includes(t));
  if (hidden.length > 0) {
    events.emit('denied', a.principal.name, { tenant, types: hidden, action: 'subscribe' });
    throw new HubError('Forbidden', `Your department may not read entities of type ${hidden.join(', ')}`);
  }
  filterScope(f, query, true);
}
