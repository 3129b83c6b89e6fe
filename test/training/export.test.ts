// `pros export-model`: a trained run's teacher as a tfjs GraphModel (loaded with tfjs's own loader), a safetensors
// copy in timm's layout, config.json and a model card; the folder then works wherever --run takes a run name.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tensor, Tensor2D, Tensor4D } from '@tensorflow/tfjs';
import { loadBackend } from '../../src/backend.ts';
import { openWorkspace } from '../../src/workspace.ts';
import { InputError } from '../../src/errors.ts';
import { fileHandler } from '../../src/model/tfjs-files.ts';
import { readModelConfig, type ModelConfig } from '../../src/model/folder.ts';
import { readSafetensors } from '../../src/model/safetensors.ts';
import { decodeFloat16, encodeFloat16 } from '../../src/model/float16.ts';
import { loadGraphEmbedder } from '../../src/model/embedder.ts';
import { train } from '../../training/launcher.ts';
import { exportModel } from '../../training/export/export.ts';
import { modelCard } from '../../training/export/card.ts';
import { fromTimm } from '../../training/export/timm.ts';
import { loadBackbone, resolveBackbone, teacherWeights } from '../../training/backbone.ts';
import { evaluate } from '../../training/downstream/evaluate.ts';
import { synthesize } from '../../training/downstream/synth/write.ts';
import { report } from '../../training/downstream/report.ts';
import { Params } from '../../training/params.ts';
import { initViT, vitForward } from '../../training/vit.ts';
import { Rng } from '../../training/rng.ts';
import { makeSet, testOverrides } from './_fixtures.ts';

const root = mkdtempSync(join(tmpdir(), 'pros-export-'));
const ws = join(root, 'ws');
await makeSet(join(ws, 'curated', 'faces'), 12, 48);
await train({ data: 'faces', run: 'exp', workspace: ws, quiet: true, overrides: { ...testOverrides, steps: 3 } });
const { tf } = await loadBackend('wasm', { quiet: true });
const runs = join(ws, 'runs');
const S = testOverrides.vit.imageSize;
const input = tf.randomNormal([3, S, S, 3], 0, 1, 'float32', 7) as Tensor4D;

async function exported(out: string, dtype: 'float16' | 'float32' = 'float16') {
  const w = openWorkspace(ws);
  try {
    return await exportModel({ ws: w, run: 'exp', out, dtype });
  } finally {
    w.close();
  }
}

/** The project's own forward over the given weights. */
function reference(weights: Map<string, Float32Array>): Float32Array {
  const ref = resolveBackbone('exp', runs);
  const p = new Params(tf);
  initViT(p, ref.vit, new Rng(0));
  p.load(weights);
  const cls = tf.tidy(() => vitForward(tf, p, ref.vit, input).cls.dataSync() as Float32Array);
  p.dispose();
  return cls;
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
};

