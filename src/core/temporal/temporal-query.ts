/**
 * The temporal part of a temporal query (NGSI-LD §4.11 temporal query language, §6.18/§6.19
 * query parameters): timerel with timeAt/endTimeAt, timeproperty, lastN, and the representation
 * (normalized, temporalValues, aggregatedValues with aggrMethods and aggrPeriodDuration).
 */
import type { Duration } from './duration.js';
import { DurationSyntaxError, parseDuration } from './duration.js';
import { isDateTime } from '../validation.js';

export const TIMERELS = ['before', 'after', 'between'] as const;
export type Timerel = (typeof TIMERELS)[number];

export const TIME_PROPERTIES = ['observedAt', 'createdAt', 'modifiedAt', 'deletedAt'] as const;
export type TimeProperty = (typeof TIME_PROPERTIES)[number];

/** NGSI-LD §4.5.19 aggregation methods. */
export const AGGR_METHODS = [
  'totalCount',
  'distinctCount',
  'sum',
  'avg',
  'min',
  'max',
  'stddev',
  'sumsq',
] as const;
export type AggrMethod = (typeof AGGR_METHODS)[number];

/** Methods that combine from partial results (count, sum, sumsq, min, max): rollups serve them. */
export const COMPOSABLE_METHODS: readonly AggrMethod[] = [
  'totalCount',
  'sum',
  'avg',
  'min',
  'max',
  'stddev',
  'sumsq',
];

export const TEMPORAL_FORMATS = ['normalized', 'temporalValues', 'aggregatedValues'] as const;
export type TemporalFormat = (typeof TEMPORAL_FORMATS)[number];

export interface TimeFilter {
  timerel: Timerel;
  /** Epoch milliseconds. */
  timeAt: number;
  /** Epoch milliseconds; only for between. */
  endTimeAt?: number;
}

export interface TemporalSpec {
  time?: TimeFilter;
  timeproperty: TimeProperty;
  /** The newest N instances per attribute (NGSI-LD §6.3.? lastN), else all (up to the page size). */
  lastN?: number;
  format: TemporalFormat;
  aggrMethods?: AggrMethod[];
  aggrPeriod?: Duration;
  /** The aggrPeriodDuration as given, for messages. */
  aggrPeriodText?: string;
  sysAttrs: boolean;
}

export class TemporalSyntaxError extends Error {
  override name = 'TemporalSyntaxError';
  /** 'request' for an unknown option or format (InvalidRequest), 'data' for bad values (BadRequestData). */
  constructor(
    message: string,
    readonly kind: 'request' | 'data' = 'data',
  ) {
    super(message);
  }
}

export interface TemporalInput {
  timerel?: string;
  timeAt?: string;
  endTimeAt?: string;
  timeproperty?: string;
  lastN?: string;
  options?: string[];
  format?: string;
  aggrMethods?: string;
  aggrPeriodDuration?: string;
}

const OPTIONS = new Set(['temporalValues', 'aggregatedValues', 'sysAttrs', 'normalized', 'concise']);

/**
 * Parses and cross-checks the temporal parameters. `format` wins over options (NGSI-LD §6.3.7).
 * Throws TemporalSyntaxError (→ BadRequestData) on bad values or combinations.
 * Defaults: timeproperty observedAt, normalized representation, aggrPeriodDuration the whole range (P0D).
 */
