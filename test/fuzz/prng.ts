/**
 * A seeded pseudo-random generator (mulberry32) and the choices the fuzzer makes with it. The
 * same seed gives the same sequence on every machine: nothing here reads the clock.
 */
import { mulberry32 } from '../../src/sim/random.js';

export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max] (both included). */
  int(min: number, max: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** Picks by weight: [[weight, value], ...]. */
  weighted<T>(items: readonly (readonly [number, T])[]): T;
  /** A generator of its own, seeded from this one: a sub-sequence that does not shift this one's. */
  fork(): Rng;
}

/** On mulberry32 (the demo city's generator): good enough for fuzzing, and the same on every machine. */
export function createRng(seed: number): Rng {
  const next = mulberry32(seed);
  const rng: Rng = {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (p) => next() < p,
    pick<T>(items: readonly T[]): T {
      if (items.length === 0) throw new Error('pick from an empty list');
      return items[Math.floor(next() * items.length)] as T;
    },
    weighted<T>(items: readonly (readonly [number, T])[]): T {
      const total = items.reduce((s, [w]) => s + w, 0);
      let r = next() * total;
      for (const [w, v] of items) {
        r -= w;
        if (r < 0) return v;
      }
      return (items[items.length - 1] as readonly [number, T])[1];
    },
    fork: () => createRng(Math.floor(next() * 4294967296)),
  };
  return rng;
}
