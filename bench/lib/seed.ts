/** Fills a hub with city entities through its own batch upsert endpoint (not timed). */
import { cityEntity, ID_PREFIX } from './city-entities.js';

export const UPSERT_PATH = '/ngsi-ld/v1/entityOperations/upsert';

/**
 * Upserts entities 0..count-1 in batches of `batchSize`, `concurrency` batches in flight; entity
 * `i` is `entityOf(i)`, by default the city entity of that index.
 */
export async function seedThroughHub(
  hubUrl: string,
  count: number,
  opts: { prefix?: string; batchSize?: number; concurrency?: number; entityOf?: (i: number) => unknown } = {},
): Promise<void> {
  const entityOf = opts.entityOf ?? ((i: number) => cityEntity(i, opts.prefix ?? ID_PREFIX));
  const batchSize = opts.batchSize ?? 1000;
  let next = 0;
  const worker = async () => {
    for (;;) {
      const from = next;
      if (from >= count) return;
      next += batchSize;
      const batch = [];
      for (let i = from; i < Math.min(count, from + batchSize); i++) batch.push(entityOf(i));
      const res = await fetch(`${hubUrl}${UPSERT_PATH}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(batch),
      });
      if (res.status !== 201 && res.status !== 204)
        throw new Error(`seeding: upsert answered ${res.status}: ${(await res.text()).slice(0, 500)}`);
      await res.arrayBuffer().catch(() => undefined);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 2 }, worker));
}
