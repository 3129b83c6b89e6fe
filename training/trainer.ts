// One ProS training step, written to read like the method. The loop around it (data, checkpoints, metrics, workers)
// lives in launcher.ts and parallel/; this file is what runs on whichever thread holds the model.
import type { Scalar, Tensor, Tensor1D, Tensor2D, Tensor4D } from '@tensorflow/tfjs';
import type { Tf } from '../src/backend.ts';
import type { TrainConfig } from './config.ts';
import type { NamedTensor } from './checkpoint.ts';
import { emaUpdate } from './ema.ts';
import { LAST_LAYER, headForward, initHead, l2normalise } from './head.ts';
import { distillLoss, meanEntropy, teacherProbs, updateCentre } from './loss/distill.ts';
import { koleoLoss } from './loss/koleo.ts';
import { protoLoss, protoProbs, sharpen, sinkhorn, single, type Collective } from './loss/prototypes.ts';
import { AdamW, clipGradients } from './optimizer.ts';
import { Params } from './params.ts';
import { planPatchTerms, studentPatchLoss, teacherPatchTargets } from './patch-terms.ts';
import { positionOn } from '../src/contracts/config.ts';
import { POSITION_B, POSITION_W } from './loss/position.ts';
import { derive } from './rng.ts';
import type { Schedules } from './schedule.ts';
import { initViT, vitForward, type DropPathMask } from './vit.ts';

/** One batch of views, crop-major: globals [2, B, G, G, 3], locals [L, B, l, l, 3], normalised. */
export interface Views {
  batch: number;
  globals: Float32Array;
  locals: Float32Array;
  /** Each crop's place in its image [2 + L, B, BOX_FIELDS] (augment.ts), the global crops first: box fractions and flip. */
  boxes: Float32Array;
}

export interface Model {
  student: Params;
  teacher: Params;
  /** The prototype bank C [K_p, d], learned with the student and shared by both. */
  protos: Params;
  centre: Float32Array;
  /** The centre of the teacher's patch outputs (iBOT term), kept apart from the CLS centre. */
  patchCentre: Float32Array;
  opt: AdamW;
}

/** The learned token that replaces masked patch embeddings (iBOT term only). */
export const MASK_TOKEN = 'ibot.mask';

export interface StepMetrics {
  step: number;
  loss: number;
  distill: number;
  proto: number;
  protoCe: number;
  protoMeanEntropy: number;
  /** KoLeo term (0 when off). */
  koleo: number;
  /** Masked patch term (0 when off). */
  ibot: number;
  /** Masked-pixel target (0 when off). */
  pixel: number;
  /** Dense cross-view patch term (0 when off). */
  dense: number;
  /** Patch position term (0 when off). */
  position: number;
  lr: number;
  weightDecay: number;
  momentum: number;
  teacherTemp: number;
  teacherEntropy: number;
  teacherStudentKl: number;
  /** Prototypes that are the argmax of some teacher target in the batch. */
  protosUsed: number;
  /** Prototypes that are the argmax of some student crop in the batch. */
  protosUsedStudent: number;
  featureStd: number;
  gradNorm: number;
}

export class NonFiniteLossError extends Error {
  override name = 'NonFiniteLossError';
}

// ───────────────────────────── models ─────────────────────────────
export function buildModel(tf: Tf, cfg: TrainConfig): Model {
  const student = new Params(tf);
  const rng = derive(cfg.seed, 'init', 'student');
  initViT(student, cfg.vit, rng);
  initHead(student, cfg.head, cfg.vit.width, rng);
  if (cfg.ibot.weight > 0 || cfg.ibot.pixelWeight > 0) student.add(MASK_TOKEN, [1, 1, cfg.vit.width], 'zeros');
  if (cfg.ibot.pixelWeight > 0) {
    const px = cfg.vit.patch * cfg.vit.patch * 3;
    student.add('ibot.pixel.w', [cfg.vit.width, px], { truncNormal: 0.02 }, rng);
    student.add('ibot.pixel.b', [px], 'zeros');
  }
  if (positionOn(cfg)) {
    student.add(POSITION_W, [cfg.vit.width, cfg.position.grid ** 2], { truncNormal: 0.02 }, rng);
    student.add(POSITION_B, [cfg.position.grid ** 2], 'zeros');
  }
  // The teacher starts as a copy of the student (DINO), and gets no gradient.
  const teacher = new Params(tf);
  for (const [name, v] of student.vars) teacher.add(name, v.shape, v.dataSync() as Float32Array);
  const protos = new Params(tf);
  const prng = derive(cfg.seed, 'init', 'protos');
  const c = new Float32Array(cfg.proto.count * cfg.head.bottleneck);
  for (let i = 0; i < c.length; i++) c[i] = prng.normal();
  protos.add('proto.C', [cfg.proto.count, cfg.head.bottleneck], normaliseRows(c, cfg.head.bottleneck));
  const trainable = new Map([...student.vars, ...protos.vars]);
  // The prototypes take neither weight decay nor gradient clipping (MSN's param groups); they are re-normalised instead.
  const opt = new AdamW(tf, trainable, cfg.optim, new Set(protos.names()));
  return { student, teacher, protos, centre: new Float32Array(cfg.head.outputs), patchCentre: new Float32Array(cfg.head.outputs), opt };
}