test.serial('exports the four parts; tf.loadGraphModel runs the graph and its CLS matches vitForward', async (t) => {
  const out = join(root, 'model');
  const s = await exported(out);
  for (const f of ['config.json', 'model.json', 'group1-shard1of1.bin', 'model.safetensors', 'MODEL_CARD.md']) t.true(existsSync(join(out, f)), f);
  const config = readModelConfig(out);
  t.is(config.name, 'exp');
  t.is(config.outputs.embedding, 'cls');
  t.deepEqual(config.input.mean, [0.485, 0.456, 0.406]);
  t.is(config.source.step, 3);
  // float16: two bytes a parameter in the shards and in the safetensors copy, plus small headers and constants.
  const shard = s.files.find((f) => f.file.endsWith('.bin'))!.bytes;
  t.true(shard >= 2 * s.parameters && shard < 2 * s.parameters + 4096, `${shard} bytes for ${s.parameters} parameters`);
  t.true(s.files.find((f) => f.file === 'model.safetensors')!.bytes < 2 * s.parameters + 16384);

  const model = await tf.loadGraphModel(fileHandler(tf, join(out, 'model.json')));
  const [cls, patches] = model.execute({ pixels: input }, ['cls', 'patches']) as Tensor[];
  t.deepEqual(cls!.shape, [3, 64]);
  t.deepEqual(patches!.shape, [3, 16, 64]);
  const graphCls = cls!.dataSync();
  const weights = teacherWeights(resolveBackbone('exp', runs));
  // Against the float32 checkpoint: only float16 rounding apart.
  const full = reference(weights);
  t.true(maxDiff(graphCls, full) < 2e-2, `vs float32 weights: ${maxDiff(graphCls, full)}`);
  // Against the same float16-rounded weights: the same computation.
  const rounded = new Map([...weights].map(([k, v]) => [k, decodeFloat16(encodeFloat16(v))]));
  t.true(maxDiff(graphCls, reference(rounded)) < 1e-4, `vs rounded weights: ${maxDiff(graphCls, reference(rounded))}`);
  // tf.io.fromMemory takes the same files.
  const json = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8'));
  const bin = readFileSync(join(out, 'group1-shard1of1.bin'));
  const again = await tf.loadGraphModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.length) }));
  t.is(maxDiff((again.execute({ pixels: input }, 'cls') as Tensor).dataSync(), graphCls), 0);
  model.dispose();
  again.dispose();

  // The safetensors copy reads back to the same rounded weights, in timm's names.
  const st = readSafetensors(readFileSync(join(out, 'model.safetensors')));
  t.deepEqual(st.tensors.get('patch_embed.proj.weight')!.shape, [64, 3, 8, 8]);
  t.deepEqual(st.tensors.get('blocks.1.mlp.fc1.weight')!.shape, [256, 64]);
  t.is(st.metadata.format, 'pt');
  const back = fromTimm(config.vit, st.tensors);
  for (const [k, v] of rounded) t.is(maxDiff(back.get(k)!, v), 0, k);

  // The card is filled from the run's record.
  const card = readFileSync(join(out, 'MODEL_CARD.md'), 'utf8');
  t.regex(card, /Run: `exp`, 3 of 3 steps \(status done\)/);
  t.regex(card, /12 face crops; licences: unknown 12/);
  t.regex(card, /in training steps, [\d.]+ img\/s/);
  t.regex(card, /Machine: \d+ × .+, \d+ GiB/);
});

test.serial('--run takes the folder: the backbone loads from safetensors and evaluates under the model\'s name', async (t) => {
  const out = join(root, 'model');
  const ref = resolveBackbone(out, runs);
  t.is(ref.kind, 'model');
  t.is(ref.name, 'exp');
  const bb = await loadBackbone(ref, tf);
  const cls = tf.tidy(() => bb.forward(input).cls.dataSync());
  bb.dispose();
  const embedder = await loadGraphEmbedder(out, tf);
  const model = await tf.loadGraphModel(fileHandler(tf, join(out, 'model.json')));
  t.true(maxDiff(cls, (model.execute({ pixels: input }, 'cls') as Tensor2D).dataSync()) < 1e-4);
  model.dispose();
  t.is(embedder.dim, 64);
  embedder.dispose();

  const data = join(root, 'synth');
  await synthesize({ out: data, count: 30, size: 32, seed: 2 });
  const w = openWorkspace(join(root, 'ws-eval'));
  try {
    const s = await evaluate({ ws: w, tf, backend: 'wasm', task: 'expression', data, run: out, epochs: 5 });
    t.is(s.run, 'exp');
    t.true(s.mean >= 0 && s.mean <= 1);
    // The model names the set it was trained on (here on this machine), so the test split is checked against it.
    t.true(s.leakage.checked, JSON.stringify(s.leakage));
    const random = await evaluate({ ws: w, tf, backend: 'wasm', task: 'expression', data, run: out, backbone: 'random', epochs: 5 });
    t.is(random.run, 'random');
    // The report says what the model is, though it is no run of this workspace.
    t.regex(report(w), /\| exp \| exported model: tiny ViT, 3 steps of run exp \|/);
  } finally {
    w.close();
  }
  t.throws(() => resolveBackbone(join(root, 'synth'), runs), { instanceOf: InputError, message: /is a folder but not an exported model/ });
  t.throws(() => resolveBackbone('nope', runs), { instanceOf: InputError, message: /no run "nope"/ });
});