export function parseTemporalSpec(input: TemporalInput): TemporalSpec {
  const fail = (msg: string, kind: 'request' | 'data' = 'data'): never => {
    throw new TemporalSyntaxError(msg, kind);
  };
  const opts = input.options ?? [];
  for (const o of opts) if (!OPTIONS.has(o)) fail(`Unknown option ${JSON.stringify(o)}`, 'request');
  let format: TemporalFormat = 'normalized';
  if (input.format !== undefined) {
    if (!(TEMPORAL_FORMATS as readonly string[]).includes(input.format))
      fail(`Unknown format ${JSON.stringify(input.format)}`, 'request');
    format = input.format as TemporalFormat;
  } else {
    const chosen = opts.filter((o) => o === 'temporalValues' || o === 'aggregatedValues');
    if (chosen.length > 1) fail('temporalValues and aggregatedValues cannot be asked together');
    if (chosen[0]) format = chosen[0];
  }
  const spec: TemporalSpec = {
    timeproperty: 'observedAt',
    format,
    sysAttrs: opts.includes('sysAttrs'),
  };

  const { timerel, timeAt, endTimeAt } = input;
  if (timerel !== undefined) {
    if (!(TIMERELS as readonly string[]).includes(timerel))
      fail(`timerel must be one of ${TIMERELS.join(', ')}, not ${JSON.stringify(timerel)}`);
    if (timeAt === undefined || timeAt === '') fail(`timerel=${timerel} needs timeAt`);
    if (!isDateTime(timeAt)) fail(`timeAt ${JSON.stringify(timeAt)} is not an ISO 8601 date-time`);
    const time: TimeFilter = { timerel: timerel as Timerel, timeAt: Date.parse(timeAt as string) };
    if (timerel === 'between') {
      if (endTimeAt === undefined || endTimeAt === '') fail('timerel=between needs endTimeAt');
      if (!isDateTime(endTimeAt)) fail(`endTimeAt ${JSON.stringify(endTimeAt)} is not an ISO 8601 date-time`);
      time.endTimeAt = Date.parse(endTimeAt as string);
      if (time.endTimeAt <= time.timeAt) fail('endTimeAt must be after timeAt');
    } else if (endTimeAt !== undefined && endTimeAt !== '') {
      fail(`endTimeAt only goes with timerel=between`);
    }
    spec.time = time;
  } else if ((timeAt !== undefined && timeAt !== '') || (endTimeAt !== undefined && endTimeAt !== '')) {
    fail('timeAt and endTimeAt need timerel');
  }

  if (input.timeproperty !== undefined) {
    if (!(TIME_PROPERTIES as readonly string[]).includes(input.timeproperty))
      fail(`timeproperty must be one of ${TIME_PROPERTIES.join(', ')}`);
    spec.timeproperty = input.timeproperty as TimeProperty;
  }
  if (input.lastN !== undefined) {
    if (!/^\d+$/.test(input.lastN) || Number(input.lastN) < 1 || Number(input.lastN) > 1_000_000)
      fail('lastN must be a positive integer');
    spec.lastN = Number(input.lastN);
  }

  if (format === 'aggregatedValues') {
    if (input.aggrMethods === undefined || input.aggrMethods === '')
      fail('The aggregated representation needs aggrMethods');
    spec.aggrMethods = parseAggrMethods(input.aggrMethods as string);
    const period = input.aggrPeriodDuration ?? 'P0D';
    spec.aggrPeriodText = period;
    // P0D (the default) asks for one period over the whole range.
    if (!/^P(T)?0[DHMS]?$/.test(period)) {
      try {
        spec.aggrPeriod = parseDuration(period);
      } catch (err) {
        if (err instanceof DurationSyntaxError) fail(`Invalid aggrPeriodDuration: ${err.message}`);
        throw err;
      }
    }
  } else if (input.aggrMethods !== undefined && input.format === undefined) {
    // aggrMethods without the aggregated representation: checked, then ignored.
    parseAggrMethods(input.aggrMethods);
  }
  if (input.aggrPeriodDuration !== undefined && format !== 'aggregatedValues') {
    try {
      if (!/^P(T)?0[DHMS]?$/.test(input.aggrPeriodDuration)) parseDuration(input.aggrPeriodDuration);
    } catch (err) {
      if (err instanceof DurationSyntaxError) fail(`Invalid aggrPeriodDuration: ${err.message}`);
      throw err;
    }
  }
  return spec;
}

/** Parses a comma-separated aggrMethods list; unknown names are an error. */
export function parseAggrMethods(s: string): AggrMethod[] {
  const out: AggrMethod[] = [];
  for (const raw of s.split(',')) {
    const m = raw.trim();
    if (!(AGGR_METHODS as readonly string[]).includes(m))
      throw new TemporalSyntaxError(
        `Unknown aggregation method ${JSON.stringify(m)}; use ${AGGR_METHODS.join(', ')}`,
      );
    if (!out.includes(m as AggrMethod)) out.push(m as AggrMethod);
  }
  return out;
}

/** The [from, to) window of a time filter in epoch ms (either side open). */
export function windowOf(t: TimeFilter | undefined): { from?: number; to?: number; fromExclusive?: boolean } {
  if (!t) return {};
  switch (t.timerel) {
    case 'before':
      return { to: t.timeAt };
    case 'after':
      // NGSI-LD §4.11: after is strictly after; between includes timeAt and excludes endTimeAt.
      return { from: t.timeAt, fromExclusive: true };
    case 'between':
      return t.endTimeAt === undefined ? { from: t.timeAt } : { from: t.timeAt, to: t.endTimeAt };
  }
}

/** An instant as NGSI-LD shows it: ISO 8601 UTC, without the milliseconds when they are zero. */
export function formatInstant(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
}
