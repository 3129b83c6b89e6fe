// An exported ProS backbone (`pros export-model`, models/pros-tiny/): the contract between the exporter (training/)
// and whoever loads it (the CLI's --run, the web's run spaces, a JavaScript or PyTorch user).
//   config.json        this file's ModelConfig: architecture, input size and normalisation, outputs, provenance
//   model.json + *.bin a tfjs GraphModel (tf.loadGraphModel): input "pixels" [N, S, S, 3] normalised, outputs cls, patches
//   model.safetensors  the same weights in timm's VisionTransformer names and layouts (PyTorch users)
//   MODEL_CARD.md      data, recipe, steps, wall time, machine, held-out metrics
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const MODEL_FORMAT = 'pros-model/1';
export const MODEL_CONFIG = 'config.json';
export const TFJS_MODEL = 'model.json';
export const SAFETENSORS = 'model.safetensors';
export const MODEL_CARD = 'MODEL_CARD.md';

export interface ModelVit {
  imageSize: number;
  patch: number;
  width: number;
  depth: number;
  heads: number;
  mlpRatio: number;
  layerNormEps: number;
}

export interface ModelConfig {
  format: typeof MODEL_FORMAT;
  /** The space and eval label of this backbone (the run it came from, or the shipped model's name). */
  name: string;
  /** The teacher ViT of a ProS run, without the DINO head and prototypes (training-only). */
  network: 'teacher-vit';
  preset: string;
  vit: ModelVit;
  input: {
    /** Square side in pixels; the graph takes exactly this size. */
    size: number;
    layout: 'NHWC';
    channels: 'RGB';
    /** Pixels scaled to [0, 1], then (x − mean) / std per channel. */
    mean: [number, number, number];
    std: [number, number, number];
    /** How pros makes the input from a face crop (export geometry: square, face-centred, margin). */
    resize: string;
  };
  outputs: {
    /** Which output is the face embedding; pros L2-normalises it for search. */
    embedding: 'cls';
    cls: { shape: [-1, number] };
    patches: { shape: [-1, number, number] };
  };
  weights: { dtype: 'float16' | 'float32' };
  files: { tfjs: string; safetensors?: string; card?: string };
  /** The safetensors copy loads into this PyTorch module (names and layouts as timm's). */
  pytorch?: { module: string; kwargs: Record<string, unknown> };
  source: {
    kind: 'run';
    run: string;
    step: number;
    totalSteps: number;
    data: string | null;
    exportedAt: string;
    version: string;
  };
}

export class ModelFolderError extends Error {}

/** Where the reference backbone ships: models/pros-tiny/ in the project. */
export const SHIPPED_MODEL = fileURLToPath(new URL('../../models/pros-tiny/', import.meta.url));

/** The shipped backbone's folder if it is there (it is written by the reference run), else undefined. */
export function shippedModel(dir = SHIPPED_MODEL): string | undefined {
  return isModelFolder(dir) ? dir : undefined;
}

/** True when `dir` is a folder holding an exported model's config.json (a workspace run's config.json is not one). */
export function isModelFolder(dir: string): boolean {
  try {
    if (!statSync(dir).isDirectory()) return false;
    const c = JSON.parse(readFileSync(join(dir, MODEL_CONFIG), 'utf8')) as { format?: unknown };
    return c.format === MODEL_FORMAT;
  } catch {
    return false;
  }
}

export function readModelConfig(dir: string): ModelConfig {
  const file = join(dir, MODEL_CONFIG);
  if (!existsSync(file)) throw new ModelFolderError(`${dir} is not an exported model (no ${MODEL_CONFIG})`);
  let c: ModelConfig;
  try {
    c = JSON.parse(readFileSync(file, 'utf8')) as ModelConfig;
  } catch (e) {
    throw new ModelFolderError(`${file}: not JSON (${(e as Error).message})`);
  }
  if (c.format !== MODEL_FORMAT) throw new ModelFolderError(`${file}: format ${String(c.format)}, expected ${MODEL_FORMAT}`);
  const v = c.vit;
  const ints = [v?.imageSize, v?.patch, v?.width, v?.depth, v?.heads, c.input?.size];
  if (!ints.every((n) => Number.isInteger(n) && (n as number) > 0) || c.input.size !== v.imageSize) {
    throw new ModelFolderError(`${file}: vit and input describe no usable ViT`);
  }
  if (c.input.mean?.length !== 3 || c.input.std?.length !== 3) throw new ModelFolderError(`${file}: input.mean and input.std need 3 values`);
  if (typeof c.name !== 'string' || !c.name) throw new ModelFolderError(`${file}: no name`);
  return c;
}