test.serial('the card keeps probes at different rate schedules apart, each beside the baselines probed the same way', (t) => {
  const w = openWorkspace(join(root, 'ws-card'));
  try {
    const add = w.db.prepare("INSERT INTO evals (run, task, dataset, protocol, shots, seed, metric, value, extra) VALUES (?, 'expression', 'raf', 'linear', NULL, ?, 'accuracy', ?, ?)");
    add.run('exp', 0, 0.5, null); // stored before schedules were recorded: constant
    add.run('exp', 1, 0.7, JSON.stringify({ schedule: 'cosine' }));
    add.run('random', 1, 0.6, JSON.stringify({ schedule: 'cosine' }));
    add.run('majority', 1, 0.2, JSON.stringify({ schedule: 'cosine' }));
    const card = modelCard(w, readModelConfig(join(root, 'model')), []);
    t.regex(card, /\| expression \| raf \| linear \(cosine-rate probe\), full \| accuracy \| 70\.0% \(1 seed\) \| random 60\.0% \(1 seed\); majority 20\.0% \(1 seed\) \|/);
    t.regex(card, /\| expression \| raf \| linear \(constant-rate probe\), full \| accuracy \| 50\.0% \(1 seed\) \| majority 20\.0% \(1 seed\) \|/);
  } finally {
    w.close();
  }
});

test.serial('float32 export matches vitForward to float32 precision', async (t) => {
  const out = join(root, 'model32');
  const s = await exported(out, 'float32');
  t.is(readModelConfig(out).weights.dtype, 'float32');
  t.true(s.files.find((f) => f.file.endsWith('.bin'))!.bytes >= 4 * s.parameters);
  const model = await tf.loadGraphModel(fileHandler(tf, join(out, 'model.json')));
  const cls = (model.execute({ pixels: input }, 'cls') as Tensor).dataSync();
  model.dispose();
  const full = reference(teacherWeights(resolveBackbone('exp', runs)));
  t.true(maxDiff(cls, full) < 1e-4, String(maxDiff(cls, full)));
});

const numpy = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0;
(numpy ? test.serial : test.skip)('the safetensors copy computes the same CLS in timm\'s layouts (an independent numpy forward)', async (t) => {
  const out = join(root, 'model-numpy');
  await exported(out, 'float32');
  const file = join(root, 'input.f32');
  const x = input.dataSync() as Float32Array;
  writeFileSync(file, Buffer.from(x.buffer, x.byteOffset, x.byteLength));
  const r = spawnSync('python3', ['test/helpers/timm_vit_reference.py', out, file, '3'], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  const ref = (JSON.parse(r.stdout) as number[][]).flat();
  const model = await tf.loadGraphModel(fileHandler(tf, join(out, 'model.json')));
  const cls = (model.execute({ pixels: input }, 'cls') as Tensor).dataSync();
  model.dispose();
  t.true(maxDiff(cls, ref) < 1e-4, String(maxDiff(cls, ref)));
});

test.serial('refuses to overwrite a folder that is not an export; the CLI writes one and prints sizes', async (t) => {
  const busy = join(root, 'busy');
  mkdirSync(busy);
  writeFileSync(join(busy, 'notes.txt'), 'mine');
  await t.throwsAsync(exported(busy), { instanceOf: InputError, message: /not overwriting/ });
  t.is(readFileSync(join(busy, 'notes.txt'), 'utf8'), 'mine');

  const out = join(root, 'cli-model');
  const r = spawnSync(process.execPath, ['bin/pros.js', 'export-model', '--run', 'exp', '--out', out, '-w', ws, '--json'], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout) as { name: string; bytes: number; files: Array<{ file: string }> };
  t.is(s.name, 'exp');
  t.true(s.files.some((f) => f.file === 'model.safetensors'));
  const again = spawnSync(process.execPath, ['bin/pros.js', 'export-model', '--run', 'exp', '--out', out, '-w', ws, '--name', 'exp-2'], { encoding: 'utf8' });
  t.is(again.status, 0, again.stderr);
  t.regex(again.stdout, /total [\d.]+ MiB/);
  t.is((JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as ModelConfig).name, 'exp-2');
  const bad = spawnSync(process.execPath, ['bin/pros.js', 'export-model', '--run', 'missing', '--out', join(root, 'x'), '-w', ws], { encoding: 'utf8' });
  t.is(bad.status, 2);
  t.regex(bad.stderr, /no run "missing"/);
});
