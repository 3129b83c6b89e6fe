// Multi-crop views (DINO's DataAugmentationDINO): 2 global + N local random resized crops with flip, colour jitter,
// grayscale, Gaussian blur and solarization, then normalised. Pure functions of the image and a seeded generator,
// so a step's views are the same on every run; they are prepared in a worker (views-worker.ts), off the thread
// that trains.
import sharp from 'sharp';
import type { ViewsConfig } from './config.ts';
import { BOX_FIELDS } from './loss/dense.ts';
import type { Rng } from './rng.ts';
import type { Views } from './trainer.ts';

export interface Decoded {
  width: number;
  height: number;
  /** RGB, row-major, 3 bytes per pixel. */
  data: Uint8Array;
}

export async function decode(file: string): Promise<Decoded> {
  const { data, info } = await sharp(file).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

/**
 * torchvision's RandomResizedCrop (ratio 3/4–4/3, 10 tries, else a centre crop) with DINO's bicubic interpolation
 * through PIL, which antialiases when downscaling; to [0, 1] floats.
 */
export function randomResizedCrop(img: Decoded, size: number, scale: [number, number], rng: Rng): Float32Array {
  return resizeBicubic(img, randomBox(img, scale, rng), size);
}

/** RandomResizedCrop's box [x0, y0, cw, ch] in pixels of `img`. */
function randomBox(img: Decoded, scale: [number, number], rng: Rng): [number, number, number, number] {
  const { width: w, height: h } = img;
  const area = w * h;
  let box: [number, number, number, number] | null = null;
  for (let i = 0; i < 10 && !box; i++) {
    const target = area * rng.uniform(scale[0], scale[1]);
    const ratio = Math.exp(rng.uniform(Math.log(3 / 4), Math.log(4 / 3)));
    const cw = Math.round(Math.sqrt(target * ratio));
    const ch = Math.round(Math.sqrt(target / ratio));
    if (cw > 0 && ch > 0 && cw <= w && ch <= h) box = [rng.int(w - cw + 1), rng.int(h - ch + 1), cw, ch];
  }
  if (!box) {
    const s = Math.min(w, h);
    box = [Math.floor((w - s) / 2), Math.floor((h - s) / 2), s, s];
  }
  return box;
}

/** PIL's bicubic kernel (a = −0.5), support 2. */
function cubic(x: number): number {
  const a = -0.5;
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/**
 * One axis of PIL's resampling (Resample.c precompute_coeffs): output pixel i reads input pixels start[i] … +taps,
 * with the kernel's support stretched by the downscale factor, so a downscale averages everything it covers.
 */
function coefficients(inSize: number, outSize: number) {
  const scale = inSize / outSize;
  const fscale = Math.max(scale, 1);
  const support = 2 * fscale;
  const taps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const k = new Float32Array(outSize * taps);
  for (let i = 0; i < outSize; i++) {
    const centre = (i + 0.5) * scale;
    const lo = Math.max(0, Math.trunc(centre - support + 0.5));
    const hi = Math.min(inSize, Math.trunc(centre + support + 0.5));
    let sum = 0;
    for (let x = lo; x < hi; x++) sum += k[i * taps + x - lo] = cubic((x - centre + 0.5) / fscale);
    for (let x = lo; x < hi; x++) if (sum !== 0) k[i * taps + x - lo] /= sum;
    start[i] = lo;
    count[i] = hi - lo;
  }
  return { start, count, k, taps };
}

const clamp255 = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);

/**
 * The box [x0, y0, cw, ch] of `img` resized to size × size as PIL's crop then resize(BICUBIC): separable,
 * horizontal pass then vertical, the kernel never reading outside the box, values clipped to [0, 255] after each pass
 * (PIL's 8-bit intermediate; its rounding is not copied).
 */
export function resizeBicubic(img: Decoded, [x0, y0, cw, ch]: [number, number, number, number], size: number): Float32Array {
  const { width: w, data } = img;
  // Horizontal: the box's ch rows → size columns.
  const { start: xs, count: xn, k: xk, taps: xt } = coefficients(cw, size);
  const tmp = new Float32Array(ch * size * 3);
  for (let y = 0; y < ch; y++) {
    const row = ((y0 + y) * w + x0) * 3;
    for (let ox = 0; ox < size; ox++) {
      const k0 = ox * xt;
      const n = xn[ox];
      let p = row + xs[ox] * 3;
      let r = 0, g = 0, b = 0;
      for (let j = 0; j < n; j++, p += 3) {
        const kk = xk[k0 + j];
        r += kk * data[p];
        g += kk * data[p + 1];
        b += kk * data[p + 2];
      }
      const o = (y * size + ox) * 3;
      tmp[o] = clamp255(r);
      tmp[o + 1] = clamp255(g);
      tmp[o + 2] = clamp255(b);
    }
  }
  // Vertical: ch rows → size rows, accumulated row by row.
  const { start: ys, count: yn, k: yk, taps: yt } = coefficients(ch, size);
  const row3 = size * 3;
  const out = new Float32Array(size * row3);
  for (let oy = 0; oy < size; oy++) {
    const o = oy * row3;
    for (let j = 0; j < yn[oy]; j++) {
      const kk = yk[oy * yt + j];
      const src = (ys[oy] + j) * row3;
      for (let i = 0; i < row3; i++) out[o + i] += kk * tmp[src + i];
    }
    for (let i = 0; i < row3; i++) out[o + i] = clamp255(out[o + i]) / 255;
  }
  return out;
}

export function flip(x: Float32Array, size: number): void {
  for (let y = 0; y < size; y++) {
    for (let l = 0, r = size - 1; l < r; l++, r--) {
      for (let c = 0; c < 3; c++) {
        const a = (y * size + l) * 3 + c;
        const b = (y * size + r) * 3 + c;
        const t = x[a];
        x[a] = x[b];
        x[b] = t;
      }
    }
  }
}

const gray = (x: Float32Array, i: number) => 0.299 * x[i] + 0.587 * x[i + 1] + 0.114 * x[i + 2];
const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);

