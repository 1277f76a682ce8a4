/**
 * Security fuzzing in CI: with a fixed seed, thousands of generated requests against the NGSI-LD,
 * IoT and platform routes of a hub with authentication and the IoT edge on, and a few hundred raw
 * requests over a socket; every answer is checked by the oracles (oracles.ts). FUZZ_REQUESTS and
 * FUZZ_SEED override the count and the seed (`npm run fuzz -- --requests N --seed S`). A finding
 * fails the test with the seed, the request's index and a reproduction.
 */
import { describe, expect, it } from 'vitest';
import { runFuzz, type FuzzReport } from './fuzz-run.js';

const SEED = 20240501;
const REQUESTS = 5000;

function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new Error(`${name} must be a whole number, not ${JSON.stringify(raw)}`);
  return n;
}

const requests = intFromEnv('FUZZ_REQUESTS', REQUESTS);
const seed = intFromEnv('FUZZ_SEED', SEED);
const rawRequests = Math.min(1000, Math.max(200, Math.round(requests * 0.06)));

function summary(r: FuzzReport): string {
  const hist = (h: Record<string, number>) =>
    Object.entries(h)
      .sort(([a], [b]) => Number(a) - Number(b))
      .map(([k, v]) => `${k}:${v}`)
      .join(' ');
  return (
    `security fuzz: seed ${r.seed}, ${r.requests} requests [${hist(r.statuses)}], ` +
    `${r.rawRequests} raw [${hist(r.rawStatuses)}], ${r.restores} restores, ` +
    `${Object.values(r.counts).reduce((a, b) => a + (b ?? 0), 0)} findings, ${r.seconds.toFixed(1)} s ` +
    `(setup ${r.phases.setup.toFixed(1)}, answers ${r.phases.answering.toFixed(1)}, checks ${r.phases.checking.toFixed(1)})`
  );
}

function findingsText(r: FuzzReport): string {
  const counts = Object.entries(r.counts)
    .map(([k, v]) => `${k} ×${v}`)
    .join(', ');
  return [
    `Security fuzzing found problems (seed ${r.seed}): ${counts}`,
    ...r.findings.map(
      (f) =>
        `\n[${f.kind}] ${f.at}${f.occurrences > 1 ? ` (and ${f.occurrences - 1} more like it)` : ''}: ${f.detail}\n${f.reproduction}`,
    ),
  ].join('\n');
}

describe('security fuzzing', () => {
  it(
    `${requests} generated requests and ${rawRequests} raw ones break no oracle (seed ${seed})`,
    async () => {
      const report = await runFuzz({ seed, requests, rawRequests });
      console.log(summary(report));
      expect(report.findings, findingsText(report)).toEqual([]);
    },
    // The hub's own setup and the run, with room for a slow CI machine.
    Math.max(300_000, requests * 60),
  );
});
