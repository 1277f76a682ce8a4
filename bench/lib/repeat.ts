/**
 * Hub and baseline measured alternately (hub first in even repetitions, baseline first in odd
 * ones), so that drift on a shared machine hits both sides alike; the medians make the ratio.
 */
import type { BenchContext, ScenarioResult } from './scenario.js';
import { median } from './stats.js';

export interface Sides<T> {
  hub: () => Promise<T>;
  baseline: () => Promise<T>;
}

export interface Measured<T> {
  hub: T[];
  baseline: T[];
}

/** Runs `repetitions` pairs, logging each figure (`figure` picks the number from a run). */
export async function alternate<T>(
  ctx: BenchContext,
  label: string,
  sides: Sides<T>,
  figure: (run: T) => number,
  unit: string,
): Promise<Measured<T>> {
  const out: Measured<T> = { hub: [], baseline: [] };
  for (let rep = 0; rep < ctx.settings.repetitions; rep++) {
    const order: ('hub' | 'baseline')[] = rep % 2 === 0 ? ['hub', 'baseline'] : ['baseline', 'hub'];
    for (const side of order) {
      const run = await sides[side]();
      out[side].push(run);
      ctx.log(`  ${label} #${rep + 1} ${side.padEnd(8)} ${formatNumber(figure(run))} ${unit}`);
    }
  }
  return out;
}

/** A result row from the medians of both sides. */
export function ratioRow(
  scenario: string,
  hub: number[],
  baseline: number[],
  target: number,
  unit: string,
): ScenarioResult {
  const value = median(hub);
  const base = median(baseline);
  return { scenario, value, baseline: base, ratio: value / base, target, unit };
}

/** 3 significant digits, thousands grouped: 12,300 / 45.6 / 0.0123. */
export function formatNumber(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return n === null ? '-' : String(n);
  const abs = Math.abs(n);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}
