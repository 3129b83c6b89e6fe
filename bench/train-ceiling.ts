// The matmul ceiling of this machine: every core at once running the best matmul it has, in worker threads.
// native: OpenBLAS sgemm (1 thread per worker) through the native/ addon on plain memory; wasm: tf.matMul on the
// stock wasm backend (no transposes, XNNPACK's fast path). Run as a worker, this file is one of those cores.
import { isMainThread } from 'node:worker_threads';
import { serve, spawnWorker, workerInput, workerUrl } from '../src/workers.ts';

export interface CeilingResult {
  kind: 'native' | 'wasm';
  workers: number;
  size: number;
  /** Sum over workers of each worker's GFLOP/s. */
  gflops: number;
  perWorker: number[];
}

interface Job {
  kind: 'native' | 'wasm';
  size: number;
  seconds: number;
  start: SharedArrayBuffer;
}

async function runJob(job: Job): Promise<number> {
  const n = job.size;
  const flops = 2 * n * n * n;
  let once: () => void;
  if (job.kind === 'native') {
    const { loadNativeAddon } = await import('../training/kernels/native-matmul.ts');
    const loaded = loadNativeAddon();
    if (!loaded.addon) throw new Error(loaded.reason);
    const addon = loaded.addon;
    addon.setThreads(1);
    const heap = new Uint8Array(3 * n * n * 4);
    const f = new Float32Array(heap.buffer);
    for (let i = 0; i < 2 * n * n; i++) f[i] = Math.random() - 0.5;
    const a = new Uint32Array([0]);
    const b = new Uint32Array([n * n * 4]);
    once = () => addon.gemm(heap, false, false, n, n, n, a, b, 2 * n * n * 4, -1, 0, 0, 0);
  } else {
    const { loadBackend } = await import('../src/backend.ts');
    const { tf } = await loadBackend('wasm', { quiet: true });
    const a = tf.randomUniform([n, n]);
    const b = tf.randomUniform([n, n]);
    once = () => tf.matMul(a, b).dispose();
  }
  once();
  // Start together, so the cores really run at once.
  const flag = new Int32Array(job.start);
  Atomics.add(flag, 1, 1);
  Atomics.wait(flag, 0, 0);
  let reps = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < job.seconds * 1000) {
    once();
    reps++;
  }
  const s = (performance.now() - t0) / 1000;
  return (flops * reps) / s / 1e9;
}

/** Measures `kind` on `workers` threads at once. */
export async function measureCeiling(kind: 'native' | 'wasm', workers: number, size = 512, seconds = 2): Promise<CeilingResult> {
  const start = new SharedArrayBuffer(8);
  const ws = [...Array(workers).keys()].map((w) =>
    spawnWorker<CeilingApi>(workerUrl('./train-ceiling.ts', import.meta.url), { kind, size, seconds, start } satisfies Job, { label: `ceiling ${w}` }),
  );
  const results = ws.map((w) => w.call('run'));
  const flag = new Int32Array(start);
  while (Atomics.load(flag, 1) < workers) {
    await new Promise((r) => setTimeout(r, 5));
    if (ws.some((w) => w.dead)) break;
  }
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
  try {
    const perWorker = await Promise.all(results);
    return { kind, workers, size, gflops: perWorker.reduce((a, b) => a + b, 0), perWorker };
  } finally {
    await Promise.all(ws.map((w) => w.close()));
  }
}

const api = {
  async run(): Promise<number> {
    const job = workerInput<Job>();
    try {
      return await runJob(job);
    } catch (e) {
      // Let the main thread go on even though this core failed.
      Atomics.add(new Int32Array(job.start), 1, 1);
      throw e;
    }
  },
};
type CeilingApi = typeof api;
if (!isMainThread) serve(api);
