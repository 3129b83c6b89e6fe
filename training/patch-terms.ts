// The patch-level terms of a training step: iBOT's masked-patch distillation, its masked-pixel target, and the dense
// cross-view term. Each step draws which patches they use (plan), the teacher turns its patch tokens into targets
// (inside its no-gradient pass) and the student's patch tokens are scored against them (inside the gradient pass).
// trainer.ts keeps the image-level terms and the order of the method; the patch terms' bookkeeping lives here.
import type { Scalar, Tensor1D, Tensor2D, Tensor4D } from '@tensorflow/tfjs';
import type { Tf } from '../src/backend.ts';
import type { TrainConfig } from './config.ts';
import { positionOn } from '../src/contracts/config.ts';
import { headForward } from './head.ts';
import { teacherProbs } from './loss/distill.ts';
import { densePairs, type DensePairs } from './loss/dense.ts';
import { ibotLoss, ibotMasks, maskedRows, pixelLoss, selectRows } from './loss/ibot.ts';
import { POSITION_B, POSITION_W, positionCells, positionLoss } from './loss/position.ts';
import type { Params } from './params.ts';
import { patchify } from './vit.ts';

/** What one worker's step uses of its images' patches. */
export interface PatchPlan {
  /** iBOT: per student global crop and patch, 1 where the mask token replaces the patch embedding (null: iBOT off). */
  masks: Float32Array | null;
  /** The masked patches as rows of the flattened patch tokens, with their loss weights. */
  masked: { index: Int32Array; weight: Float32Array } | null;
  /** The dense term's student and teacher patch rows (null: term off). */
  pairs: DensePairs | null;
  /** Teacher patch outputs the patch centre is updated with this step (masked rows plus dense rows). */
  centreRows: number;
  /** The position term's target cell for every local-crop patch and, with `position.globals`, every global-crop patch (null: off). */
  position: { local: Int32Array | null; global: Int32Array | null } | null;
}

/** The draws of one step, on worker `rank` of its `b` images; `boxes` places each global crop in its image. */
export function planPatchTerms(cfg: TrainConfig, step: number, rank: number, b: number, boxes: Float32Array): PatchPlan {
  const grid = cfg.views.globalSize / cfg.vit.patch;
  const ibotOn = cfg.ibot.weight > 0 || cfg.ibot.pixelWeight > 0;
  const masks = ibotOn ? ibotMasks(cfg.seed, step, rank, b, grid * grid, cfg.ibot) : null;
  const masked = masks ? maskedRows(masks, grid * grid) : null;
  const locals = cfg.ibot.denseLocals && cfg.views.locals > 0 ? { count: cfg.views.locals, grid: cfg.views.localSize / cfg.vit.patch } : undefined;
  const pairs = cfg.ibot.denseWeight > 0 ? densePairs(cfg.seed, step, rank, b, grid, boxes, cfg.ibot.densePerCrop, cfg.ibot.denseTarget, locals) : null;
  const ibotRows = cfg.ibot.weight > 0 ? (masked?.index.length ?? 0) : 0;
  const pos = cfg.position;
  const position = positionOn(cfg)
    ? {
      local: cfg.views.locals > 0 ? positionCells(boxes, b, { first: 2, count: cfg.views.locals, grid: cfg.views.localSize / cfg.vit.patch }, pos.grid) : null,
      global: pos.globals ? positionCells(boxes, b, { first: 0, count: 2, grid }, pos.grid) : null,
    }
    : null;
  return { masks, masked, pairs, centreRows: ibotRows + (pairs?.teacher.length ?? 0), position };
}

// A type, not an interface, so that it can sit in the teacher's tf.tidy result (a TensorContainer).
export type PatchTargets = {
  /** The teacher's centred, sharpened outputs at the masked patches of the unmasked crops (iBOT's targets). */
  masked?: Tensor2D;
  /** Its outputs at each dense pair's patch of the other crop, through the same head and centre. */
  dense?: Tensor2D;
  /** The sum of the raw outputs behind both, for the patch centre (which they share). */
  centreSum: Tensor1D;
};

/** The teacher's targets from its global crops' patch tokens [2·B·P, d]; call inside the teacher's tidy. */
export function teacherPatchTargets(
  tf: Tf, teacher: Params, cfg: TrainConfig, patches: Tensor2D, plan: PatchPlan, patchCentre: Float32Array, temp: number,
): PatchTargets {
  const { masked, pairs } = plan;
  const head = (tokens: Tensor2D) => headForward(tf, teacher, cfg.head, tokens).logits;
  const maskedOut = masked && masked.index.length > 0 && cfg.ibot.weight > 0 ? head(selectRows(tf, patches, masked.index)) : null;
  const denseOut = pairs && pairs.teacher.length > 0 ? head(pairs.corners ? interpolate(tf, patches, pairs.corners) : selectRows(tf, patches, pairs.teacher)) : null;
  const centre = tf.tensor1d(patchCentre) as Tensor1D;
  const zeros = tf.zeros([cfg.head.outputs]);
  return {
    ...(maskedOut ? { masked: teacherProbs(tf, maskedOut, centre, temp) } : {}),
    ...(denseOut ? { dense: teacherProbs(tf, denseOut, centre, temp) } : {}),
    centreSum: tf.add(maskedOut ? tf.sum(maskedOut, 0) : zeros, denseOut ? tf.sum(denseOut, 0) : zeros) as Tensor1D,
  };
}

