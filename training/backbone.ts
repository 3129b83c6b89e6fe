// The backbone handed to downstream tasks: the saved teacher ViT of a run or of an exported model folder (or a random
// one, the baseline), with a normalise() that turns RGB images into the network's input. Every command's --run goes
// through resolveBackbone, so a run name and a model folder (models/pros-tiny) are accepted alike.
import { readFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor, Tensor2D, Tensor3D, Tensor4D, Variable } from '@tensorflow/tfjs';
import type { Tf } from '../src/backend.ts';
import { presets, type TrainConfig, type ViTConfig } from './config.ts';
import { loadCheckpoint, withPrefix } from './checkpoint.ts';
import { Params } from './params.ts';
import { Rng, derive } from './rng.ts';
import { initViT, vitForward } from './vit.ts';
import { InputError } from '../src/errors.ts';
import { isModelFolder, readModelConfig, ModelFolderError, SAFETENSORS } from '../src/model/folder.ts';
import { readSafetensors, SafetensorsError } from '../src/model/safetensors.ts';
import { hasCheckpoint } from './checkpoint.ts';
import { fromTimm } from './export/timm.ts';

export interface Backbone {
  inputSize: number;
  dim: number;
  patch: number;
  /** x: [N, H, W, 3] already normalised by normalise(); training turns on drop-path. */
  forward(x: Tensor4D, training?: boolean): { cls: Tensor2D; patches: Tensor3D };
  variables: Variable[];
  /** RGB in [0, 255] (int32 tensors) or [0, 1] (float32), [H, W, 3] or [N, H, W, 3] → resized and normalised. */
  normalise(rgbUint8OrFloat: Tensor): Tensor4D;
  /** Frees the variables. */
  dispose(): void;
}

export function makeBackbone(tf: Tf, params: Params, vit: ViTConfig, mean: number[], std: number[], seed = 0): Backbone {
  let calls = 0;
  const meanT = tf.tensor1d(mean);
  const stdT = tf.tensor1d(std);
  tf.keep(meanT);
  tf.keep(stdT);
  return {
    inputSize: vit.imageSize,
    dim: vit.width,
    patch: vit.patch,
    variables: params.list(),
    forward(x, training = false) {
      const dropPath = training ? derive(seed, 'backbone-droppath', calls++) : undefined;
      return vitForward(tf, params, vit, x, { dropPath });
    },
    normalise(img) {
      return tf.tidy(() => {
        let x = img.rank === 3 ? img.expandDims(0) : img;
        x = x.dtype === 'float32' ? x : tf.div(x.toFloat(), 255);
        if (x.shape[1] !== vit.imageSize || x.shape[2] !== vit.imageSize) {
          x = tf.image.resizeBilinear(x as Tensor4D, [vit.imageSize, vit.imageSize], false, true);
        }
        return tf.div(tf.sub(x, meanT), stdT) as Tensor4D;
      });
    },
    dispose() {
      params.dispose();
      meanT.dispose();
      stdT.dispose();
    },
  };
}

export function readRunConfig(runDir: string): TrainConfig {
  const file = join(runDir, 'config.json');
  if (!existsSync(file)) throw new Error(`${runDir} is not a training run (no config.json)`);
  return JSON.parse(readFileSync(file, 'utf8')) as TrainConfig;
}

/** What `--run` names: a trained run of the workspace, or an exported model folder. */
export interface BackboneRef {
  kind: 'run' | 'model';
  /** The label of its rows in the evals table and the key of its embedding space: the run's or the model's name. */
  name: string;
  /** workspace/runs/<run>, or the model folder. */
  dir: string;
  preset: string;
  vit: ViTConfig;
  mean: [number, number, number];
  std: [number, number, number];
  seed: number;
  /** Changes whenever the weights change (a key for cached features). */
  stamp: string;
}

/**
 * `--run REF`: an existing folder holding an exported model's config.json is that model; anything else is a run
 * name in `runsDir`, which must have a checkpoint. Bad references are input errors naming what was looked for.
 */
