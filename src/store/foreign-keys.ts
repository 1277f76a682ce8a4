/**
 * Foreign keys a write can break because the row it refers to does not exist, or was deleted by a
 * concurrent transaction after the caller looked it up (under READ COMMITTED a look-up does not
 * keep the row). Such a write is the caller's mistake or lost race, not a fault of the hub: each
 * site names the hub error it answers with instead of SQLSTATE 23503 becoming a 500 (STYLE.md 6).
 *
 * The outbox's key to subscriptions is not here: an entity write skips a deleted subscription
 * instead of failing (postgres-subscriptions.ts). entity_geo's key to entities cannot break: the
 * write has inserted or updated, and so locked, the entity row first (postgres-store.ts).
 */
import { HubError } from '../core/errors.js';

/** The constraint names PostgreSQL gave the foreign keys of migration 5 (access-schema.ts). */
export const ACCESS_FOREIGN_KEYS = [
  'access_departments_parent_fkey',
  'access_users_department_fkey',
  'access_sessions_user_id_fkey',
  'access_api_keys_department_fkey',
  'access_policies_department_fkey',
  'access_datasets_owner_department_fkey',
  'access_share_requests_dataset_id_fkey',
  'access_share_requests_department_fkey',
  'access_grants_department_fkey',
] as const;
export type AccessForeignKey = (typeof ACCESS_FOREIGN_KEYS)[number];

/** The PostgreSQL error of a foreign key violation, as thrown or as the `cause` of a hub error. */
function foreignKeyViolation(err: unknown): { constraint?: string } | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null | undefined;
  if (e?.code === '23503') return e as { constraint?: string };
  if (e?.cause?.code === '23503') return e.cause as { constraint?: string };
  return undefined;
}

/**
 * A `.catch` handler: a violation of one of the named keys becomes the hub error given for it
 * (the database error kept as `cause`); anything else is thrown on unchanged.
 */
export function onMissingReference(
  answers: Partial<Record<AccessForeignKey, (cause: unknown) => HubError>>,
): (err: unknown) => never {
  return (err) => {
    const v = foreignKeyViolation(err);
    const answer = v?.constraint === undefined ? undefined : answers[v.constraint as AccessForeignKey];
    throw answer ? answer(err) : err;
  };
}

/** A department named in the request that is not there (any more): 400. */
export const noDepartment = (id: string | null | undefined) => (cause: unknown) =>
  new HubError('BadRequestData', `Department ${id ?? ''} does not exist`, { cause });