function normaliseRows(c: Float32Array, d: number): Float32Array {
  for (let r = 0; r < c.length / d; r++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += c[r * d + j] ** 2;
    const k = 1 / Math.max(Math.sqrt(s), 1e-12);
    for (let j = 0; j < d; j++) c[r * d + j] *= k;
  }
  return c;
}

/** Every tensor of the training state, by name, for checkpoints and worker hand-over. */
export async function modelTensors(model: Model): Promise<Map<string, NamedTensor>> {
  const out = new Map<string, NamedTensor>();
  const put = (name: string, v: { shape: number[]; dataSync(): unknown }) =>
    out.set(name, { shape: v.shape, data: (v.dataSync() as Float32Array).slice() });
  for (const [n, v] of model.student.vars) put(`student.${n}`, v);
  for (const [n, v] of model.teacher.vars) put(`teacher.${n}`, v);
  for (const [n, v] of model.protos.vars) put(n, v);
  for (const [n, v] of model.opt.m) put(`adam.m.${n}`, v);
  for (const [n, v] of model.opt.v) put(`adam.v.${n}`, v);
  out.set('centre', { shape: [model.centre.length], data: model.centre.slice() });
  // The patch centre serves the iBOT and the dense terms; always kept (it is 1 row).
  out.set('centre.ibot', { shape: [model.patchCentre.length], data: model.patchCentre.slice() });
  for (const [n, t] of model.opt.steps) out.set(`adam.t.${n}`, { shape: [1], data: new Float32Array([t]) });
  return out;
}

export function loadModelTensors(tf: Tf, model: Model, t: Map<string, NamedTensor>): void {
  const values = new Map([...t].map(([k, v]) => [k, v.data]));
  model.student.load(values, 'student.');
  model.teacher.load(values, 'teacher.');
  model.protos.load(values);
  tf.tidy(() => {
    for (const [n, m] of model.opt.m) m.assign(tf.tensor(need(values, `adam.m.${n}`), m.shape));
    for (const [n, v] of model.opt.v) v.assign(tf.tensor(need(values, `adam.v.${n}`), v.shape));
  });
  model.centre.set(need(values, 'centre'));
  // Checkpoints from before the dense term hold the patch centre only when iBOT was on.
  if (model.student.vars.has(MASK_TOKEN) || values.has('centre.ibot')) model.patchCentre.set(need(values, 'centre.ibot'));
  // Checkpoints from before per-parameter step counts hold one `adam.t` for all.
  for (const n of model.opt.steps.keys()) model.opt.steps.set(n, (values.get(`adam.t.${n}`) ?? need(values, 'adam.t'))[0]);
}

function need(values: Map<string, Float32Array>, name: string): Float32Array {
  const v = values.get(name);
  if (!v) throw new Error(`checkpoint has no tensor ${name}`);
  return v;
}

/**
 * Backbone then head, once per crop resolution (DINO's MultiCropWrapper), outputs concatenated crop-major; the patch
 * tokens of each group too, flattened ([2·b·P, d] for the global crops), for the patch terms. `mask` masks group 0.
 */
function forwardCrops(
  tf: Tf, p: Params, cfg: TrainConfig, groups: Tensor4D[], dropPath?: (group: number) => DropPathMask, mask?: { rows: Float32Array; token: Tensor },
) {
  const outs = groups.map((x, g) => vitForward(tf, p, cfg.vit, x, { dropPath: dropPath?.(g), mask: g === 0 ? mask : undefined }));
  const cls = tf.concat(outs.map((o) => o.cls), 0) as Tensor2D;
  const flat = (x: Tensor) => x.reshape([x.shape[0]! * x.shape[1]!, x.shape[2]!]) as Tensor2D;
  return { cls, patches: flat(outs[0].patches), localPatches: outs[1] ? flat(outs[1].patches) : null, ...headForward(tf, p, cfg.head, cls) };
}

