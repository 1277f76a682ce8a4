/**
 * What the fuzzer does to a valid body: one mutation at a time (the type changed to the other
 * department's, members deleted, added, nulled or given values of the wrong JSON type, deep
 * nesting, huge numbers, long arrays and strings, prototype keys, an inline @context), and JSON
 * text that is broken or nested deeper than any serialiser here could write.
 */
import type { Rng } from './prng.js';
import { ATTRS, HOSTILE } from './fuzz-values.js';

type J = unknown;
type Obj = Record<string, J>;

const CORE = 'https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld';

/** A random JSON value, for routes without a template and for replaced members. */
export function randomJson(rng: Rng, depth = 0): J {
  return rng.weighted<() => J>([
    [3, () => rng.pick<J>([0, -1, 1.5, 1e308, -0, 5e-324, 9007199254740993, 'x', '', true, false, null])],
    [2, () => rng.pick(HOSTILE)],
    [depth < 3 ? 1 : 0, () => Array.from({ length: rng.int(0, 3) }, () => randomJson(rng, depth + 1))],
    [
      depth < 3 ? 1 : 0,
      () =>
        Object.fromEntries(
          Array.from({ length: rng.int(0, 3) }, () => [rng.pick(ATTRS), randomJson(rng, depth + 1)]),
        ),
    ],
  ])();
}

function nested(depth: number, leaf: J, asArray: boolean): J {
  let v = leaf;
  for (let i = 0; i < depth; i++) v = asArray ? [v] : { a: v };
  return v;
}

/** One mutation of a JSON value (objects and arrays are copied, never changed in place). */
export function mutate(rng: Rng, body: J): J {
  const obj =
    typeof body === 'object' && body !== null && !Array.isArray(body) ? { ...(body as Obj) } : undefined;
  const keys = obj ? Object.keys(obj) : [];
  return rng.weighted<() => J>([
    [
      obj && 'type' in obj ? 3 : 0,
      () => ({
        ...obj,
        type: rng.pick<J>([
          'Person',
          'TrafficFlowObserved',
          'MedicalRecord',
          ['Person', 'TrafficFlowObserved'],
          5,
          '',
        ]),
      }),
    ],
    [
      obj && 'id' in obj ? 2 : 0,
      () => ({ ...obj, id: rng.pick<J>([...HOSTILE, 'urn:ngsi-ld:Person:secret-1', 5]) }),
    ],
    [
      keys.length > 0 ? 2 : 0,
      () => {
        const copy = { ...obj };
        delete copy[rng.pick(keys)];
        return copy;
      },
    ],
    [obj ? 2 : 0, () => ({ ...obj, [rng.pick(ATTRS)]: randomJson(rng) })],
    [keys.length > 0 ? 2 : 0, () => ({ ...obj, [rng.pick(keys)]: null })],
    [keys.length > 0 ? 2 : 0, () => ({ ...obj, [rng.pick(keys)]: randomJson(rng) })],
    [
      obj ? 1 : 0,
      () => ({ ...obj, '@context': rng.pick<J>([CORE, [CORE, { x: 'y' }], { '@vocab': 'x' }, 5, null]) }),
    ],
    [
      obj ? 1 : 0,
      () => JSON.parse(`{"__proto__": {"admin": true}, "constructor": {"prototype": {"x": 1}}}`) as J,
    ],
    // Deeper nesting is written as text (deepText): JSON.stringify would run out of stack here.
    [1, () => nested(rng.pick([16, 64, 300]), body, rng.chance(0.5))],
    [
      keys.length > 0 ? 1 : 0,
      () => ({
        ...obj,
        [rng.pick(keys)]: { type: 'Property', value: nested(rng.pick([100, 300]), 1, rng.chance(0.5)) },
      }),
    ],
    [
      keys.length > 0 ? 1 : 0,
      () => ({
        ...obj,
        [rng.pick(keys)]: { type: 'Property', value: rng.pick([1e308, -1e308, 2 ** 63, 5e-324]) },
      }),
    ],
    [
      1,
      () =>
        Array.from({ length: rng.pick([200, 5000, 50_000]) }, (_v, i) =>
          Array.isArray(body) && i === 0 ? body[0] : i,
        ),
    ],
    [
      keys.length > 0 ? 1 : 0,
      () => ({
        ...obj,
        [rng.pick(keys)]: { type: 'Property', value: 'x'.repeat(rng.pick([10_000, 300_000])) },
      }),
    ],
    [1, () => rng.pick<J>([[], {}, 'text', 42, true, null, [body]])],
  ])();
}

/** Valid JSON nested deeper than a recursive parser or PostgreSQL's jsonb would like. */
export function deepText(rng: Rng, key: string): string {
  const n = rng.pick([2000, 10_000, 100_000]);
  const [open, close] = rng.chance(0.5) ? ['[', ']'] : ['{"a":', '}'];
  const value = `${open.repeat(n)}1${close.repeat(n)}`;
  const attr = `{"type":"Property","value":${value}}`;
  if (key.includes('entityOperations/'))
    return `[{"id":"urn:ngsi-ld:Thing:deep","type":"Thing","deep":${attr}}]`;
  if (key.includes('/attrs/')) return attr;
  return `{"id":"urn:ngsi-ld:Thing:deep","type":"Thing","deep":${attr}}`;
}

/** JSON text that is not JSON (or is, in ways parsers disagree on). */
export function breakJson(rng: Rng, text: string): string {
  return rng.pick<(t: string) => string>([
    (t) => t.slice(0, Math.max(1, Math.floor(t.length / 2))),
    (t) => `${t},`,
    (t) => t.replace(/"/g, "'"),
    (t) => `\ufeff${t}`,
    (t) => `${t}\u0000`,
    (t) => `/* c */${t}`,
    (t) => t.replace(/:/, ': NaN, "z":'),
    () => '{"a": 1e999}',
    () => '{"a": -1e400}',
    () => `{"a": 1${'0'.repeat(400)}}`,
    () => '{"a": "\\ud800"}',
    () => '{"a": 1, "a": 2}',
    () => '[' + '['.repeat(100_000),
    () => '{"a":' + '['.repeat(20_000) + ']'.repeat(20_000) + '}',
    () => '',
    () => ' ',
    () => 'null',
    () => '"just a string"',
  ])(text);
}
