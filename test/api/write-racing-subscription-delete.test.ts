/**
 * An entity write racing the delete of a subscription it matches: the write's transaction read the
 * subscription list before the delete committed, so it queues a notification for a subscription
 * that is gone by the time its outbox row is inserted. The write succeeds, with no notification for
 * the deleted subscription and the others' notifications intact (it used to fail the outbox
 * foreign key and answer 500).
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestHub, JSON_CT, type TestHub } from '../support/test-hub.js';
import { startReceiver, type Receiver } from '../support/receiver.js';

let hub: TestHub;
let rx: Receiver;
let deleter: pg.Client;

const E = '/ngsi-ld/v1/entities';
const TENANT = ''; // the default tenant

beforeAll(async () => {
  hub = await createTestHub({ delivery: { baseDelayMs: 50, maxDelayMs: 200, pollMs: 100 } });
  rx = await startReceiver();
  deleter = new pg.Client({ connectionString: hub.url });
  await deleter.connect();
});
afterAll(async () => {
  await deleter?.end();
  await rx?.close();
  await hub?.close();
});
beforeEach(() => {
  rx.received.length = 0;
});
afterEach(async () => {
  await deleter.query('ROLLBACK'); // a test that failed half-way leaves no transaction open
});

async function subscribe(id: string, type: string, extra: Record<string, unknown> = {}): Promise<void> {
  const res = await hub.request({
    method: 'POST',
    url: '/ngsi-ld/v1/subscriptions',
    headers: JSON_CT,
    payload: JSON.stringify({
      id,
      type: 'Subscription',
      entities: [{ type }],
      notification: { endpoint: { uri: rx.url } },
      ...extra,
    }),
  });
  expect(res.statusCode, res.body).toBe(201);
}

/**
 * Deletes the subscription in a transaction left open on a connection of the test, as the
 * subscription store's delete does (the row, and the tenant's generation bumped).
 */
async function beginDelete(id: string): Promise<void> {
  await deleter.query('BEGIN');
  const r = await deleter.query(
    `WITH d AS (DELETE FROM subscriptions WHERE tenant = $1 AND id = $2 RETURNING 1)
     UPDATE subscription_generations SET generation = generation + 1
     WHERE tenant = $1 AND EXISTS (SELECT 1 FROM d)`,
    [TENANT, id],
  );
  expect(r.rowCount).toBe(1);
}

/**
 * Resolves once another backend waits for a lock the test's open transaction holds: the write has
 * reached the subscription's row. (The write path's prepared statements do not show their
 * text in pg_stat_activity, so the wait is found by its blocker.)
 */
async function writeWaitsForTheTest(ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await deleter.query<{ n: string }>(
      `SELECT count(*) AS n FROM pg_stat_activity
       WHERE datname = current_database() AND pg_backend_pid() = ANY (pg_blocking_pids(pid))`,
    );
    if (Number(r.rows[0]?.n ?? 0) > 0) return;
    if (Date.now() > deadline) throw new Error('the write never reached the subscription row');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function outboxRowsOf(id: string): Promise<number> {
  const r = await deleter.query<{ n: string }>(
    'SELECT count(*) AS n FROM notification_outbox WHERE subscription_id = $1',
    [id],
  );
  return Number(r.rows[0]?.n ?? 0);
}

describe('an entity write racing the delete of a matching subscription', () => {
  it('creates the entity (201) and notifies only the subscription that still exists', async () => {
    await subscribe('urn:ngsi-ld:Subscription:going-1', 'Kiosk');
    await subscribe('urn:ngsi-ld:Subscription:staying-1', 'Kiosk');
    await beginDelete('urn:ngsi-ld:Subscription:going-1');
    const write = hub.request({
      method: 'POST',
      url: E,
      headers: JSON_CT,
      payload: JSON.stringify({
        id: 'urn:ngsi-ld:Kiosk:1',
        type: 'Kiosk',
        open: { type: 'Property', value: true },
      }),
    });
    await writeWaitsForTheTest();
    await deleter.query('COMMIT');
    const res = await write;
    expect(res.statusCode, res.body).toBe(201);

    const got = await rx.waitFor(1);
    expect(got.map((n) => n.body.subscriptionId)).toEqual(['urn:ngsi-ld:Subscription:staying-1']);
    expect((await hub.request({ url: `${E}/urn:ngsi-ld:Kiosk:1` })).statusCode).toBe(200);
    expect(await hub.store.subscriptions.get(TENANT, 'urn:ngsi-ld:Subscription:going-1')).toBeUndefined();
    expect(await outboxRowsOf('urn:ngsi-ld:Subscription:going-1')).toBe(0);
  });

  it('updates the attributes (204) and notifies only the subscription that still exists', async () => {
    const id = 'urn:ngsi-ld:Bench:1';
    const created = await hub.request({
      method: 'POST',
      url: E,
      headers: JSON_CT,
      payload: JSON.stringify({ id, type: 'Bench', free: { type: 'Property', value: 1 } }),
    });
    expect(created.statusCode, created.body).toBe(201);
    await subscribe('urn:ngsi-ld:Subscription:going-2', 'Bench');
    await subscribe('urn:ngsi-ld:Subscription:staying-2', 'Bench');
    await beginDelete('urn:ngsi-ld:Subscription:going-2');
    const write = hub.request({
      method: 'PATCH',
      url: `${E}/${id}/attrs`,
      headers: JSON_CT,
      payload: JSON.stringify({ free: { type: 'Property', value: 2 } }),
    });
    await writeWaitsForTheTest();
    await deleter.query('COMMIT');
    const res = await write;
    expect(res.statusCode, res.body).toBe(204);

    const got = await rx.waitFor(1);
    expect(got.map((n) => n.body.subscriptionId)).toEqual(['urn:ngsi-ld:Subscription:staying-2']);
    const kv = await hub.request({ url: `${E}/${id}?options=keyValues` });
    expect(JSON.parse(kv.body)).toMatchObject({ free: 2 });
    expect(await outboxRowsOf('urn:ngsi-ld:Subscription:going-2')).toBe(0);
  });

  it('writes (201) when the delete commits after the subscriptions were chosen, before the outbox insert', async () => {
    // The write waits on the throttled subscription's row (its throttling check), after it chose
    // the subscriptions and before it writes the outbox; meanwhile the other one is deleted and
    // the delete commits.
    await subscribe('urn:ngsi-ld:Subscription:going-3', 'Pump');
    await subscribe('urn:ngsi-ld:Subscription:staying-3', 'Pump', { throttling: 60 });
    await deleter.query('BEGIN');
    await deleter.query('SELECT 1 FROM subscriptions WHERE tenant = $1 AND id = $2 FOR NO KEY UPDATE', [
      TENANT,
      'urn:ngsi-ld:Subscription:staying-3',
    ]);
    const write = hub.request({
      method: 'POST',
      url: E,
      headers: JSON_CT,
      payload: JSON.stringify({
        id: 'urn:ngsi-ld:Pump:1',
        type: 'Pump',
        on: { type: 'Property', value: true },
      }),
    });
    await writeWaitsForTheTest();
    expect(await hub.store.subscriptions.delete(TENANT, 'urn:ngsi-ld:Subscription:going-3')).toBe(true);
    await deleter.query('COMMIT');
    const res = await write;
    expect(res.statusCode, res.body).toBe(201);

    const got = await rx.waitFor(1);
    expect(got.map((n) => n.body.subscriptionId)).toEqual(['urn:ngsi-ld:Subscription:staying-3']);
    expect(await outboxRowsOf('urn:ngsi-ld:Subscription:going-3')).toBe(0);
  });
});
