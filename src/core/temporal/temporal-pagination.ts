/**
 * Temporal pagination (NGSI-LD §6.3.10): the hub returns at most `limit` instances per attribute
 * of an entity. When an attribute is cut there, every attribute of the response is cut at the
 * same instant, so that the response holds all instances of one time range and no attribute
 * misses data inside it; the client asks for the rest from that instant on.
 */
import type { HistoryInstance } from '../history-store.js';
import type { TimeProperty } from './temporal-query.js';

export interface PageRequest {
  /** The hub's instance limit per attribute. */
  limit: number;
  /** The client's lastN: the newest N instances per attribute (the range then runs backwards). */
  lastN?: number;
  timeproperty: TimeProperty;
  /** The asked window in epoch ms (timeAt / endTimeAt), where given. */
  from?: number;
  to?: number;
}

/** The time range a cut response covers, as the Content-Range header shows it. */
export interface PageRange {
  /** Epoch ms; after `end` when the range runs backwards (lastN). */
  start: number;
  end: number;
  /** lastN when given, else '*' (the total is not counted). */
  size: number | '*';
}

export interface Page {
  /** The instances kept, oldest first per attribute. */
  kept: HistoryInstance[];
  /** One instance of each series that the cut left empty: it still shows, with no instances. */
  emptied: HistoryInstance[];
  /** Set when the hub's limit cut some attribute. */
  range?: PageRange;
}

/** The instant of an instance on the asked timeline (observedAt falls back to the change time). */
export function instantOf(h: HistoryInstance, p: TimeProperty): number {
  const t = p === 'observedAt' ? (h.observedAt ?? h.modifiedAt) : (h[p] ?? h.modifiedAt);
  return Date.parse(t);
}

/**
 * Applies the instance limit to instances read oldest first per (entity, attribute), with up to
 * one more than the limit per attribute (the extra one tells that there are more).
 * Without lastN the oldest instances are kept and the range is [start, cut]; with lastN the newest,
 * and the range runs from the window's end (or the newest instance) back to the cut.
 */
export function paginateInstances(instances: HistoryInstance[], req: PageRequest): Page {
  const backwards = req.lastN !== undefined;
  const cap = req.lastN !== undefined ? Math.min(req.lastN, req.limit) : req.limit;
  // lastN is what the client asked for; only the hub's own limit is pagination.
  const limitBinds = req.lastN === undefined || req.lastN > req.limit;
  const series = new Map<string, HistoryInstance[]>();
  for (const h of instances) {
    const k = `${h.entityId}\u0000${h.attr}`;
    const list = series.get(k);
    if (list) list.push(h);
    else series.set(k, [h]);
  }
  const at = (h: HistoryInstance) => instantOf(h, req.timeproperty);
  let cut: number | undefined;
  const taken: HistoryInstance[][] = [];
  for (const list of series.values()) {
    const ordered = backwards ? [...list].reverse() : list;
    const keep = ordered.slice(0, cap);
    taken.push(keep);
    const last = keep[keep.length - 1];
    if (ordered.length <= cap || !limitBinds || last === undefined) continue;
    // The earliest cut going forwards, the latest going backwards: no attribute misses data.
    const t = at(last);
    if (cut === undefined || (backwards ? t > cut : t < cut)) cut = t;
  }
  const kept: HistoryInstance[] = [];
  const emptied: HistoryInstance[] = [];
  for (const keep of taken) {
    const inRange = cut === undefined ? keep : keep.filter((h) => (backwards ? at(h) >= cut : at(h) <= cut));
    if (inRange.length === 0 && keep[0]) emptied.push(keep[0]);
    kept.push(...(backwards ? inRange.reverse() : inRange));
  }
  if (cut === undefined) return { kept, emptied };
  const times = kept.map(at);
  const range: PageRange = backwards
    ? { start: req.to ?? Math.max(...times), end: cut, size: req.lastN ?? '*' }
    : { start: req.from ?? Math.min(...times), end: cut, size: '*' };
  return { kept, emptied, range };
}
