// FacePool: cfg.faces.workers worker threads, each with its own Human (one wasm instance is single-threaded, so
// parallelism comes from instances; human caches its models per thread, so one runtime per worker). Jobs queue in
// the main thread and go to whichever worker is free; the raster is transferred, not copied. A worker
// that dies is replaced.
import type { ProsConfig } from '../../src/config.ts';
import { spawnWorker, workerUrl, WorkerDied, type WorkerClient } from '../../src/workers.ts';
import type { AnalysisInput, ImageAnalysis } from './types.ts';
import type { FaceWorkerApi, FaceWorkerData } from './worker.ts';

interface Job {
  /** performance.now() when analyse() queued it. */
  queued: number;
  input: AnalysisInput;
  resolve: (a: ImageAnalysis) => void;
  reject: (e: Error) => void;
}

interface Slot {
  client: WorkerClient<FaceWorkerApi>;
  job: Job | null;
  /** performance.now() since when the worker has had nothing to do. */
  idleSince: number;
}

/** How well the pipeline keeps the workers fed: a starved pool shows idle time and an empty queue at dispatch. */
export interface PoolStats {
  jobs: number;
  /** Milliseconds jobs waited in the queue for a free worker, summed. */
  queueWaitMs: number;
  /** Milliseconds workers sat idle (ready, no job), summed over workers, up to the last dispatch. */
  workerIdleMs: number;
  /** Jobs still waiting in the queue at each dispatch, summed (÷ jobs: mean depth). */
  queueDepthSum: number;
  maxQueueDepth: number;
}

export interface PoolOptions {
  /** Time each model in the workers; analyses then carry `profile`. */
  profile?: boolean;
  /** human's stock graphs on wasm, whatever is installed: the path the fast one's decisions are checked against. */
  reference?: boolean;
  /**
   * On wasm, the native convolution kernels (src/native-conv.ts) where the addon and OpenBLAS are there and they
   * self-test; false keeps the stock kernels (and $PROS_FACE_CONV=stock does too). Default true; never with `reference`.
   */
  nativeConv?: boolean;
  /** Say which runtime the workers took on stderr (once per pool). Default true. */
  announce?: boolean;
}

type PoolConfig = Pick<ProsConfig, 'faces' | 'policy'> & Partial<Pick<ProsConfig, 'backend'>>;

export class FacePool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private closed = false;
  readonly stats: PoolStats = { jobs: 0, queueWaitMs: 0, workerIdleMs: 0, queueDepthSum: 0, maxQueueDepth: 0 };
  /** What the workers run on (human's build, backend, graphs), as the first worker reported it. */
  runtime = '';

  private constructor(private readonly data: FaceWorkerData) {}

  /** Starts the workers and waits until every one has loaded its models. */
  static async start(cfg: PoolConfig, opts: PoolOptions = {}): Promise<FacePool> {
    const pool = new FacePool({
      faces: cfg.faces,
      policy: cfg.policy,
      backend: cfg.backend ?? 'auto',
      profile: Boolean(opts.profile),
      reference: Boolean(opts.reference),
      nativeConv: opts.nativeConv ?? true,
    });
    const n = Math.max(1, cfg.faces.workers);
    try {
      await Promise.all(Array.from({ length: n }, () => pool.spawn()));
    } catch (err) {
      await pool.close();
      throw err;
    }
    if (opts.announce !== false && pool.runtime) process.stderr.write(`${pool.runtime}\n`);
    return pool;
  }

  get size(): number {
    return this.slots.length;
  }

  private spawn(): Promise<void> {
    const slot: Slot = {
      client: spawnWorker<FaceWorkerApi>(workerUrl('./worker.ts', import.meta.url), this.data, {
        label: 'face',
        onDeath: () => this.replace(slot),
      }),
      job: null,
      idleSince: 0,
    };
    return slot.client.call('ready').then(
      (runtime) => {
        if (this.closed) return void slot.client.close();
        this.runtime ||= runtime;
        slot.idleSince = performance.now();
        this.slots.push(slot);
        this.pump();
      },
      (err: Error) => {
        throw new Error(`face worker failed to start: ${((err.cause as Error | undefined) ?? err).message}`);
      },
    );
  }

  /** A worker that died (out of memory, a wasm abort) is replaced, so one bad image cannot stop a run. */
  private replace(slot: Slot): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return; // not ready yet: its start fails instead
    this.slots.splice(i, 1);
    if (!this.closed) this.spawn().catch(() => this.failQueue());
  }

  private failQueue(): void {
    if (this.slots.length) return;
    for (const job of this.queue.splice(0)) job.reject(new Error('no face worker is running'));
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (slot.job || !this.queue.length) continue;
      const job = this.queue.shift()!;
      slot.job = job;
      const now = performance.now();
      const st = this.stats;
      st.jobs++;
      st.queueWaitMs += now - job.queued;
      st.workerIdleMs += now - slot.idleSince;
      st.queueDepthSum += this.queue.length;
      st.maxQueueDepth = Math.max(st.maxQueueDepth, this.queue.length);
      const { rgb, ...rest } = job.input;
      // Transfer when the Buffer owns its whole ArrayBuffer (sharp's output does); copy a view of a shared pool.
      const own = rgb.byteOffset === 0 && rgb.byteLength === rgb.buffer.byteLength && rgb.buffer instanceof ArrayBuffer;
      const buf = own ? (rgb.buffer as ArrayBuffer) : new Uint8Array(rgb).buffer;
      slot.client
        .call('analyse', { ...rest, rgb: buf }, [buf])
        .then(job.resolve, (err: Error) => job.reject(err instanceof WorkerDied ? err : new Error(`face analysis failed: ${err.message}`)))
        .finally(() => {
          slot.job = null;
          slot.idleSince = performance.now();
          this.pump();
        });
    }
  }

  /**
   * Analyses one raster. Its ArrayBuffer is transferred to a worker: `input.rgb` is detached (length 0) once this
   * is called; copy it first if you still need the pixels.
   */
  analyse(input: AnalysisInput): Promise<ImageAnalysis> {
    if (this.closed) return Promise.reject(new Error('FacePool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ queued: performance.now(), input, resolve, reject });
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error('FacePool closed'));
    await Promise.all(this.slots.splice(0).map((s) => s.client.close()));
  }
}
