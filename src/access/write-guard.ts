/**
 * The access module's guard on entity writes, on the entity service's hooks: each change is
 * checked in its write's transaction against the writer's policies (refused: 403, and a security
 * event), and the writer's own changes leave an audit record staged in the same transaction
 * (chained within a second by the background work, or before the log is read). When writes share
 * a transaction, a refused one is refused alone.
 */
import type { EntityWriteHooks } from '../core/access/access-port.js';
import { canWrite, changedAttributes, typesOfChange } from '../core/access/read-filter.js';
import { HubError } from '../core/errors.js';
import { writeAudit } from './audit-trail.js';
import { currentAccess } from './request-access.js';
import type { SecurityEvents } from './security-events.js';

export function guardWrites(
  entities: EntityWriteHooks,
  deps: { events: SecurityEvents; now: () => Date },
): void {
  entities.onAuthorize(async (c) => {
    const a = currentAccess();
    if (!a) return;
    const types = typesOfChange(c.before, c.after);
    const attrs = changedAttributes(c.before, c.after);
    const entity = {
      types,
      ...(c.before ? { before: c.before } : {}),
      ...(c.after ? { after: c.after } : {}),
    };
    if (!canWrite(await a.policies(), c.tenant, entity, attrs)) {
      deps.events.emit('denied', a.principal.name, { tenant: c.tenant, entity: c.id, action: 'write' });
      throw new HubError(
        'Forbidden',
        `Your department may not ${c.kind === 'deleted' ? 'delete' : 'write'} entity ${c.id}${
          c.before && c.after && types.length > c.before.types.length ? ' as a new type' : ''
        }`,
      );
    }
  });
  entities.onOwnChanges(async (tx, changes) => {
    const a = currentAccess();
    // Device traffic is not audited one write at a time (a city sends millions a day): it is in
    // the entities' history.
    if (a && a.principal.kind !== 'devices') await tx.auditTrail.stage(writeAudit(a, changes), deps.now());
  });
}
