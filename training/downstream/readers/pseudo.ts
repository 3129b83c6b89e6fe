// Pseudo-labels on real photos, as a second real-data check: human's emotion and face mesh on the crops of a curated
// set (a workspace's curated/<set>/manifest.jsonl), written in the RAF-DB and 300W layouts so the same readers load
// them. These labels are MADE BY A MODEL, NOT GROUND TRUTH: set.json says so (kind "pseudo") and every result row
// from them carries `pseudo: true`; the report marks their tables.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { extname, join } from 'node:path';
import { VERSION } from '../../../src/config.ts';
import { decode } from '../images.ts';
import { analyse, getHuman, EMOTION_AND_MESH } from '../human.ts';
import { writePts } from './pts300w.ts';
import { RAF_CLASSES } from './rafdb.ts';
import { DatasetError } from './files.ts';
import type { Point } from '../../../src/contracts/geometry.ts';
import { parseManifestLine, type PseudoSetInfo } from '../../../src/contracts/manifest.ts';
import { writeFileAtomic } from '../../../src/atomic.ts';

/**
 * MediaPipe face-mesh vertex for each iBUG-68 point (a widely used correspondence; an approximation: the mesh has no
 * vertex exactly on every 68-point definition, the jaw points especially).
 */
export const MESH_TO_68 = [
  162, 234, 93, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 323, 454, 389, // jaw
  71, 63, 105, 66, 107, 336, 296, 334, 293, 301, // eyebrows
  168, 197, 5, 4, 75, 97, 2, 326, 305, // nose
  33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380, // eyes
  61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181, // outer lip
  78, 82, 13, 312, 308, 317, 14, 87, // inner lip
];

/** human's emotion names → RAF-DB basic labels (1-based). */
const HUMAN_TO_RAF: Record<string, string> = {
  surprise: 'Surprise', fear: 'Fear', disgust: 'Disgust', happy: 'Happiness', sad: 'Sadness', angry: 'Anger', neutral: 'Neutral',
};

export interface PseudoOptions {
  /** A curated set folder (with manifest.jsonl). */
  set: string;
  out: string;
  testFraction?: number;
  /**
   * The split of each crop, when the caller decides it (e.g. test = faces never seen in pre-training); replaces
   * testFraction. Without it, the first (1 − testFraction) of the labelled crops are train, the rest test.
   */
  splitOf?: (item: { id: number; path: string }) => 'train' | 'test';
  /** Side at which human looks at each crop. */
  size?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface PseudoSummary {
  out: string;
  crops: number;
  labelled: number;
  noFace: number;
  emotions: Record<string, number>;
  seconds: number;
}

export async function pseudolabel(o: PseudoOptions): Promise<PseudoSummary> {
  const t0 = Date.now();
  const manifest = join(o.set, 'manifest.jsonl');
  if (!existsSync(manifest)) throw new DatasetError(`${o.set}: no manifest.jsonl (expected a curated set folder)`);
  const lines = readFileSync(manifest, 'utf8').split('\n').filter((l) => l.trim());
  const items = lines.map((l, i) => {
    const line = parseManifestLine(l);
    if (typeof line === 'string') throw new DatasetError(`${manifest}:${i + 1}: ${line}`);
    return line;
  });
  const size = o.size ?? 192;
  const human = await getHuman();
  const imgDir = join(o.out, 'Image', 'aligned');
  mkdirSync(imgDir, { recursive: true });
  mkdirSync(join(o.out, 'EmoLabel'), { recursive: true });
  const labelled: Array<{ src: string; path: string; split?: 'train' | 'test'; emotion: string; points: Point[]; ext: string }> = [];
  let noFace = 0;
  for (const [i, item] of items.entries()) {
    const src = join(o.set, item.path);
    const d = await decode({ image: src, split: 'train' }, size);
    const face = await analyse(human, d.pixels, size, EMOTION_AND_MESH);
    o.onProgress?.(i + 1, items.length);
    const top = face?.emotion.slice().sort((a, b) => b.score - a.score)[0];
    if (!face || face.mesh.length < 468 || !top || !HUMAN_TO_RAF[top.emotion]) {
      noFace++;
      continue;
    }
    // Points in the crop's own pixels: decode() took the centre square; map back from `size`.
    const s = d.region.side / size;
    const points = MESH_TO_68.map((m) => [face.mesh[m]![0] * s + d.region.x, face.mesh[m]![1] * s + d.region.y] as Point);
    labelled.push({ src, path: item.path, split: o.splitOf?.(item), emotion: HUMAN_TO_RAF[top.emotion]!, points, ext: extname(src) || '.jpg' });
  }
  const nTestByFraction = Math.round(labelled.length * (o.testFraction ?? 0.3));
  const emo: string[] = [];
  // Which crop each labelled image came from, so a result can be traced back to its source.
  const origins: string[] = ['file\tsplit\tcrop'];
  const emotions: Record<string, number> = {};
  const counter = { train: 0, test: 0 };
  labelled.forEach((l, i) => {
    const split = l.split ?? (i < labelled.length - nTestByFraction ? 'train' : 'test');
    const stem = `${split}_${String(++counter[split]).padStart(5, '0')}`;
    copyFileSync(l.src, join(imgDir, `${stem}_aligned${l.ext}`));
    writePts(join(imgDir, `${stem}_aligned.pts`), l.points);
    emo.push(`${stem}${l.ext} ${RAF_CLASSES.indexOf(l.emotion) + 1}`);
    origins.push(`Image/aligned/${stem}_aligned${l.ext}\t${split}\t${l.path}`);
    emotions[l.emotion] = (emotions[l.emotion] ?? 0) + 1;
  });
  const nTrain = counter.train;
  const nTest = counter.test;
  writeFileSync(join(o.out, 'EmoLabel', 'list_patition_label.txt'), emo.join('\n') + (emo.length ? '\n' : ''));
  writeFileAtomic(join(o.out, 'origins.tsv'), origins.join('\n') + '\n');
  const info: PseudoSetInfo = {
    kind: 'pseudo',
    note: 'Labels made by a model (@vladmandic/human 3.3.6: emotion and face mesh → 68 points), NOT ground truth.',
    from: o.set, counts: { crops: items.length, labelled: labelled.length, noFace, train: nTrain, test: nTest },
    emotions, createdAt: new Date().toISOString(), version: VERSION,
  };
  writeFileAtomic(join(o.out, 'set.json'), JSON.stringify(info, null, 2) + '\n');
  return { out: o.out, crops: items.length, labelled: labelled.length, noFace, emotions, seconds: (Date.now() - t0) / 1000 };
}
