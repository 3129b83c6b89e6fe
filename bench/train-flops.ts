// Matmul FLOPs of one ProS step, counted analytically from the config (2 FLOPs per multiply-add). Elementwise work
// (norms, softmax, GELU, AdamW, EMA) is not counted: the figure is the work a matmul ceiling can be held against.
// Backward is counted as 2× forward (the gradients with respect to inputs and to weights), the usual estimate.
import type { TrainConfig } from '../training/config.ts';

/** Forward FLOPs of the ViT on `count` square crops of side `side`. */
export function vitForwardFlops(cfg: TrainConfig, side: number, count: number): number {
  const { patch, width: d, depth, mlpRatio, imageSize } = cfg.vit;
  const g = side / patch;
  const tokens = 1 + g * g;
  const hidden = Math.round(d * mlpRatio);
  const perImage =
    2 * g * g * (patch * patch * 3) * d + // patch embedding
    depth *
      (2 * tokens * d * 3 * d + // qkv
        2 * 2 * tokens * tokens * d + // q·kᵀ and attention·v over all heads
        2 * tokens * d * d + // projection
        2 * 2 * tokens * d * hidden); // MLP
  const grid = imageSize / patch;
  const interp = g === grid ? 0 : 2 * g * g * grid * grid * d; // position embeddings resized, once per forward
  return count * perImage + interp;
}

/** Forward FLOPs of the projection head and the prototype scores on `count` CLS vectors. */
export function headForwardFlops(cfg: TrainConfig, count: number): number {
  const { hidden, layers, bottleneck, outputs } = cfg.head;
  const dims = layers === 1 ? [cfg.vit.width, bottleneck] : [cfg.vit.width, ...Array(layers - 1).fill(hidden), bottleneck];
  let mlp = 0;
  for (let i = 0; i + 1 < dims.length; i++) mlp += 2 * dims[i] * dims[i + 1];
  const protos = cfg.proto.enabled ? 2 * bottleneck * cfg.proto.count : 0;
  return count * (mlp + 2 * bottleneck * outputs + protos);
}

export interface StepFlops {
  teacher: number;
  student: number;
  total: number;
  perImage: number;
}

/**
 * The iBOT term's forward FLOPs on one side (teacher or student), for the expected number of masked patches (masks
 * are random per step): the one-hot selection of the masked rows, the head on them, and the pixel decoder if on.
 */
export function ibotForwardFlops(cfg: TrainConfig, batch: number, student: boolean): number {
  const { weight, maskP, maskRatio, pixelWeight } = cfg.ibot;
  if (!(weight > 0 || pixelWeight > 0)) return 0;
  const patches = (cfg.views.globalSize / cfg.vit.patch) ** 2;
  const rows = 2 * batch * patches;
  const masked = rows * maskP * ((maskRatio[0] + maskRatio[1]) / 2);
  const d = cfg.vit.width;
  const select = 2 * masked * rows * d;
  const head = weight > 0 ? headForwardFlops(cfg, masked) - (cfg.proto.enabled ? masked * 2 * cfg.head.bottleneck * cfg.proto.count : 0) : 0;
  const pixel = student && pixelWeight > 0 ? 2 * masked * d * cfg.vit.patch * cfg.vit.patch * 3 : 0;
  return (weight > 0 || pixel ? select : 0) + head + pixel;
}

/**
 * The dense term's forward FLOPs on one side: the one-hot selection of the matched rows and the head on them, for
 * every global crop's `densePerCrop` pairs, and each local crop's with `denseLocals` (an upper bound: a crop with
 * fewer matched patches uses fewer, and the student selects its local rows from the smaller local tokens).
 */
export function denseForwardFlops(cfg: TrainConfig, batch: number): number {
  if (!(cfg.ibot.denseWeight > 0)) return 0;
  const patches = (cfg.views.globalSize / cfg.vit.patch) ** 2;
  const localPatches = (cfg.views.localSize / cfg.vit.patch) ** 2;
  const localRows = cfg.ibot.denseLocals ? cfg.views.locals * batch * Math.min(cfg.ibot.densePerCrop, 2 * localPatches) : 0;
  const rows = 2 * batch * Math.min(cfg.ibot.densePerCrop, patches) + localRows;
  const select = 2 * rows * 2 * batch * patches * cfg.vit.width;
  return select + headForwardFlops(cfg, rows) - (cfg.proto.enabled ? rows * 2 * cfg.head.bottleneck * cfg.proto.count : 0);
}

/** The position term's forward FLOPs (student only): its linear classifier on every patch of the crops it asks. */
export function positionForwardFlops(cfg: TrainConfig, batch: number): number {
  if (!(cfg.position.weight > 0)) return 0;
  const rows = cfg.views.locals * batch * (cfg.views.localSize / cfg.vit.patch) ** 2 + (cfg.position.globals ? 2 * batch * (cfg.views.globalSize / cfg.vit.patch) ** 2 : 0);
  return 2 * rows * cfg.vit.width * cfg.position.grid ** 2;
}

/** One step on `batch` images: teacher forward on the 2 globals; student forward + backward on all crops. */
export function prosStepFlops(cfg: TrainConfig, batch: number): StepFlops {
  const globals = 2 * batch;
  const locals = cfg.views.locals * batch;
  const fwd = (crops: Array<[number, number]>) =>
    crops.reduce((s, [side, count]) => s + (count ? vitForwardFlops(cfg, side, count) + headForwardFlops(cfg, count) : 0), 0);
  const patchTerms = (student: boolean) => ibotForwardFlops(cfg, batch, student) + denseForwardFlops(cfg, batch);
  const teacher = fwd([[cfg.views.globalSize, globals]]) + patchTerms(false);
  const student = 3 * (fwd([[cfg.views.globalSize, globals], [cfg.views.localSize, locals]]) + patchTerms(true) + positionForwardFlops(cfg, batch));
  return { teacher, student, total: teacher + student, perImage: (teacher + student) / batch };
}
