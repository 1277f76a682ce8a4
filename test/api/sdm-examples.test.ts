/**
 * Every Smart Data Models normalized example in vendor/smart-data-models: created with its own @context
 * (resolved from the bundled copies, no network), retrieved, queried by type and by q, and read
 * back in normalized, concise and keyValues forms. Examples that are not valid NGSI-LD get a
 * clear error and leave nothing behind.
 */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestHub, json, link } from '../support/test-hub.js';
import type { TestHub } from '../support/test-hub.js';

const SDM = join(import.meta.dirname, '../../vendor/smart-data-models');

interface Example {
  model: string;
  body: Record<string, unknown>;
}

function examples(): Example[] {
  const out: Example[] = [];
  for (const domain of readdirSync(SDM).filter((d) => d.startsWith('dataModel.'))) {
    for (const model of readdirSync(join(SDM, domain))) {
      const f = join(SDM, domain, model, 'examples', 'example-normalized.jsonld');
      if (existsSync(f))
        out.push({ model, body: JSON.parse(readFileSync(f, 'utf8')) as Record<string, unknown> });
    }
  }
  return out;
}

// Not valid NGSI-LD as published, for the reason given; the hub must say so clearly.
const INVALID: Record<string, { status: number; reason: RegExp }> = {
  TransportStation: { status: 400, reason: /not an NGSI-LD attribute type/ },
  FloodMonitoring: { status: 400, reason: /not an NGSI-LD attribute type/ },
  // dateObserved is a Relationship whose object is a date, not a URI.
  WaterObserved: { status: 400, reason: /dateObserved is a Relationship whose object is not a URI/ },
  // Its @context names https://fiware.github.io/data-models/context.jsonld, which is not bundled.
  IndoorEnvironmentObserved: { status: 503, reason: /fiware\.github\.io/ },
};

let hub: TestHub;
beforeAll(async () => {
  hub = await createTestHub();
});
afterAll(async () => {
  await hub?.close();
});

const all = examples();

describe('Smart Data Models examples', () => {
  it('finds the examples', () => {
    expect(all.length).toBeGreaterThanOrEqual(20);
  });

  for (const ex of all) {
    const ctx = ex.body['@context'];
    const ctxUrls = (Array.isArray(ctx) ? ctx : [ctx]).filter((c): c is string => typeof c === 'string');
    const domainCtx =
      ctxUrls.find((u) => u.includes('smart-data-models')) ?? ctxUrls[ctxUrls.length - 1] ?? '';
    const id = String(ex.body.id);
    const enc = encodeURIComponent(id);

    it(`${ex.model}: create, retrieve, query and render`, async () => {
      const res = await hub.request({
        method: 'POST',
        url: '/ngsi-ld/v1/entities',
        headers: { 'content-type': 'application/ld+json' },
        payload: JSON.stringify(ex.body),
      });
      const invalid = INVALID[ex.model];
      if (invalid) {
        expect(res.statusCode, res.body).toBe(invalid.status);
        expect(json<{ detail: string }>(res).detail).toMatch(invalid.reason);
        const after = await hub.request({ method: 'GET', url: `/ngsi-ld/v1/entities/${enc}` });
        expect(after.statusCode).toBe(404);
        return;
      }
      expect(res.statusCode, res.body).toBe(201);

      const headers = link(domainCtx);
      const got = await hub.request({ method: 'GET', url: `/ngsi-ld/v1/entities/${enc}`, headers });
      expect(got.statusCode).toBe(200);
      const normalized = json<Record<string, unknown>>(got);
      expect(normalized.id).toBe(id);
      expect(normalized.type).toBe(ex.body.type);
      // Every attribute comes back under the name it was sent with.
      const names = Object.keys(ex.body).filter((k) => !['id', 'type', '@context'].includes(k));
      for (const n of names) expect(normalized, n).toHaveProperty([n]);

      const byType = await hub.request({
        method: 'GET',
        url: `/ngsi-ld/v1/entities?type=${encodeURIComponent(String(ex.body.type))}`,
        headers,
      });
      expect(json<{ id: string }[]>(byType).map((e) => e.id)).toContain(id);

      // q on the first attribute with a plain number or string value.
      const probe = names.find((n) => {
        const a = ex.body[n] as { type?: string; value?: unknown };
        return (
          a.type === 'Property' &&
          (typeof a.value === 'number' || (typeof a.value === 'string' && !a.value.includes('"')))
        );
      });
      if (probe) {
        const v = (ex.body[probe] as { value: number | string }).value;
        const q = `${probe}==${typeof v === 'number' ? v : JSON.stringify(v)}`;
        const byQ = await hub.request({
          method: 'GET',
          url: `/ngsi-ld/v1/entities?type=${encodeURIComponent(String(ex.body.type))}&q=${encodeURIComponent(q)}`,
          headers,
        });
        expect(byQ.statusCode, byQ.body).toBe(200);
        expect(
          json<{ id: string }[]>(byQ).map((e) => e.id),
          q,
        ).toContain(id);
      }

      for (const format of ['concise', 'keyValues'] as const) {
        const r = await hub.request({
          method: 'GET',
          url: `/ngsi-ld/v1/entities/${enc}?format=${format}`,
          headers,
        });
        expect(r.statusCode).toBe(200);
        const body = json<Record<string, unknown>>(r);
        for (const n of names) expect(body, `${format} ${n}`).toHaveProperty([n]);
      }
      const kv = json<Record<string, unknown>>(
        await hub.request({ method: 'GET', url: `/ngsi-ld/v1/entities/${enc}?options=keyValues`, headers }),
      );
      if (probe) expect(kv[probe]).toEqual((ex.body[probe] as { value: unknown }).value);
    });
  }
});
