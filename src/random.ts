// The project's one seeded generator (mulberry32). `Rng` carries a serialisable state and the draws training needs
// (weight init, batch order, views, drop-path: training/rng.ts re-exports it); `mulberry32(seed)` is the same stream
// as a plain function for reproducible choices elsewhere (export jitter, synthetic faces, few-shot draws).
export type Rand = () => number;

export class Rng {
  constructor(public state: number) {
    this.state = state >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  normal(): number {
    const u = Math.max(this.next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /**
   * Normal(0, std) truncated to [a, b] in absolute units, as timm's trunc_normal_(std, a=-2, b=2) used by DINO: with
   * std 0.02 the cut is at ±100 std, so the values keep std 0.02 (a cut at ±2 std would give 0.0176).
   */
  truncNormal(std: number, a = -2, b = 2): number {
    for (;;) {
      const x = this.normal() * std;
      if (x >= a && x <= b) return x;
    }
  }

  /**
   * `count` distinct indices of 0 … n−1, in draw order: the first `count` steps of a Fisher–Yates shuffle, so only
   * `count` draws (masks and patch samples draw a few of many).
   */
  pick(n: number, count: number): Int32Array {
    const idx = Int32Array.from({ length: n }, (_, i) => i);
    for (let j = 0; j < count; j++) {
      const r = j + Math.floor(this.next() * (n - j));
      const t = idx[j];
      idx[j] = idx[r];
      idx[r] = t;
    }
    return idx.subarray(0, count);
  }

  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }
}

/** A generator for one purpose at one step of one run: independent streams without shared state. */
export function derive(seed: number, ...keys: Array<number | string>): Rng {
  let h = 2166136261 ^ (seed >>> 0);
  for (const k of keys) {
    const s = String(k);
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
    h = Math.imul(h ^ 0x9e3779b9, 16777619);
  }
  return new Rng(h >>> 0);
}

/** The same stream as `new Rng(seed).next`, as a function. */
export function mulberry32(seed: number): Rand {
  const r = new Rng(seed);
  return () => r.next();
}
