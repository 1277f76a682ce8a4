/**
 * GET /metrics: the hub's state in the Prometheus text exposition format (version 0.0.4), for the
 * city's monitoring. Each subsystem contributes families through a source function; a source that
 * fails is left out (and counted) rather than failing the scrape.
 */
import type { FastifyInstance } from 'fastify';
import { ACCOUNT, guarded } from '../http/route-access.js';

export interface MetricSample {
  labels?: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  samples: MetricSample[];
}

export type MetricSource = () => Promise<MetricFamily[]> | MetricFamily[];

/** Prometheus text format: HELP and TYPE lines, then one line per sample. */
export function renderMetrics(families: MetricFamily[]): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
    lines.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels ?? {})
        .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
        .join(',');
      const value = Number.isFinite(s.value)
        ? String(s.value)
        : s.value > 0
          ? '+Inf'
          : s.value < 0
            ? '-Inf'
            : 'NaN';
      lines.push(`${f.name}${labels ? `{${labels}}` : ''} ${value}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export function registerMetricsRoutes(app: FastifyInstance, sources: MetricSource[]): void {
  let failures = 0;
  app.get('/metrics', guarded(ACCOUNT, []), async (_req, reply) => {
    const families: MetricFamily[] = [];
    for (const source of sources) {
      try {
        families.push(...(await source()));
      } catch {
        failures++;
      }
    }
    const mem = process.memoryUsage();
    families.push(
      {
        name: 'citypivot_process_resident_memory_bytes',
        help: 'Resident memory of the hub process',
        type: 'gauge',
        samples: [{ value: mem.rss }],
      },
      {
        name: 'citypivot_process_uptime_seconds',
        help: 'Seconds since the hub process started',
        type: 'gauge',
        samples: [{ value: Math.round(process.uptime()) }],
      },
      {
        name: 'citypivot_metrics_source_failures_total',
        help: 'Metric sources that failed during a scrape',
        type: 'counter',
        samples: [{ value: failures }],
      },
    );
    return reply.type('text/plain; version=0.0.4').send(renderMetrics(families));
  });
}
