// The main thread's side of data-parallel training: starts the workers, hands each its share of every batch, and
// collects the (identical) metrics and state.
import { availableParallelism } from 'node:os';
import type { TrainConfig } from '../config.ts';
import type { NamedTensor } from '../checkpoint.ts';
import { shardViews } from '../augment.ts';
import type { StepMetrics, Views } from '../trainer.ts';
import { allocShared } from './collective.ts';
import { spawnWorker, workerUrl, type Result, type WorkerClient } from '../../src/workers.ts';
import type { TrainWorkerApi, TrainWorkerData } from './worker.ts';

export function workerCount(cfg: TrainConfig): number {
  if (cfg.workers > 0) return cfg.workers;
  return availableParallelism() >= 2 && cfg.batchSize % 2 === 0 ? 2 : 1;
}

export class DataParallel {
  private constructor(
    readonly clients: WorkerClient<TrainWorkerApi>[],
    readonly cfg: TrainConfig,
    readonly backend: string,
    readonly kernels: string,
  ) {}

  static async start(cfg: TrainConfig, size: number, images: number, initial?: Map<string, NamedTensor>): Promise<DataParallel> {
    const clients = [...Array(size).keys()].map((rank) =>
      spawnWorker<TrainWorkerApi>(workerUrl('./worker.ts', import.meta.url), { cfg, rank, size, images } satisfies TrainWorkerData, {
        label: `train ${rank}`,
      }),
    );
    try {
      const infos = await Promise.all(clients.map((c) => c.call('info')));
      const slot = Math.max(...infos.map((i) => i.capacity));
      const shared = allocShared(size, slot);
      await Promise.all(clients.map((c) => c.call('shared', { ...shared, slot })));
      if (initial) await Promise.all(clients.map((c) => c.call('load', { tensors: initial })));
      return new DataParallel(clients, cfg, infos[0].backend, infos[0].kernels);
    } catch (e) {
      await Promise.all(clients.map((c) => c.close()));
      throw e;
    }
  }

  async step(step: number, views: Views): Promise<StepMetrics> {
    return (await this.each('step', step, views))[0]!;
  }

  /** A step that also returns every worker's averaged gradients (tests). */
  stepDebug(step: number, views: Views): Promise<Array<Result<TrainWorkerApi['stepDebug']>>> {
    return this.each('stepDebug', step, views);
  }

  private async each<K extends 'step' | 'stepDebug'>(type: K, step: number, views: Views): Promise<Result<TrainWorkerApi[K]>[]> {
    const { globalSize, localSize, locals } = this.cfg.views;
    const n = this.clients.length;
    const results = await Promise.allSettled(
      this.clients.map((c, r) => {
        const v = shardViews(views, r, n, globalSize, localSize, locals);
        const transfer = [v.globals.buffer as ArrayBuffer, v.locals.buffer as ArrayBuffer, v.boxes.buffer as ArrayBuffer];
        return type === 'step' ? c.call('step', { step, views: v }, transfer) : c.call('stepDebug', { step, views: v }, transfer);
      }),
    );
    const bad = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    if (bad) throw bad.reason;
    return results.map((r) => (r as PromiseFulfilledResult<Result<TrainWorkerApi[K]>>).value);
  }

  /** The full training state of worker `rank` (all are identical). */
  tensors(rank = 0): Promise<Map<string, NamedTensor>> {
    return this.clients[rank].call('tensors');
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close()));
  }
}
