// Averaging between data-parallel workers through shared memory: each worker writes its vector into its own slot,
// waits at a barrier, and sums all slots in rank order, so every worker gets a bitwise identical mean.
import type { Collective } from '../loss/prototypes.ts';

/** Shared layout: Int32 [count, generation] for the barrier, then `size` float32 slots of `slot` values. */
export function allocShared(size: number, slot: number): { ctrl: SharedArrayBuffer; data: SharedArrayBuffer } {
  return { ctrl: new SharedArrayBuffer(8), data: new SharedArrayBuffer(4 * size * slot) };
}

export class SharedCollective implements Collective {
  private ctrl: Int32Array;
  private data: Float32Array;

  constructor(
    shared: { ctrl: SharedArrayBuffer; data: SharedArrayBuffer },
    readonly rank: number,
    readonly size: number,
    readonly slot: number,
    readonly timeoutMs = 600_000,
  ) {
    this.ctrl = new Int32Array(shared.ctrl);
    this.data = new Float32Array(shared.data);
  }

  barrier(): void {
    const gen = Atomics.load(this.ctrl, 1);
    if (Atomics.add(this.ctrl, 0, 1) === this.size - 1) {
      Atomics.store(this.ctrl, 0, 0);
      Atomics.add(this.ctrl, 1, 1);
      Atomics.notify(this.ctrl, 1);
      return;
    }
    const started = Date.now();
    while (Atomics.load(this.ctrl, 1) === gen) {
      if (Atomics.wait(this.ctrl, 1, gen, 1000) === 'timed-out' && Date.now() - started > this.timeoutMs) {
        throw new Error('data-parallel: the other worker stopped answering');
      }
    }
  }

  mean(x: Float32Array): Float32Array {
    if (x.length > this.slot) throw new Error(`data-parallel: vector of ${x.length} exceeds the shared slot (${this.slot})`);
    this.data.set(x, this.rank * this.slot);
    this.barrier();
    const out = new Float32Array(x.length);
    for (let r = 0; r < this.size; r++) {
      const s = this.data.subarray(r * this.slot, r * this.slot + x.length);
      for (let i = 0; i < x.length; i++) out[i] += s[i];
    }
    for (let i = 0; i < out.length; i++) out[i] /= this.size;
    // Nobody may overwrite a slot before everyone has read it.
    this.barrier();
    return out;
  }
}
