// `pros synth`: writes N labelled synthetic faces in the public benchmarks' layouts, so the same readers load them:
//   Image/aligned/{train|test}_NNNNN_aligned.png     the images (RAF-DB basic naming)
//   Image/aligned/*.pts                              68 landmarks beside each image (300W layout)
//   EmoLabel/list_patition_label.txt                 RAF-DB basic expression list (sic: RAF's spelling)
//   list_attr_celeba.txt, list_eval_partition.txt    CelebA attributes and split, over img_align_celeba/ (a link)
//   manifest.jsonl, set.json                         the curated-set contract (train split only), for `pros train`
import { mkdirSync, writeFileSync, symlinkSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { VERSION } from '../../../src/config.ts';
import { drawFace, RAF_CLASSES, SYNTH_ATTRIBUTES } from './faces.ts';
import { renderPng, landmarks68, placePoints, DEFAULT_VIEW, type Placement } from './render.ts';
import type { Point } from '../../../src/contracts/geometry.ts';
import type { ManifestLine, SyntheticSetInfo } from '../../../src/contracts/manifest.ts';
import { mulberry32, uniform } from './rng.ts';
import { writePts } from '../readers/pts300w.ts';
import { writeFileAtomic } from '../../../src/atomic.ts';

export interface SynthOptions {
  out: string;
  count: number;
  /** Image side in pixels. */
  size?: number;
  seed?: number;
  /** Fraction of images in the test split. */
  testFraction?: number;
  /** Largest in-plane rotation in degrees (0 with zoom 0 and shift 0: every face at the same place). */
  rotate?: number;
  /** Largest relative zoom change, e.g. 0.1: 0.9–1.1. */
  zoom?: number;
  /** Largest shift, as a fraction of the image side. */
  shift?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface SynthSummary {
  out: string;
  count: number;
  train: number;
  test: number;
  size: number;
  seed: number;
  expressions: Record<string, number>;
  attributes: Record<string, number>;
  seconds: number;
}

export async function synthesize(opts: SynthOptions): Promise<SynthSummary> {
  const size = opts.size ?? 64;
  const seed = opts.seed ?? 0;
  const testFraction = opts.testFraction ?? 0.2;
  const t0 = Date.now();
  const imgDir = join(opts.out, 'Image', 'aligned');
  mkdirSync(imgDir, { recursive: true });
  mkdirSync(join(opts.out, 'EmoLabel'), { recursive: true });
  const rng = mulberry32(seed);
  const nTest = Math.round(opts.count * testFraction);
  const nTrain = opts.count - nTest;

  const attrLines: string[] = [];
  const partLines: string[] = [];
  const emoLines: string[] = [];
  const manifest: string[] = [];
  const expressions: Record<string, number> = {};
  const attrCounts: Record<string, number> = Object.fromEntries(SYNTH_ATTRIBUTES.map((a) => [a, 0]));
  for (let i = 0; i < opts.count; i++) {
    const split = i < nTrain ? 'train' : 'test';
    const n = split === 'train' ? i + 1 : i - nTrain + 1;
    const stem = `${split}_${String(n).padStart(5, '0')}`;
    const file = `${stem}_aligned.png`;
    const f = drawFace(rng);
    const placement: Placement = {
      angle: Math.round(uniform(rng, -1, 1) * (opts.rotate ?? 6) * 10) / 10,
      zoom: 1 + uniform(rng, -1, 1) * (opts.zoom ?? 0.05),
      dx: uniform(rng, -1, 1) * (opts.shift ?? 0.03),
      dy: uniform(rng, -1, 1) * (opts.shift ?? 0.03),
    };
    const [png, flat] = await Promise.all([renderPng(f.face, size, DEFAULT_VIEW, placement), landmarks68(f.face, size)]);
    const pts = placePoints(flat, size, DEFAULT_VIEW, placement);
    writeFileSync(join(imgDir, file), png);
    writePts(join(imgDir, `${stem}_aligned.pts`), pts);
    attrLines.push(`${file} ${SYNTH_ATTRIBUTES.map((a) => (f.attributes[a] ? ' 1' : '-1')).join(' ')}`);
    partLines.push(`${file} ${split === 'train' ? 0 : 2}`);
    emoLines.push(`${stem}.png ${RAF_CLASSES.indexOf(f.expression) + 1}`);
    // Only the training split is a pre-training corpus: test faces stay unseen until evaluation.
    if (split === 'train') manifest.push(JSON.stringify(manifestLine(n, file, stem, pts, size)));
    expressions[f.expression] = (expressions[f.expression] ?? 0) + 1;
    for (const a of SYNTH_ATTRIBUTES) if (f.attributes[a]) attrCounts[a]!++;
    opts.onProgress?.(i + 1, opts.count);
  }

  writeFileSync(join(opts.out, 'list_attr_celeba.txt'), `${opts.count}\n${SYNTH_ATTRIBUTES.join(' ')}\n${attrLines.join('\n')}\n`);
  writeFileSync(join(opts.out, 'list_eval_partition.txt'), partLines.join('\n') + '\n');
  writeFileSync(join(opts.out, 'EmoLabel', 'list_patition_label.txt'), emoLines.join('\n') + '\n');
  const link = join(opts.out, 'img_align_celeba');
  if (!existsSync(link)) symlinkSync(join('Image', 'aligned'), link);
  writeFileAtomic(join(opts.out, 'manifest.jsonl'), manifest.join('\n') + '\n');
  const summary: SynthSummary = {
    out: opts.out, count: opts.count, train: nTrain, test: nTest, size, seed, expressions, attributes: attrCounts,
    seconds: (Date.now() - t0) / 1000,
  };
  const info: SyntheticSetInfo = {
    kind: 'synthetic', name: 'synthetic', size, counts: { faces: opts.count, train: nTrain, test: nTest }, generator: 'facesjs', seed,
    placement: { rotate: opts.rotate ?? 6, zoom: opts.zoom ?? 0.05, shift: opts.shift ?? 0.03 },
    labels: { expressions, attributes: attrCounts },
    createdAt: new Date().toISOString(), version: VERSION,
  };
  writeFileAtomic(join(opts.out, 'set.json'), JSON.stringify(info, null, 2) + '\n'); // last: marks the folder complete
  return summary;
}

/** `n`: the face's number in the training split, its id in the manifest. */
function manifestLine(n: number, file: string, stem: string, pts: Point[], size: number): ManifestLine {
  return {
    id: n, path: `Image/aligned/${file}`, image: stem, source: 'synthetic:facesjs', box: [0, 0, size, size],
    score: 1, landmarks: pts.map(([x, y]) => [round(x), round(y)]), yaw: 0, pitch: 0, roll: 0, faceRatio: 1, sharpness: null,
    licence: 'synthetic (facesjs, Apache-2.0)',
  };
}

const round = (v: number) => Math.round(v * 100) / 100;
