// `pros export-model`: the teacher backbone of a run (or of another exported folder) as a folder of standard files:
// a tfjs GraphModel, a safetensors copy in timm's layout, config.json and MODEL_CARD.md (see src/model/folder.ts).
// Written into a fresh folder beside the target and swapped in by rename, so a crash leaves the old export or none.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { VERSION } from '../../src/config.ts';
import { InputError } from '../../src/errors.ts';
import type { Workspace } from '../../src/workspace.ts';
import { isModelFolder, MODEL_CARD, MODEL_CONFIG, MODEL_FORMAT, readModelConfig, SAFETENSORS, TFJS_MODEL, type ModelConfig } from '../../src/model/folder.ts';
import { writeSafetensors } from '../../src/model/safetensors.ts';
import { loadCheckpoint } from '../checkpoint.ts';
import { resolveBackbone, type BackboneRef, teacherWeights } from '../backbone.ts';
import { vitGraph } from './graph.ts';
import { toTimm } from './timm.ts';
import { modelCard } from './card.ts';

export type WeightDtype = 'float16' | 'float32';

export interface ExportOptions {
  ws: Workspace;
  /** A run name of the workspace, or an exported model folder. */
  run: string;
  out: string;
  dtype?: WeightDtype;
  /** The model's name (its space and eval label); default the run's name. */
  name?: string;
  /** Only what embedding needs (config.json and the tfjs files): the copy a run space keeps beside its index. */
  tfjsOnly?: boolean;
}

export interface ExportSummary {
  run: string;
  name: string;
  out: string;
  dtype: WeightDtype;
  parameters: number;
  files: Array<{ file: string; bytes: number }>;
  bytes: number;
}

function modelConfig(ref: BackboneRef, name: string, dtype: WeightDtype, tfjsOnly: boolean): ModelConfig {
  const v = ref.vit;
  const vit = { imageSize: v.imageSize, patch: v.patch, width: v.width, depth: v.depth, heads: v.heads, mlpRatio: v.mlpRatio, layerNormEps: v.layerNormEps };
  let source: ModelConfig['source'];
  if (ref.kind === 'model') source = readModelConfig(ref.dir).source;
  else {
    const state = loadCheckpoint(ref.dir).state;
    source = { kind: 'run', run: ref.name, step: state.step, totalSteps: state.totalSteps, data: null, exportedAt: '', version: VERSION };
  }
  return {
    format: MODEL_FORMAT,
    name,
    network: 'teacher-vit',
    preset: ref.preset,
    vit,
    input: {
      size: v.imageSize,
      layout: 'NHWC',
      channels: 'RGB',
      mean: ref.mean,
      std: ref.std,
      resize: 'a square face-centred crop (pros export geometry) resized to the input size, covering the square',
    },
    outputs: { embedding: 'cls', cls: { shape: [-1, v.width] }, patches: { shape: [-1, (v.imageSize / v.patch) ** 2, v.width] } },
    weights: { dtype },
    files: tfjsOnly ? { tfjs: TFJS_MODEL } : { tfjs: TFJS_MODEL, safetensors: SAFETENSORS, card: MODEL_CARD },
    ...(tfjsOnly ? {} : {
      pytorch: {
        module: 'timm.models.vision_transformer.VisionTransformer',
        kwargs: { img_size: v.imageSize, patch_size: v.patch, embed_dim: v.width, depth: v.depth, num_heads: v.heads, mlp_ratio: v.mlpRatio, qkv_bias: true, num_classes: 0 },
      },
    }),
    source: { ...source, exportedAt: new Date().toISOString(), version: VERSION },
  };
}

export async function exportModel(o: ExportOptions): Promise<ExportSummary> {
  const ref = resolveBackbone(o.run, o.ws.paths.runs);
  const dtype = o.dtype ?? 'float16';
  const name = o.name ?? ref.name;
  if (!/^[\w.-]+$/.test(name)) throw new InputError(`--name ${name}: use letters, digits, '.', '-' and '_'`);
  const out = resolve(o.out);
  if (existsSync(out) && !(statSync(out).isDirectory() && (isModelFolder(out) || readdirSync(out).length === 0))) {
    throw new InputError(`--out ${o.out}: exists and is not an exported model folder or an empty folder; not overwriting it`);
  }
  const weights = teacherWeights(ref);
  const config = modelConfig(ref, name, dtype, !!o.tfjsOnly);
  if (ref.kind === 'run') {
    const row = o.ws.db.prepare<[string], string | null>('SELECT data FROM runs WHERE name = ?').pluck().get(ref.name);
    config.source.data = row ?? null;
  }

  const tmp = join(dirname(out), `.${basename(out)}.${process.pid}.tmp`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const files: Array<{ file: string; bytes: number }> = [];
  const write = (file: string, data: string | Buffer) => {
    writeFileSync(join(tmp, file), data);
    files.push({ file, bytes: Buffer.byteLength(data) });
  };
  try {
    const graph = vitGraph(config.vit, weights, { float16: dtype === 'float16' });
    write(TFJS_MODEL, JSON.stringify(graph.modelJson));
    for (const [file, data] of graph.shards) write(file, data);
    if (!o.tfjsOnly) {
      const meta = { format: 'pt', pros: MODEL_FORMAT, name, run: config.source.run, step: String(config.source.step) };
      write(SAFETENSORS, writeSafetensors(toTimm(config.vit, weights), dtype === 'float16' ? 'F16' : 'F32', meta));
    }
    write(MODEL_CONFIG, JSON.stringify(config, null, 2) + '\n');
    if (!o.tfjsOnly) {
      const card = modelCard(ref.kind === 'run' ? o.ws : undefined, config, files);
      write(MODEL_CARD, card);
    }
    const old = `${tmp}.old`;
    if (existsSync(out)) renameSync(out, old);
    renameSync(tmp, out);
    rmSync(old, { recursive: true, force: true });
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const parameters = [...weights.values()].reduce((a, w) => a + w.length, 0);
  return { run: ref.name, name, out, dtype, parameters, files, bytes: files.reduce((a, f) => a + f.bytes, 0) };
}