/**
 * Drop-path decisions drawn for the whole global batch of a step and cut to this worker's rows, so that W workers
 * draw exactly what one thread on the full batch would. Rows are crop-major: crop c, image i of the worker's share
 * is global row c·B + rank·b + i. Group 0 holds the 2 global crops, group 1 the local crops.
 */
export function dropPathMasks(seed: number, step: number, rank: number, size: number, crops: [number, number]) {
  return (group: number): DropPathMask =>
    (block, branch, n, rate) => {
      const c = crops[group];
      const b = n / c;
      const rng = derive(seed, 'droppath', step, group, block, branch);
      const all = new Uint8Array(n * size);
      for (let r = 0; r < all.length; r++) all[r] = rng.next() >= rate ? 1 : 0;
      const mine = new Uint8Array(n);
      for (let k = 0; k < c; k++) for (let i = 0; i < b; i++) mine[k * b + i] = all[k * b * size + rank * b + i];
      return mine;
    };
}

export function viewTensors(tf: Tf, cfg: TrainConfig, v: Views): { globals: Tensor4D; locals: Tensor4D | null } {
  const g = cfg.views.globalSize;
  const l = cfg.views.localSize;
  return {
    globals: tf.tensor4d(v.globals, [2 * v.batch, g, g, 3]),
    locals: cfg.views.locals > 0 ? tf.tensor4d(v.locals, [cfg.views.locals * v.batch, l, l, 3]) : null,
  };
}

/** Scalars averaged between workers each step (loss terms, entropy, feature std). */
const STATS = 11;

/**
 * The length of the vector a data-parallel step averages: every trainable gradient, the teacher's batch mean, the
 * two prototype usages, the scalars, and the patch outputs' sum and count (iBOT centre).
 */
export function averagedLength(model: Model, cfg: TrainConfig): number {
  const params = [...model.student.list(), ...model.protos.list()].reduce((a, v) => a + v.size, 0);
  return params + cfg.head.outputs + 2 * cfg.proto.count + STATS + cfg.head.outputs + 1;
}