function blend(x: Float32Array, other: (i: number) => number, f: number): void {
  for (let i = 0; i < x.length; i += 3) {
    for (let c = 0; c < 3; c++) x[i + c] = clamp01(f * x[i + c] + (1 - f) * other(i));
  }
}

function shiftHue(x: Float32Array, shift: number): void {
  for (let i = 0; i < x.length; i += 3) {
    const r = x[i], g = x[i + 1], b = x[i + 2];
    const max = Math.max(r, g, b);
    const min = Math.min(r, g, b);
    const d = max - min;
    if (d === 0) continue;
    let hue = max === r ? ((g - b) / d) % 6 : max === g ? (b - r) / d + 2 : (r - g) / d + 4;
    hue = ((hue / 6 + shift) % 1 + 1) % 1;
    const s = d / max;
    const h6 = hue * 6;
    const k = Math.floor(h6);
    const f = h6 - k;
    const p = max * (1 - s), q = max * (1 - s * f), t = max * (1 - s * (1 - f));
    const rgb = [[max, t, p], [q, max, p], [p, max, t], [p, q, max], [t, p, max], [max, p, q]][k % 6];
    x[i] = rgb[0];
    x[i + 1] = rgb[1];
    x[i + 2] = rgb[2];
  }
}

/** torchvision's ColorJitter: brightness, contrast, saturation, hue in a random order. */
export function colorJitter(x: Float32Array, j: ViewsConfig['jitter'], rng: Rng): void {
  const ops = rng.shuffle([0, 1, 2, 3]);
  for (const op of ops) {
    if (op === 0 && j.brightness > 0) blend(x, () => 0, rng.uniform(1 - j.brightness, 1 + j.brightness));
    if (op === 1 && j.contrast > 0) {
      let m = 0;
      for (let i = 0; i < x.length; i += 3) m += gray(x, i);
      m /= x.length / 3;
      blend(x, () => m, rng.uniform(1 - j.contrast, 1 + j.contrast));
    }
    if (op === 2 && j.saturation > 0) blend(x, (i) => gray(x, i), rng.uniform(1 - j.saturation, 1 + j.saturation));
    if (op === 3 && j.hue > 0) shiftHue(x, rng.uniform(-j.hue, j.hue));
  }
}

export function grayscale(x: Float32Array): void {
  for (let i = 0; i < x.length; i += 3) x[i] = x[i + 1] = x[i + 2] = gray(x, i);
}

/** Separable Gaussian blur with reflected borders. */
export function gaussianBlur(x: Float32Array, size: number, sigma: number): void {
  const r = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float32Array(2 * r + 1);
  let s = 0;
  for (let i = -r; i <= r; i++) s += k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i] /= s;
  const refl = (i: number) => (i < 0 ? Math.min(-i, size - 1) : i >= size ? Math.max(2 * size - 2 - i, 0) : i);
  const tmp = new Float32Array(x.length);
  for (let y = 0; y < size; y++)
    for (let xx = 0; xx < size; xx++)
      for (let c = 0; c < 3; c++) {
        let a = 0;
        for (let i = -r; i <= r; i++) a += k[i + r] * x[(y * size + refl(xx + i)) * 3 + c];
        tmp[(y * size + xx) * 3 + c] = a;
      }
  for (let y = 0; y < size; y++)
    for (let xx = 0; xx < size; xx++)
      for (let c = 0; c < 3; c++) {
        let a = 0;
        for (let i = -r; i <= r; i++) a += k[i + r] * tmp[(refl(y + i) * size + xx) * 3 + c];
        x[(y * size + xx) * 3 + c] = a;
      }
}

