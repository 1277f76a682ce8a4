/**
 * GET /metrics: Prometheus text format with entity changes, the notification outbox and the process.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { renderMetrics } from '../../src/api/metrics-routes.js';
import { createTestHub, type TestHub } from '../support/test-hub.js';

let hub: TestHub;
beforeAll(async () => {
  hub = await createTestHub({ delivery: { baseDelayMs: 60_000, pollMs: 100 } });
});
afterAll(async () => hub.close());

it('exposes entity changes and the outbox in the Prometheus text format', async () => {
  const sub = await hub.request({
    method: 'POST',
    url: '/ngsi-ld/v1/subscriptions',
    payload: {
      type: 'Subscription',
      entities: [{ type: 'Meter' }],
      notification: { endpoint: { uri: 'http://127.0.0.1:9/nobody-listens' } },
    },
  });
  expect(sub.statusCode).toBe(201);
  const created = await hub.request({
    method: 'POST',
    url: '/ngsi-ld/v1/entities',
    payload: { id: 'urn:ngsi-ld:Meter:m1', type: 'Meter', kwh: { type: 'Property', value: 1 } },
  });
  expect(created.statusCode).toBe(201);
  const res = await hub.request({ url: '/metrics' });
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain/);
  expect(res.body).toContain('# TYPE citypivot_entity_changes_total counter');
  expect(res.body).toMatch(/^citypivot_entity_changes_total\{kind="created"\} 1$/m);
  // The notification to a closed port waits for its retry (a minute away): one pending row.
  expect(res.body).toMatch(/^citypivot_notification_outbox\{state="pending"\} 1$/m);
  expect(res.body).toMatch(/^citypivot_process_resident_memory_bytes \d+$/m);
});

it('escapes label values as the format requires', () => {
  const text = renderMetrics([
    { name: 'x', help: 'a\nb', type: 'gauge', samples: [{ labels: { l: 'q"\\\n' }, value: Number.NaN }] },
  ]);
  expect(text).toBe('# HELP x a\\nb\n# TYPE x gauge\nx{l="q\\"\\\\\\n"} NaN\n');
});
