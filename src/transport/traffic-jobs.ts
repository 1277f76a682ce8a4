/**
 * What the traffic jobs share: reading all entities of a type page by page, and a sleep that
 * ends when the job is stopped.
 */
import type { StoredEntity } from '../core/entity-model.js';
import type { EntityQuery } from '../core/query/entity-query.js';
import type { QueryResult } from '../core/store.js';

/** Entities per page: bounded memory whatever the city's size. */
export const PAGE = 1000;

/** Calls `fn` with each page of the tenant's entities of `type` that have one of `withAnyAttr`. */
export async function eachPage(
  query: (tenant: string, q: EntityQuery) => Promise<QueryResult>,
  tenant: string,
  type: string,
  withAnyAttr: string[],
  fn: (page: StoredEntity[]) => Promise<void>,
): Promise<void> {
  for (let offset = 0; ; offset += PAGE) {
    const { entities } = await query(tenant, {
      type: { kind: 'type', name: type },
      withAnyAttr,
      orderBy: [{ column: 'id', desc: false }],
      limit: PAGE,
      offset,
      count: false,
    });
    if (entities.length > 0) await fn(entities);
    if (entities.length < PAGE) return;
  }
}

/** Waits `ms`, or less when `signal` aborts. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}
