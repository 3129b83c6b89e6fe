// The data side of the loop: which images each step sees (a seeded permutation per epoch) and their views, built
// ahead of time in the views worker.
import type { TrainConfig } from './config.ts';
import { spawnWorker, workerUrl, type WorkerClient } from '../src/workers.ts';
import type { ViewsWorkerApi, ViewsWorkerData } from './views-worker.ts';
import { derive } from './rng.ts';
import type { Views } from './trainer.ts';

/** Image indices of `step`: epoch-wise permutations, dropping the last partial batch (DINO's drop_last). */
export function batchIndices(seed: number, n: number, batch: number, step: number): number[] {
  const perEpoch = Math.max(1, Math.floor(n / batch));
  const epoch = Math.floor(step / perEpoch);
  const within = step % perEpoch;
  const order = derive(seed, 'order', epoch).shuffle([...Array(n).keys()]);
  const out: number[] = [];
  // A set smaller than a batch repeats images within the batch.
  for (let i = 0; i < batch; i++) out.push(order[(within * batch + i) % n]);
  return out;
}

export class ViewSource {
  private client: WorkerClient<ViewsWorkerApi>;
  private ahead = new Map<number, Promise<Views>>();

  constructor(readonly files: string[], readonly cfg: TrainConfig) {
    this.client = spawnWorker<ViewsWorkerApi>(
      workerUrl('./views-worker.ts', import.meta.url),
      { files, views: cfg.views, seed: cfg.seed } satisfies ViewsWorkerData,
      { label: 'views' },
    );
  }

  private request(step: number): Promise<Views> {
    const indices = batchIndices(this.cfg.seed, this.files.length, this.cfg.batchSize, step);
    const p = this.client.call('views', { step, indices });
    p.catch(() => {}); // surfaced when awaited
    return p;
  }

  /** The views of `step`, and a request for the next ones so they are ready when needed. */
  async get(step: number, last: number): Promise<Views> {
    const p = this.ahead.get(step) ?? this.request(step);
    this.ahead.delete(step);
    for (let s = step + 1; s <= Math.min(step + this.cfg.views.prefetch, last - 1); s++) {
      if (!this.ahead.has(s)) this.ahead.set(s, this.request(s));
    }
    return p;
  }

  close(): Promise<void> {
    return this.client.close();
  }
}
