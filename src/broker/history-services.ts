/**
 * The history wiring on an entity service: the in-transaction recorder, the temporal service
 * and the background jobs. The recorder hook is registered here, once per entity service.
 */
import type { Store } from '../core/store.js';
import type { EntityService } from './entity-service.js';
import { createHistoryJobs } from './history-jobs.js';
import type { HistoryJobOptions } from './history-jobs.js';
import { createHistoryRecorder } from './history-recorder.js';
import { createTemporalService } from './temporal-service.js';

export function createHistoryServices(opts: {
  store: Store;
  entities: EntityService;
  jobs?: Omit<HistoryJobOptions, 'history'>;
  maxInstances?: number;
}) {
  opts.entities.onTransaction(createHistoryRecorder(opts.entities.now));
  const temporal = createTemporalService({
    store: opts.store,
    entities: opts.entities,
    ...(opts.maxInstances !== undefined ? { maxInstances: opts.maxInstances } : {}),
  });
  const jobs = createHistoryJobs({ history: opts.store.history, ...opts.jobs });
  return { temporal, jobs };
}
