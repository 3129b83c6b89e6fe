// Multi-crop views: shapes, value ranges and determinism under a seed, on a real face photo.
import test from 'ava';
import { presets } from '../../training/config.ts';
import { decode, makeViews, shardViews, view } from '../../training/augment.ts';
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
