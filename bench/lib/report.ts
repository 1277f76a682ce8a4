/** The table on the terminal and bench/results/latest.json. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatNumber } from './repeat.js';
import type { ScenarioResult } from './scenario.js';

/**
 * PASS when the ratio meets the target (or the value stays within `maxValue`), MISS when not,
 * "report" for figures without a target.
 */
export function verdict(r: ScenarioResult): 'PASS' | 'MISS' | 'report' {
  if (r.maxValue !== undefined) return r.value <= r.maxValue ? 'PASS' : 'MISS';
  if (r.target === null || r.ratio === null) return 'report';
  return r.ratio >= r.target ? 'PASS' : 'MISS';
}

export function formatTable(rows: ScenarioResult[]): string {
  const header = ['scenario', 'hub', 'baseline', 'ratio', 'target', 'result'];
  const body = rows.map((r) => [
    r.scenario,
    `${formatNumber(r.value)} ${r.unit}`,
    r.baseline === null ? '-' : `${formatNumber(r.baseline)} ${r.unit}`,
    r.ratio === null ? '-' : r.ratio.toFixed(r.ratio >= 10 ? 1 : 2),
    r.maxValue !== undefined ? `<= ${r.maxValue} ${r.unit}` : r.target === null ? '-' : `>= ${r.target}`,
    verdict(r),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/**
 * Writes the rows to `<dir>/latest.json` as an array of {scenario, value, baseline, ratio, target,
 * unit}, plus maxValue where a row has one.
 */
export async function writeResults(dir: string, rows: ScenarioResult[]): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, 'latest.json');
  const clean = rows.map(({ scenario, value, baseline, ratio, target, maxValue, unit }) => ({
    scenario,
    value,
    baseline,
    ratio,
    target,
    ...(maxValue !== undefined ? { maxValue } : {}),
    unit,
  }));
  await writeFile(path, `${JSON.stringify(clean, null, 2)}\n`);
  return path;
}
