/**
 * Temporal pagination (NGSI-LD §6.3.10) as a pure function: the instance limit per attribute,
 * the cut shared by every attribute, the range of a forwards and of a lastN (backwards) page.
 */
import { describe, expect, it } from 'vitest';
import type { HistoryInstance } from '../../src/core/history-store.js';
import { paginateInstances } from '../../src/core/temporal/temporal-pagination.js';

const minute = (m: number) => Date.UTC(2020, 0, 1, 1, m);

/** `n` instances of one attribute, one a minute from `first`, oldest first (as the store reads them). */
function series(entityId: string, attr: string, first: number, n: number): HistoryInstance[] {
  return Array.from({ length: n }, (_, i) => {
    const at = new Date(minute(first + i)).toISOString();
    return {
      entityId,
      attr,
      instanceId: `urn:ngsi-ld:${entityId}:${attr}:${i}`,
      observedAt: at,
      createdAt: at,
      modifiedAt: at,
      instance: { type: 'Property', value: i },
    };
  });
}

const times = (list: HistoryInstance[], attr: string) =>
  list.filter((h) => h.attr === attr).map((h) => new Date(h.observedAt ?? '').getUTCMinutes());

describe('paginateInstances', () => {
  it('keeps everything, with no range, when no attribute reaches the limit', () => {
    const read = [...series('e1', 'speed', 1, 3), ...series('e1', 'fuel', 2, 3)];
    const page = paginateInstances(read, { limit: 3, timeproperty: 'observedAt' });
    expect(page.kept).toHaveLength(6);
    expect(page.range).toBeUndefined();
    expect(page.emptied).toEqual([]);
  });

  it('cuts every attribute at the earliest cut going forwards', () => {
    // speed 01:01..01:20 and fuel 01:03..01:22, one more than the limit read of each.
    const read = [...series('e1', 'speed', 1, 6), ...series('e1', 'fuel', 3, 6)];
    const page = paginateInstances(read, { limit: 5, timeproperty: 'observedAt' });
    expect(times(page.kept, 'speed')).toEqual([1, 2, 3, 4, 5]);
    // fuel's own cut would be 01:07; the response ends at speed's 01:05 so no attribute misses data.
    expect(times(page.kept, 'fuel')).toEqual([3, 4, 5]);
    expect(page.range).toEqual({ start: minute(1), end: minute(5), size: '*' });
  });

  it('starts the range at the window start when one is given', () => {
    const read = series('e1', 'speed', 1, 6);
    const page = paginateInstances(read, { limit: 5, timeproperty: 'observedAt', from: minute(0) });
    expect(page.range).toEqual({ start: minute(0), end: minute(5), size: '*' });
  });

  it('runs backwards with lastN past the limit: from the window end to the latest cut, size lastN', () => {
    // The store reads the newest limit+1 of each attribute: speed 01:15..01:20, fuel 01:17..01:22.
    const read = [...series('e1', 'speed', 15, 6), ...series('e1', 'fuel', 17, 6)];
    const page = paginateInstances(read, { limit: 5, lastN: 20, timeproperty: 'observedAt', to: minute(59) });
    expect(times(page.kept, 'fuel')).toEqual([18, 19, 20, 21, 22]);
    expect(times(page.kept, 'speed')).toEqual([18, 19, 20]);
    expect(page.range).toEqual({ start: minute(59), end: minute(18), size: 20 });
  });

  it('does not paginate when lastN is within the limit: lastN is what the client asked for', () => {
    const read = series('e1', 'speed', 1, 4);
    const page = paginateInstances(read, { limit: 5, lastN: 3, timeproperty: 'observedAt' });
    expect(times(page.kept, 'speed')).toEqual([2, 3, 4]);
    expect(page.range).toBeUndefined();
  });

  it('reports series the cut left empty, across entities', () => {
    // A second entity whose instances all come after the first entity's cut.
    const read = [...series('e1', 'speed', 1, 6), ...series('e2', 'speed', 30, 2)];
    const page = paginateInstances(read, { limit: 5, timeproperty: 'observedAt' });
    expect(page.kept.every((h) => h.entityId === 'e1')).toBe(true);
    expect(page.emptied.map((h) => [h.entityId, h.attr])).toEqual([['e2', 'speed']]);
    expect(page.range?.end).toBe(minute(5));
  });
});