// ───────────────────────────── one step ─────────────────────────────
/** `debug.grads` receives the averaged gradients before clipping (tests compare data-parallel with full batch). */
export function trainStep(
  tf: Tf, model: Model, cfg: TrainConfig, sched: Schedules, step: number, views: Views, coll: Collective = single,
  debug?: { grads?: Map<string, Float32Array> },
): StepMetrics {
  const lr = sched.lr[step];
  const wd = sched.weightDecay[step];
  const momentum = sched.momentum[step];
  const tempT = sched.teacherTemp[step];
  const crops = 2 + cfg.views.locals;
  const k = cfg.head.outputs;

  const { globals, locals } = viewTensors(tf, cfg, views);
  const b = views.batch;
  // ── patch terms: iBOT's masked patches of the student's global crops; dense pairs of patches showing one place ──
  const plan = planPatchTerms(cfg, step, coll.rank ?? 0, b, views.boxes);

  // ── teacher: global crops only, no gradient ──
  const t = tf.tidy(() => {
    const out = forwardCrops(tf, model.teacher, cfg, [globals]);
    const centre = tf.tensor1d(model.centre) as Tensor1D;
    const pt = teacherProbs(tf, out.logits, centre, tempT);
    const pp = protoProbs(tf, out.z, model.protos.get('proto.C') as Tensor2D, cfg.proto.temp);
    const target =
      cfg.proto.target === 'sharpen'
        ? sharpen(tf, pp, cfg.proto.sharpenTemp)
        : (() => {
            const c = l2normalise(tf, model.protos.get('proto.C')) as Tensor2D;
            const scores = tf.matMul(out.z, c, false, true);
            const [b, kp] = scores.shape;
            return tf.tensor2d(sinkhorn(scores.dataSync() as Float32Array, b, kp, cfg.proto.sinkhornEps, cfg.proto.sinkhornIters, coll), [b, kp]);
          })();
    const feats = l2normalise(tf, out.cls);
    const { variance } = tf.moments(feats, 0);
    return {
      patch: teacherPatchTargets(tf, model.teacher, cfg, out.patches, plan, model.patchCentre, tempT),
      probs: pt,
      target,
      batchMean: tf.mean(out.logits, 0),
      entropy: meanEntropy(tf, pt),
      usage: tf.argMax(target, 1),
      featureStd: tf.mean(tf.sqrt(variance)),
    };
  });

  // ── student: all crops; the loss L = L_distill + λ·L_proto ──
  let distill = 0;
  let protoParts: { ce: number; meanEntropy: number; usage: Float32Array } = { ce: 0, meanEntropy: 0, usage: new Float32Array(cfg.proto.count) };
  let protoValue = 0;
  let koleoValue = 0;
  let ibotValue = 0;
  let pixelValue = 0;
  let denseValue = 0;
  let positionValue = 0;
  // Only what the enabled terms reach is trained: the prototypes serve only L_proto, and the head's last layer L_distill
  // and the patch terms that read the head's outputs (iBOT's masked term, the dense term). An ablation with a term off
  // leaves the parameters only that term reaches without a gradient.
  const lastLayerUsed = cfg.distill.enabled || cfg.ibot.weight > 0 || cfg.ibot.denseWeight > 0;
  const names = [
    ...model.student.names().filter((n) => lastLayerUsed || n !== LAST_LAYER),
    ...(cfg.proto.enabled ? model.protos.names() : []),
  ];
  const trainable = names.map((n) => (n.startsWith('proto.') ? model.protos.get(n) : model.student.get(n)));
  const dropPath = dropPathMasks(cfg.seed, step, coll.rank ?? 0, coll.size, [2, cfg.views.locals]);
  const { value, grads } = tf.variableGrads(() => {
    const groups = locals ? [globals, locals] : [globals];
    const s = forwardCrops(tf, model.student, cfg, groups, dropPath, plan.masks ? { rows: plan.masks, token: model.student.get(MASK_TOKEN) } : undefined);
    let loss: Scalar = tf.scalar(0);
    if (cfg.distill.enabled) {
      const d = distillLoss(tf, s.logits, t.probs, cfg.distill.studentTemp, crops);
      distill = d.dataSync()[0];
      loss = tf.add(loss, d);
    }
    if (cfg.proto.enabled) {
      const p = protoLoss(tf, s.z, model.protos.get('proto.C') as Tensor2D, t.target, {
        temp: cfg.proto.temp,
        meanEntropyWeight: cfg.proto.meanEntropyWeight,
        crops,
      }, coll);
      protoParts = p;
      protoValue = p.loss.dataSync()[0];
      loss = tf.add(loss, tf.mul(p.loss, cfg.proto.weight));
    }
    if (plan.masked || plan.pairs || plan.position) {
      const p = studentPatchLoss(tf, model.student, cfg, s.patches, s.localPatches, globals, plan, t.patch, b);
      ({ ibot: ibotValue, pixel: pixelValue, dense: denseValue, position: positionValue } = p);
      loss = tf.add(loss, p.loss);
    }
    if (cfg.koleo.weight > 0) {
      // Per global crop, over this worker's images (DINOv2 does it per crop and per device).
      let k: Scalar = tf.scalar(0);
      for (let i = 0; i < 2; i++) k = tf.add(k, koleoLoss(tf, s.cls.slice([i * b, 0], [b, -1]) as Tensor2D));
      k = tf.div(k, 2);
      koleoValue = k.dataSync()[0];
      loss = tf.add(loss, tf.mul(k, cfg.koleo.weight));
    }
    return loss;
  }, trainable);
  globals.dispose();
  locals?.dispose();

  // ── average over workers: gradients, the teacher's batch mean (centre), prototype usage, metrics ──
  const gradMap = new Map<string, Tensor>();
  for (const [i, v] of trainable.entries()) if (!grads[v.name]) throw new Error(`no gradient for ${names[i]}`);
  const usageLocal = new Float32Array(cfg.proto.count);
  for (const i of t.usage.dataSync()) usageLocal[i] += 1;
  const stats = new Float32Array([value.dataSync()[0], distill, protoValue, protoParts.ce, t.entropy.dataSync()[0], t.featureStd.dataSync()[0], koleoValue, ibotValue, pixelValue, denseValue, positionValue]);
  if (stats.length !== STATS) throw new Error(`${stats.length} averaged scalars, expected ${STATS}`);
  const batchMean = t.batchMean.dataSync() as Float32Array;
  // The patch centre's update: the sum of the teacher's masked patch outputs and their count, so that workers with
  // different numbers of masked patches still give the full batch's mean.
  const patchSum = new Float32Array(k + 1);
  patchSum.set(t.patch.centreSum.dataSync() as Float32Array);
  patchSum[k] = plan.centreRows;
  const vars = trainable;
  if (coll.size > 1) {
    const sizes = vars.map((v) => v.size);
    const flat = new Float32Array(sizes.reduce((a, b) => a + b, 0) + k + 2 * cfg.proto.count + stats.length + k + 1);
    let o = 0;
    for (const [i, v] of vars.entries()) {
      flat.set(grads[v.name].dataSync() as Float32Array, o);
      o += sizes[i];
    }
    flat.set(batchMean, o);
    flat.set(usageLocal, o + k);
    flat.set(protoParts.usage, o + k + cfg.proto.count);
    flat.set(stats, o + k + 2 * cfg.proto.count);
    flat.set(patchSum, o + k + 2 * cfg.proto.count + stats.length);
    const avg = coll.mean(flat);
    o = 0;
    for (const [i, v] of vars.entries()) {
      gradMap.set(names[i], tf.tensor(avg.subarray(o, o + sizes[i]), v.shape));
      o += sizes[i];
    }
    batchMean.set(avg.subarray(o, o + k));
    usageLocal.set(avg.subarray(o + k, o + k + cfg.proto.count));
    protoParts.usage = avg.slice(o + k + cfg.proto.count, o + k + 2 * cfg.proto.count);
    stats.set(avg.subarray(o + k + 2 * cfg.proto.count, o + k + 2 * cfg.proto.count + stats.length));
    patchSum.set(avg.subarray(o + k + 2 * cfg.proto.count + stats.length));
    for (const g of Object.values(grads)) g.dispose();
  } else {
    for (const [i, v] of vars.entries()) gradMap.set(names[i], grads[v.name]);
  }
  const [loss, distillAvg, protoAvg, protoCe, entropy, featureStd, koleoAvg, ibotAvg, pixelAvg, denseAvg, positionAvg] = stats;
  const disposeAll = () => {
    value.dispose();
    for (const g of gradMap.values()) g.dispose();
    const { patch, ...image } = t;
    tf.dispose([...Object.values(image), ...Object.values(patch)]);
  };
  // Every worker sees the same averaged loss, so all stop together.
  if (!Number.isFinite(loss)) {
    disposeAll();
    throw new NonFiniteLossError(`loss is ${loss} at step ${step} (distill ${distillAvg}, proto ${protoAvg}): stopped, the last good checkpoint is kept`);
  }

  if (debug?.grads) for (const [n, g] of gradMap) debug.grads.set(n, g.dataSync() as Float32Array);

  // ── optimiser: clip, freeze the last layer early on, AdamW ──
  const gradNorm = clipGradients(tf, gradMap, cfg.optim.clipGrad, cfg.optim.clipMode, model.opt.exempt);
  if (step < sched.freezeLastLayerSteps) {
    gradMap.get(LAST_LAYER)?.dispose();
    gradMap.delete(LAST_LAYER);
  }
  model.opt.step(gradMap, lr, wd);
  // Prototypes stay unit rows.
  if (cfg.proto.enabled) {
    const c = model.protos.get('proto.C');
    tf.tidy(() => c.assign(l2normalise(tf, c)));
  }

  // ── teacher: EMA of the student; centre: EMA of the teacher's outputs ──
  emaUpdate(tf, model.teacher, model.student, momentum);
  updateCentre(model.centre, batchMean, cfg.distill.centerMomentum);
  if (patchSum[k] > 0) updateCentre(model.patchCentre, patchSum.subarray(0, k).map((x) => x / patchSum[k]), cfg.distill.centerMomentum);

  disposeAll();
  return {
    step,
    loss,
    distill: distillAvg,
    proto: protoAvg,
    protoCe,
    protoMeanEntropy: protoParts.meanEntropy,
    koleo: koleoAvg,
    ibot: ibotAvg,
    pixel: pixelAvg,
    dense: denseAvg,
    position: positionAvg,
    lr,
    weightDecay: wd,
    momentum,
    teacherTemp: tempT,
    teacherEntropy: entropy,
    teacherStudentKl: cfg.distill.enabled ? distillAvg - entropy : NaN,
    protosUsed: usageLocal.reduce((a, x) => a + (x > 0 ? 1 : 0), 0),
    protosUsedStudent: protoParts.usage.reduce((a, x) => a + (x > 0 ? 1 : 0), 0),
    featureStd,
    gradNorm,
  };
}
