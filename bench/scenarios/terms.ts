/**
 * terms: @context term expansion and compaction of a Smart Data Models entity (AirQualityObserved,
 * normalized, with the dataModel.Environment @context), in process, with the hub's code (the context
 * resolver's compiled-context cache, then parseEntity to expand and renderEntity to compact) against
 * jsonld.js (expand, then compact with the same @context plus the NGSI-LD core context) with a
 * document loader that serves the bundled documents from memory. Target: ratio >= 20.
 *
 * Correctness: both sides must give back every attribute name and the type of the input.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as jsonldNamespace from 'jsonld';
import type { RemoteDocument } from 'jsonld/jsonld-spec.js';
import { createContextResolver } from '../../src/broker/context-resolver.js';
import { CORE_CONTEXT_URL } from '../../src/core/context/core-context.js';
import { parseEntity } from '../../src/core/entity-input.js';
import { renderEntity } from '../../src/core/entity-output.js';
import { loadBundledContexts } from '../../src/server/bundled-contexts.js';
import { CONTEXTS_DIR, FIXTURES_DIR } from '../lib/paths.js';
import { alternate, ratioRow } from '../lib/repeat.js';
import type { BenchContext, Scenario } from '../lib/scenario.js';

const TARGET = 20;
const FIXTURE = 'air-quality-observed.normalized.jsonld';

// jsonld is CommonJS: under Node's ESM loader its API is the default export.
const jsonld =
  (jsonldNamespace as unknown as { default?: typeof jsonldNamespace }).default ?? jsonldNamespace;

/** Runs `op` repeatedly for `seconds`, returns operations per second. */
async function opsPerSecond(seconds: number, op: () => Promise<unknown>): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let n = 0;
  const t0 = performance.now();
  while (performance.now() < end) {
    for (let k = 0; k < 20; k++) await op();
    n += 20;
  }
  return n / ((performance.now() - t0) / 1000);
}

function names(doc: Record<string, unknown>): string {
  return Object.keys(doc)
    .filter((k) => k !== '@context')
    .sort()
    .join(',');
}

export const scenario: Scenario = {
  name: 'terms',
  order: 50,
  summary:
    'expand + compact a Smart Data Models entity: hub compiled contexts vs jsonld.js with cached loader',
  async run(ctx: BenchContext) {
    const entity = JSON.parse(await readFile(join(FIXTURES_DIR, FIXTURE), 'utf8')) as Record<string, unknown>;
    const bundled = await loadBundledContexts(CONTEXTS_DIR);
    const contextValue = entity['@context'];
    const now = new Date().toISOString();

    const resolver = createContextResolver({ bundled });
    const hubOp = async () => {
      const active = await resolver.resolve(contextValue);
      return renderEntity(parseEntity(entity, active, { now }), active, { format: 'normalized' });
    };

    const userContexts = Array.isArray(contextValue) ? (contextValue as string[]) : [contextValue as string];
    const fullContext = [...userContexts, CORE_CONTEXT_URL];
    const coreDoc = [...bundled.entries()].find(([u]) => u.includes('ngsi-ld-core-context'))?.[1];
    // The core context names one remote scoped context (w3id.org security vocabulary, for ngsildproof)
    // that is not bundled; the hub ignores scoped contexts, so jsonld.js gets an empty one for it.
    const loader = (url: string) =>
      Promise.resolve({
        contextUrl: undefined,
        documentUrl: url,
        document: (url === CORE_CONTEXT_URL ? coreDoc : bundled.get(url)) ?? { '@context': {} },
      } as RemoteDocument);
    const input = { ...entity, '@context': fullContext };
    const opts = { documentLoader: loader } as unknown as jsonldNamespace.Options.Expand;
    const jsonldOp = async () => {
      const expanded = await jsonld.expand(input, opts);
      return jsonld.compact(
        expanded,
        { '@context': fullContext } as never,
        opts as jsonldNamespace.Options.Compact,
      );
    };

    const want = names(entity);
    const hubOut = names(await hubOp());
    const ldOut = names(await jsonldOp());
    if (hubOut !== want) throw new Error(`terms: the hub gave back ${hubOut}, expected ${want}`);
    if (ldOut !== want) throw new Error(`terms: jsonld.js gave back ${ldOut}, expected ${want}`);

    const seconds = Math.max(1, ctx.settings.seconds / 3);
    await opsPerSecond(seconds / 2, hubOp);
    await opsPerSecond(seconds / 2, jsonldOp);
    const runs = await alternate(
      ctx,
      'terms',
      { hub: () => opsPerSecond(seconds, hubOp), baseline: () => opsPerSecond(seconds, jsonldOp) },
      (r) => r,
      'entities/s',
    );
    return {
      results: [ratioRow('terms', runs.hub, runs.baseline, TARGET, 'entities/s')],
      notes: [
        `terms: ${FIXTURE}, ${Object.keys(entity).length - 1} members; both sides give back the same names (in process, one core)`,
      ],
    };
  },
};