/** Each point's token read between the four patch tokens round it: Σ wᵢ·tokenᵢ, [n, d] from 4n rows and weights. */
function interpolate(tf: Tf, patches: Tensor2D, corners: { rows: Int32Array; weights: Float32Array }): Tensor2D {
  const n = corners.rows.length / 4;
  const tokens = selectRows(tf, patches, corners.rows).reshape([n, 4, patches.shape[1]]);
  return tf.sum(tf.mul(tokens, tf.tensor3d(corners.weights, [n, 4, 1])), 1) as Tensor2D;
}

/**
 * The weighted patch terms and their values; `patches` are the student's global-crop patch tokens [2·B·P, d],
 * `localPatches` its local crops' [L·B·p, d] (null without local crops).
 */
export function studentPatchLoss(
  tf: Tf, student: Params, cfg: TrainConfig, patches: Tensor2D, localPatches: Tensor2D | null, globals: Tensor4D, plan: PatchPlan,
  targets: PatchTargets, b: number,
): { loss: Scalar; ibot: number; pixel: number; dense: number; position: number } {
  const { masked, pairs } = plan;
  let loss: Scalar = tf.scalar(0);
  const out = { ibot: 0, pixel: 0, dense: 0, position: 0 };
  const add = (term: Scalar, weight: number, key: keyof typeof out) => {
    out[key] = term.dataSync()[0]!;
    loss = tf.add(loss, tf.mul(term, weight));
  };
  const head = (tokens: Tensor2D) => headForward(tf, student, cfg.head, tokens).logits;
  const logits = (rows: Int32Array) => head(selectRows(tf, patches, rows));
  if (masked && masked.index.length > 0 && targets.masked) {
    add(ibotLoss(tf, logits(masked.index), targets.masked, masked.weight, cfg.distill.studentTemp, 2 * b), cfg.ibot.weight, 'ibot');
  }
  if (masked && masked.index.length > 0 && cfg.ibot.pixelWeight > 0) {
    const tokens = selectRows(tf, patches, masked.index);
    const pred = tf.add(tf.matMul(tokens, student.get('ibot.pixel.w')), student.get('ibot.pixel.b')) as Tensor2D;
    const pixels = patchify(tf, globals, cfg.vit.patch);
    const [n, pp, c] = pixels.shape;
    const target = selectRows(tf, pixels.reshape([n * pp, c]) as Tensor2D, masked.index);
    add(pixelLoss(tf, pred, target, masked.weight, 2 * b), cfg.ibot.pixelWeight, 'pixel');
  }
  if (pairs && pairs.teacher.length > 0 && targets.dense) {
    // The local crops' rows follow the global crops' (one pass through the head); each crop counts once in the mean.
    const local = pairs.local && localPatches ? pairs.local : null;
    const tokens = local ? tf.concat([selectRows(tf, patches, pairs.student), selectRows(tf, localPatches!, local)], 0) as Tensor2D : selectRows(tf, patches, pairs.student);
    const crops = (2 + (local ? cfg.views.locals : 0)) * b;
    add(ibotLoss(tf, head(tokens), targets.dense, pairs.weight, cfg.distill.studentTemp, crops), cfg.ibot.denseWeight, 'dense');
  }
  if (plan.position) {
    // Each crop counts once: the sum of the crops' mean cross-entropies over the crops asked.
    const { local, global } = plan.position;
    const classes = cfg.position.grid ** 2;
    const w = student.get(POSITION_W), bias = student.get(POSITION_B);
    let sum: Scalar = tf.scalar(0);
    let crops = 0;
    if (local && localPatches) {
      const p = (cfg.views.localSize / cfg.vit.patch) ** 2;
      sum = tf.add(sum, positionLoss(tf, localPatches, w, bias, local, classes, p));
      crops += cfg.views.locals * b;
    }
    if (global) {
      sum = tf.add(sum, positionLoss(tf, patches, w, bias, global, classes, (cfg.views.globalSize / cfg.vit.patch) ** 2));
      crops += 2 * b;
    }
    add(tf.div(sum, crops), cfg.position.weight, 'position');
  }
  return { loss, ...out };
}