export function resolveBackbone(ref: string, runsDir: string): BackboneRef {
  if (isModelFolder(ref)) {
    let m;
    try {
      m = readModelConfig(ref);
    } catch (e) {
      if (e instanceof ModelFolderError) throw new InputError(`--run ${ref}: ${e.message}`);
      throw e;
    }
    const file = join(ref, m.files.safetensors ?? SAFETENSORS);
    if (!existsSync(file)) throw new InputError(`--run ${ref}: the model folder has no ${m.files.safetensors ?? SAFETENSORS}`);
    return {
      kind: 'model', name: m.name, dir: ref, preset: m.preset, vit: { ...m.vit, dropPath: 0 }, mean: m.input.mean, std: m.input.std, seed: 0,
      stamp: `model:${statSync(file).mtimeMs}:${statSync(file).size}`,
    };
  }
  const dir = join(runsDir, ref);
  if (!/^[\w.-]+$/.test(ref) || !existsSync(dir)) {
    const folder = existsSync(ref) ? `${ref} is a folder but not an exported model (no config.json of format pros-model/1); ` : '';
    throw new InputError(`--run ${ref}: ${folder}no run "${ref}" in ${runsDir} (pass a run name or a folder written by pros export-model)`);
  }
  if (!hasCheckpoint(dir)) throw new InputError(`run "${ref}" has no checkpoint yet (its training failed or has not saved one)`);
  const cfg = readRunConfig(dir);
  const ckpt = join(dir, 'checkpoint');
  return {
    kind: 'run', name: ref, dir, preset: cfg.preset, vit: cfg.vit, mean: cfg.views.mean, std: cfg.views.std, seed: cfg.seed,
    stamp: `run:${statSync(ckpt).mtimeMs}`,
  };
}

/** The teacher ViT's weights under our names (`vit.…`), from a run's checkpoint or a model folder's safetensors. */
export function teacherWeights(ref: BackboneRef): Map<string, Float32Array> {
  if (ref.kind === 'run') {
    const all = withPrefix(loadCheckpoint(ref.dir).tensors, 'teacher.');
    return new Map([...all].filter(([name]) => name.startsWith('vit.')));
  }
  const m = readModelConfig(ref.dir);
  try {
    return fromTimm(m.vit, readSafetensors(readFileSync(join(ref.dir, m.files.safetensors ?? SAFETENSORS))).tensors);
  } catch (e) {
    if (e instanceof SafetensorsError || /^safetensors:/.test((e as Error).message)) throw new InputError(`--run ${ref.dir}: ${(e as Error).message}`);
    throw e;
  }
}

/** The teacher backbone `ref` names. */
export async function loadBackbone(ref: BackboneRef, tf: Tf): Promise<Backbone> {
  const params = new Params(tf);
  initViT(params, ref.vit, new Rng(0));
  params.load(teacherWeights(ref));
  return makeBackbone(tf, params, ref.vit, ref.mean, ref.std, ref.seed);
}

/** The baseline for `ref`: its ViT at random init with its seed, i.e. exactly the weights a run of `ref` started from. */
export function randomBackboneLike(ref: BackboneRef, tf: Tf): Backbone {
  return randomBackbone(ref.preset, ref.seed, tf, ref.vit);
}

/** The ViT a random-init baseline of `preset` (with overrides) builds. */
export function randomVit(preset: string, vit: Partial<ViTConfig> = {}): ViTConfig {
  const cfg = presets[preset];
  if (!cfg) throw new Error(`unknown preset ${preset} (known: ${Object.keys(presets).join(', ')})`);
  return { ...cfg.vit, ...vit };
}

/** One line naming a ViT's shape: what tells two random-init baselines apart in the evals table. */
export function architectureOf(vit: ViTConfig): string {
  return `ViT ${vit.imageSize}/${vit.patch}, width ${vit.width}, depth ${vit.depth}, ${vit.heads} heads, mlp ×${vit.mlpRatio}`;
}

/** A backbone at random init (the baseline): the preset's ViT, seeded as a training run would be. */
export function randomBackbone(preset: string, seed: number, tf: Tf, vit: Partial<ViTConfig> = {}): Backbone {
  const cfg = presets[preset]!;
  const vitCfg = randomVit(preset, vit);
  const params = new Params(tf);
  initViT(params, vitCfg, derive(seed, 'init', 'student'));
  return makeBackbone(tf, params, vitCfg, cfg.views.mean, cfg.views.std, seed);
}
