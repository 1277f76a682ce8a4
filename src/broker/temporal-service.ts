/**
 * Temporal application service (NGSI-LD §5.6.11-5.6.16 temporal provision, §5.7.3-5.7.4
 * temporal consumption): the reader (queries, pagination, aggregation) and the provision
 * (writes through the entity service) behind one object.
 */
import type { Store } from '../core/store.js';
import type { EntityService } from './entity-service.js';
import { createTemporalProvision } from './temporal-provision.js';
import { createTemporalReader } from './temporal-reader.js';

export { DEFAULT_MAX_INSTANCES } from './temporal-reader.js';
export type { TemporalQuery, TemporalResult } from './temporal-reader.js';
export { parseTemporalEntity } from './temporal-provision.js';
export { newInstanceId } from './history-recorder.js';

/**
 * Builds the temporal service. `maxInstances` is the instance limit per attribute of one
 * response (default DEFAULT_MAX_INSTANCES); past it, answers are paginated (NGSI-LD §6.3.10).
 */
export function createTemporalService(opts: {
  store: Store;
  entities: EntityService;
  maxInstances?: number;
}) {
  return {
    ...createTemporalReader({
      store: opts.store,
      ...(opts.maxInstances !== undefined ? { maxInstances: opts.maxInstances } : {}),
    }),
    ...createTemporalProvision({ store: opts.store, entities: opts.entities }),
  };
}

export type TemporalService = ReturnType<typeof createTemporalService>;
