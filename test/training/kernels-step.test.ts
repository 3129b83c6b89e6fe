// End to end: two full ProS steps (teacher, student forward + backward, both losses, AdamW, EMA) from the same
// initialisation on each matmul path give the same losses, gradient norms and parameters as tfjs's own kernels.
import test from 'ava';
import { loadBackend } from '../../src/backend.ts';
import { installMatmul, relativeError, uninstallMatmul, type MatmulPreference } from '../../training/kernels/install.ts';
import { resolveTrainConfig } from '../../training/config.ts';
import { buildModel, trainStep, type Views } from '../../training/trainer.ts';
import { wholeImageBoxes } from '../../training/loss/dense.ts';
import { buildSchedules } from '../../training/schedule.ts';

const { tf } = await loadBackend('wasm', { quiet: true });
const skipNative = process.env.PROS_SKIP_NATIVE === '1';

test('two ProS steps on the fast paths equal the stock kernels', (t) => {
  const batch = 2;
  const cfg = resolveTrainConfig('tiny', { batchSize: batch, backend: 'wasm', optim: { freezeLastLayerEpochs: 0 }, views: { locals: 2 } });
  const g = cfg.views.globalSize;
  const l = cfg.views.localSize;
  let s = 7;
  const rnd = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  };
  const views: Views[] = [0, 1].map(() => ({
    batch,
    globals: Float32Array.from({ length: 2 * batch * g * g * 3 }, rnd),
    locals: Float32Array.from({ length: cfg.views.locals * batch * l * l * 3 }, rnd),
    boxes: wholeImageBoxes(batch, cfg.views.locals),
  }));
  const run = (prefer: MatmulPreference) => {
    const installed = installMatmul(tf, { prefer, quiet: true });
    try {
      const model = buildModel(tf, cfg);
      const sched = buildSchedules(cfg, 1000);
      const metrics = [0, 1].map((i) => trainStep(tf, model, cfg, sched, i, views[i]));
      const params = new Map([...model.student.vars].map(([name, v]) => [name, v.dataSync() as Float32Array]));
      const teacher = model.teacher.get('vit.blocks.0.fc1.w').dataSync() as Float32Array;
      model.student.dispose();
      model.teacher.dispose();
      model.protos.dispose();
      model.opt.dispose();
      return { path: installed.path, metrics, params, teacher };
    } finally {
      uninstallMatmul(tf);
    }
  };
  const want = run('stock');
  for (const prefer of (skipNative ? ['explicit'] : ['explicit', 'native']) as MatmulPreference[]) {
    const got = run(prefer);
    t.not(got.path, 'stock');
    for (const i of [0, 1]) {
      for (const key of ['loss', 'distill', 'proto', 'gradNorm'] as const) {
        const err = relativeError([got.metrics[i][key]], [want.metrics[i][key]]);
        t.true(err <= 1e-5, `${prefer} step ${i} ${key}: ${got.metrics[i][key]} vs ${want.metrics[i][key]}`);
      }
    }
    // Over all parameters at once: AdamW divides each gradient by its own running scale, so a parameter whose
    // gradient is ~0 (a zero-initialised bias) may move by ±lr on either path; the scale is that of all weights.
    let diff = 0;
    let scale = 0;
    for (const [name, w] of want.params) {
      const v = got.params.get(name)!;
      for (let i = 0; i < w.length; i++) {
        diff = Math.max(diff, Math.abs(v[i] - w[i]));
        scale = Math.max(scale, Math.abs(w[i]));
      }
    }
    t.true(diff / scale <= 1e-5, `${prefer}: student parameters differ by ${diff} (scale ${scale})`);
    t.true(relativeError(got.teacher, want.teacher) <= 1e-5, `${prefer}: teacher (EMA) differs`);
  }
});
