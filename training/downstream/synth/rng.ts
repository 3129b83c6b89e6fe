// A small seeded PRNG (mulberry32): synthetic sets, few-shot draws and head initialisation are reproducible from a seed.

import { mulberry32, type Rand } from '../../../src/random.ts';

export type Rng = Rand;
export { mulberry32 };

export function choice<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)]!;
}

export function uniform(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng();
}

/** Fisher–Yates shuffle of a copy. */
export function shuffled<T>(rng: Rng, items: readonly T[]): T[] {
  const out = items.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Runs `fn` with Math.random replaced by `rng`: facesjs draws its own features from Math.random. */
export function withSeededRandom<T>(rng: Rng, fn: () => T): T {
  const saved = Math.random;
  Math.random = rng;
  try {
    return fn();
  } finally {
    Math.random = saved;
  }
}
