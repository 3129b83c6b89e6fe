// A data-parallel training worker: its own tfjs backend instance and its own copy of the model; steps on its share
// of each batch, with gradients and batch statistics averaged through shared memory, then applies the same AdamW
// update as its peers, so the parameters stay bitwise identical in every worker.
import { loadBackend } from '../../src/backend.ts';
import type { TrainConfig } from '../config.ts';
import type { NamedTensor } from '../checkpoint.ts';
import { buildSchedules } from '../schedule.ts';
import { averagedLength, buildModel, loadModelTensors, modelTensors, trainStep, type Views } from '../trainer.ts';
import { installKernels } from '../kernels-hook.ts';
import { SharedCollective } from './collective.ts';
import { serve, workerInput } from '../../src/workers.ts';

export type TrainWorkerData = { cfg: TrainConfig; rank: number; size: number; images: number };
const { cfg, rank, size, images } = workerInput<TrainWorkerData>();
const { tf, name } = await loadBackend(cfg.backend, { quiet: true });
const kernels = await installKernels(tf);
const model = buildModel(tf, cfg);
const sched = buildSchedules(cfg, images);
let coll: SharedCollective | null = null;

const capacity = averagedLength(model, cfg);

const api = {
  async info() {
    return { backend: name, kernels, capacity };
  },
  async shared(p: { ctrl: SharedArrayBuffer; data: SharedArrayBuffer; slot: number }) {
    coll = new SharedCollective(p, rank, size, p.slot);
    return true;
  },
  async load(p: { tensors: Map<string, NamedTensor> }) {
    loadModelTensors(tf, model, p.tensors);
    return true;
  },
  async step(p: { step: number; views: Views }) {
    if (!coll) throw new Error('data-parallel worker: no shared memory yet');
    return trainStep(tf, model, cfg, sched, p.step, p.views, coll);
  },
  async stepDebug(p: { step: number; views: Views }) {
    if (!coll) throw new Error('data-parallel worker: no shared memory yet');
    const grads = new Map<string, Float32Array>();
    const metrics = trainStep(tf, model, cfg, sched, p.step, p.views, coll, { grads });
    return { metrics, grads };
  },
  async tensors() {
    return await modelTensors(model);
  },
};
export type TrainWorkerApi = typeof api;
serve(api);
