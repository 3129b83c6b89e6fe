// The backbone handed to downstream tasks: the saved teacher ViT of a run (or a random one, the baseline), with a
// normalise() that turns RGB images into the network's input.
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor, Tensor2D, Tensor3D, Tensor4D, Variable } from '@tensorflow/tfjs';
import type { Tf } from '../src/backend.ts';
import { presets, type TrainConfig, type ViTConfig } from './config.ts';
import { loadCheckpoint, withPrefix } from './checkpoint.ts';
import { Params } from './params.ts';
import { Rng, derive } from './rng.ts';
import { initViT, vitForward } from './vit.ts';

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

/** The teacher backbone saved in `runDir` (workspace/runs/<run>). */
export async function loadBackbone(runDir: string, tf: Tf): Promise<Backbone> {
  const cfg = readRunConfig(runDir);
  const ckpt = loadCheckpoint(runDir);
  const params = new Params(tf);
  initViT(params, cfg.vit, new Rng(0));
  params.load(withPrefix(ckpt.tensors, 'teacher.'));
  return makeBackbone(tf, params, cfg.vit, cfg.views.mean, cfg.views.std, cfg.seed);
}

/** A backbone at random init (the baseline): the preset's ViT, seeded as a training run would be. */
export function randomBackbone(preset: string, seed: number, tf: Tf, vit: Partial<ViTConfig> = {}): Backbone {
  const cfg = presets[preset];
  if (!cfg) throw new Error(`unknown preset ${preset} (known: ${Object.keys(presets).join(', ')})`);
  const vitCfg = { ...cfg.vit, ...vit };
  const params = new Params(tf);
  initViT(params, vitCfg, derive(seed, 'init', 'student'));
  return makeBackbone(tf, params, vitCfg, cfg.views.mean, cfg.views.std, seed);
}
