// Multi-crop views: shapes, value ranges and determinism under a seed, on a real face photo.
import test from 'ava';
import { presets } from '../../training/config.ts';
import { decode, gaussianBlur, makeViews, randomResizedCrop, shardViews, view } from '../../training/augment.ts';
import { derive } from '../../training/rng.ts';
import { MEDIA } from './_fixtures.ts';

const cfg = { ...presets.tiny.views, locals: 3 };
const img = await decode(`${MEDIA}/audrey.jpg`);

test('views have the configured shapes and normalised ranges', (t) => {
  const v = makeViews([img, img], cfg, derive(1, 'views', 0));
  t.is(v.batch, 2);
  t.is(v.globals.length, 2 * 2 * 64 * 64 * 3);
  t.is(v.locals.length, 3 * 2 * 32 * 32 * 3);
  const lo = Math.min(...cfg.mean.map((m, i) => -m / cfg.std[i]));
  const hi = Math.max(...cfg.mean.map((m, i) => (1 - m) / cfg.std[i]));
  for (const x of [v.globals, v.locals]) {
    let min = Infinity, max = -Infinity;
    for (const a of x) (min = Math.min(min, a)), (max = Math.max(max, a));
    t.true(min >= lo - 1e-4 && max <= hi + 1e-4, `${min}..${max}`);
    t.true(max - min > 1, 'views are not flat');
  }
  const raw = view(img, 'global2', cfg, derive(2, 'x'));
  t.true(raw.every((a) => a >= 0 && a <= 1));
});

test('views are deterministic under a seed and differ across steps', (t) => {
  const a = makeViews([img], cfg, derive(7, 'views', 3));
  const b = makeViews([img], cfg, derive(7, 'views', 3));
  const c = makeViews([img], cfg, derive(7, 'views', 4));
  t.deepEqual(a.globals, b.globals);
  t.deepEqual(a.locals, b.locals);
  t.notDeepEqual(a.globals, c.globals);
  // The two global views of one image differ (different crops and augmentations).
  const g = 64 * 64 * 3;
  t.notDeepEqual(a.globals.subarray(0, g), a.globals.subarray(g, 2 * g));
});

test('sharding gives each worker the same slice of every crop', (t) => {
  const v = makeViews([img, img, img, img], cfg, derive(1, 'views', 1));
  const s1 = shardViews(v, 1, 2, 64, 32, 3);
  const g = 64 * 64 * 3;
  t.is(s1.batch, 2);
  t.deepEqual(s1.globals.subarray(0, g), v.globals.subarray(2 * g, 3 * g));
  t.deepEqual(s1.globals.subarray(2 * g, 3 * g), v.globals.subarray(6 * g, 7 * g));
});

/** A w×h RGB image from a grey-level function of the pixel. */
function pattern(w: number, h: number, f: (x: number, y: number) => number) {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.fill(f(x, y), (y * w + x) * 3, (y * w + x) * 3 + 3);
  return { width: w, height: h, data };
}

test('blur sigma is scaled by the global view size for every view (local crops get DINO\'s blur)', (t) => {
  // Only blur on, sigma fixed: a local view is its crop blurred with sigma × globalSize / 224, not × localSize / 224.
  const c = { ...cfg, flipP: 0, jitter: { ...cfg.jitter, p: 0 }, grayscaleP: 0, solarizeP: 0, blur: { sigma: [1.5, 1.5] as [number, number], pGlobal1: 1, pGlobal2: 1, pLocal: 1 } };
  for (const kind of ['local', 'global1'] as const) {
    const size = kind === 'local' ? c.localSize : c.globalSize;
    const got = view(img, kind, c, derive(3, kind));
    const r = derive(3, kind);
    const want = randomResizedCrop(img, size, kind === 'local' ? c.localScale : c.globalScale, r);
    for (let i = 0; i < 4; i++) r.next(); // flip, jitter, grayscale, blur draws
    gaussianBlur(want, size, (1.5 * c.globalSize) / 224);
    t.deepEqual(got, want, kind);
  }
});

test('random resized crop antialiases when downscaling: a 1-px checkerboard becomes ~0.5 grey', (t) => {
  // 96 → 32 px (×3): without antialiasing the samples land on single pixels and the checkerboard survives (0/1).
  for (const f of [(x: number, y: number) => ((x + y) % 2) * 255, (x: number) => (x % 2) * 255]) {
    const x = randomResizedCrop(pattern(96, 96, f), 32, [1, 1], derive(0, 'aa'));
    let lo = Infinity, hi = -Infinity;
    for (const v of x) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
    t.true(lo > 0.45 && hi < 0.55, `${lo.toFixed(3)}..${hi.toFixed(3)}`);
  }
  // Low frequencies pass: a constant image stays exact, a horizontal ramp keeps its values at the output pixel centres.
  const flat = randomResizedCrop(pattern(96, 96, () => 200), 32, [1, 1], derive(0, 'aa'));
  t.true(flat.every((v) => Math.abs(v - 200 / 255) < 1e-6));
  const ramp = randomResizedCrop(pattern(96, 96, (x) => 40 + x), 32, [1, 1], derive(0, 'aa'));
  for (let ox = 4; ox < 28; ox++) {
    const want = (40 + (ox + 0.5) * 3 - 0.5) / 255;
    t.true(Math.abs(ramp[(16 * 32 + ox) * 3] - want) < 0.5 / 255, `x ${ox}: ${ramp[(16 * 32 + ox) * 3] * 255} vs ${want * 255}`);
  }
  // Upscaling (a crop smaller than the view) is plain bicubic and stays in [0, 1].
  const up = randomResizedCrop(pattern(8, 8, (x, y) => ((x + y) % 2) * 255), 32, [1, 1], derive(0, 'aa'));
  t.true(up.every((v) => v >= 0 && v <= 1));
});