export function solarize(x: Float32Array): void {
  for (let i = 0; i < x.length; i++) if (x[i] >= 0.5) x[i] = 1 - x[i];
}

export function normalise(x: Float32Array, mean: number[], std: number[]): void {
  for (let i = 0; i < x.length; i++) x[i] = (x[i] - mean[i % 3]) / std[i % 3];
}

type Kind = 'global1' | 'global2' | 'local';

/** One augmented view in [0, 1] before normalisation (exported for tests). */
export function view(img: Decoded, kind: Kind, cfg: ViewsConfig, rng: Rng): Float32Array {
  return placedView(img, kind, cfg, rng).x;
}

/**
 * A view and where it came from in its image (BOX_FIELDS), so that the dense term can tell which patch of one global
 * crop shows what a patch of the other shows.
 */
function placedView(img: Decoded, kind: Kind, cfg: ViewsConfig, rng: Rng): { x: Float32Array; box: number[] } {
  const size = kind === 'local' ? cfg.localSize : cfg.globalSize;
  const b = randomBox(img, kind === 'local' ? cfg.localScale : cfg.globalScale, rng);
  const x = resizeBicubic(img, b, size);
  const flipped = rng.next() < cfg.flipP;
  if (flipped) flip(x, size);
  if (rng.next() < cfg.jitter.p) colorJitter(x, cfg.jitter, rng);
  if (rng.next() < cfg.grayscaleP) grayscale(x);
  const pBlur = kind === 'global1' ? cfg.blur.pGlobal1 : kind === 'global2' ? cfg.blur.pGlobal2 : cfg.blur.pLocal;
  // Sigma is given for DINO's 224-px global view and scaled by the preset's global size, the same for every view
  // (DINO blurs its 96-px locals with the same radius as its globals), so small CPU presets blur proportionally.
  if (rng.next() < pBlur) gaussianBlur(x, size, rng.uniform(cfg.blur.sigma[0], cfg.blur.sigma[1]) * (cfg.globalSize / 224));
  if (kind === 'global2' && rng.next() < cfg.solarizeP) solarize(x);
  return { x, box: [b[0] / img.width, b[1] / img.height, b[2] / img.width, b[3] / img.height, flipped ? 1 : 0] };
}

/** The views of a batch, crop-major; `rng` is the step's generator. */
export function makeViews(images: Decoded[], cfg: ViewsConfig, rng: Rng): Views {
  const b = images.length;
  const g = cfg.globalSize * cfg.globalSize * 3;
  const l = cfg.localSize * cfg.localSize * 3;
  const globals = new Float32Array(2 * b * g);
  const locals = new Float32Array(cfg.locals * b * l);
  const boxes = new Float32Array((2 + cfg.locals) * b * BOX_FIELDS);
  for (let i = 0; i < b; i++) {
    const put = (dst: Float32Array, x: Float32Array, slot: number) => {
      normalise(x, cfg.mean, cfg.std);
      dst.set(x, slot * x.length);
    };
    for (const [c, kind] of (['global1', 'global2'] as const).entries()) {
      const v = placedView(images[i], kind, cfg, rng);
      put(globals, v.x, c * b + i);
      boxes.set(v.box, (c * b + i) * BOX_FIELDS);
    }
    for (let c = 0; c < cfg.locals; c++) {
      const v = placedView(images[i], 'local', cfg, rng);
      put(locals, v.x, c * b + i);
      boxes.set(v.box, ((2 + c) * b + i) * BOX_FIELDS);
    }
  }
  return { batch: b, globals, locals, boxes };
}

/** Worker `rank` of `size`'s share of a batch: the same contiguous slice of images in every crop. */
export function shardViews(v: Views, rank: number, size: number, globalSize: number, localSize: number, locals: number): Views {
  const b = v.batch / size;
  const g = globalSize * globalSize * 3;
  const l = localSize * localSize * 3;
  const globals = new Float32Array(2 * b * g);
  const loc = new Float32Array(locals * b * l);
  for (let c = 0; c < 2; c++) globals.set(v.globals.subarray((c * v.batch + rank * b) * g, (c * v.batch + rank * b + b) * g), c * b * g);
  for (let c = 0; c < locals; c++) loc.set(v.locals.subarray((c * v.batch + rank * b) * l, (c * v.batch + rank * b + b) * l), c * b * l);
  const boxes = new Float32Array((2 + locals) * b * BOX_FIELDS);
  for (let c = 0; c < 2 + locals; c++) boxes.set(v.boxes.subarray((c * v.batch + rank * b) * BOX_FIELDS, (c * v.batch + rank * b + b) * BOX_FIELDS), c * b * BOX_FIELDS);
  return { batch: b, globals, locals: loc, boxes };
}
