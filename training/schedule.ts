// Schedules precomputed once as per-step arrays (as DINO), so they are simple to test and a resumed run continues
// them exactly: learning rate, weight decay, teacher momentum and teacher temperature.
import type { TrainConfig } from './config.ts';

/**
 * Linear warm-up from `warmupStart` to `base` over `warmup` steps, then a half cosine from `base` to `final`
 * reaching `final` exactly at the last step. [recon: DINO's cosine_scheduler]
 */
export function cosineSchedule(base: number, final: number, steps: number, warmup = 0, warmupStart = 0): Float64Array {
  const out = new Float64Array(steps);
  const w = Math.min(warmup, steps);
  for (let i = 0; i < w; i++) out[i] = warmupStart + ((base - warmupStart) * i) / w;
  const rest = steps - w;
  for (let i = 0; i < rest; i++) {
    const t = rest > 1 ? i / (rest - 1) : 1;
    out[w + i] = final + 0.5 * (base - final) * (1 + Math.cos(Math.PI * t));
  }
  return out;
}

/** Linear warm-up from `start` to `end` over `warmup` steps, then constant. */
export function warmupConstant(start: number, end: number, steps: number, warmup: number): Float64Array {
  const out = new Float64Array(steps).fill(end);
  const w = Math.min(warmup, steps);
  for (let i = 0; i < w; i++) out[i] = w > 1 ? start + ((end - start) * i) / (w - 1) : end;
  return out;
}

export interface Schedules {
  total: number;
  stepsPerEpoch: number;
  lr: Float64Array;
  weightDecay: Float64Array;
  momentum: Float64Array;
  teacherTemp: Float64Array;
  /** Steps during which the head's last layer gets no update. */
  freezeLastLayerSteps: number;
}

export function stepsFor(cfg: TrainConfig, images: number): { total: number; stepsPerEpoch: number } {
  const stepsPerEpoch = Math.max(1, Math.floor(images / cfg.batchSize));
  return { stepsPerEpoch, total: cfg.steps > 0 ? cfg.steps : cfg.epochs * stepsPerEpoch };
}

export function buildSchedules(cfg: TrainConfig, images: number): Schedules {
  const { total, stepsPerEpoch } = stepsFor(cfg, images);
  const lr = (cfg.optim.baseLr * cfg.batchSize) / 256;
  return {
    total,
    stepsPerEpoch,
    lr: cosineSchedule(lr, cfg.optim.minLr, total, Math.round(cfg.optim.warmupFraction * total)),
    weightDecay: cosineSchedule(cfg.optim.weightDecay, cfg.optim.weightDecayEnd, total),
    momentum: cosineSchedule(cfg.teacher.momentum, cfg.teacher.momentumEnd, total),
    teacherTemp: warmupConstant(
      cfg.distill.warmupTeacherTemp,
      cfg.distill.teacherTemp,
      total,
      Math.round(cfg.distill.warmupFraction * total),
    ),
    freezeLastLayerSteps: freezeSteps(cfg, total, stepsPerEpoch),
  };
}

/**
 * The last-layer freeze in steps: `freezeLastLayerEpochs` of the nominal `epochs`-epoch run, scaled to the run's real
 * length like the warm-ups (total / (epochs × stepsPerEpoch)), so a run cut short by `steps` keeps the same fraction
 * frozen (1 of 20 epochs: 5 %) instead of whole data epochs that may outlast it. Without `steps` it is exactly
 * `freezeLastLayerEpochs` epochs.
 */
function freezeSteps(cfg: TrainConfig, total: number, stepsPerEpoch: number): number {
  const nominal = cfg.epochs > 0 ? cfg.epochs * stepsPerEpoch : total;
  return Math.min(total, Math.round((cfg.optim.freezeLastLayerEpochs * stepsPerEpoch * total) / nominal));
}
