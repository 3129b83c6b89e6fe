// The shipped `tiny` recipe, exactly as shipped (only the run length is set): a short run on drawn faces moves the
// parameters and shows none of the collapse signs of PROS.md — a uniform or one-hot teacher, prototypes falling out
// of use, features drawing together. The old DINO-at-batch-1024 defaults fail it (uniform teacher, 2–4 prototypes).
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { presets } from '../../training/config.ts';
import { train } from '../../training/launcher.ts';
import type { StepMetrics } from '../../training/trainer.ts';
import { synthesize } from '../../training/downstream/synth/write.ts';

const STEPS = 60;

test('tiny defaults: 60 steps on 320 drawn faces learn without collapse', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'pros-recipe-'));
  const data = join(root, 'synth');
  await synthesize({ out: data, count: 320, seed: 7, testFraction: 0 });
  const steps: StepMetrics[] = [];
  const s = await train({ data, run: 'recipe', workspace: join(root, 'ws'), quiet: true, overrides: { steps: STEPS }, onStep: (m) => steps.push(m) });
  t.is(s.status, 'done');
  t.is(steps.length, STEPS);
  t.true(steps.every((m) => Number.isFinite(m.loss)), 'every loss finite');
  t.deepEqual(s.warnings, [], 'no collapse warning from the launcher');

  const cfg = presets.tiny;
  const logK = Math.log(cfg.head.outputs);
  const tail = steps.slice(-10);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  // The parameters move: the peak rate is the recipe's, not batch/256 × 5e-4.
  t.true(Math.abs(Math.max(...steps.map((m) => m.lr)) - cfg.optim.baseLr) < 1e-9);
  const entropy = mean(tail.map((m) => m.teacherEntropy));
  t.true(entropy < 0.95 * logK, `teacher not uniform: entropy ${entropy.toFixed(2)} of ${logK.toFixed(2)}`);
  t.true(entropy > 0.05 * logK, `teacher not one-hot: entropy ${entropy.toFixed(2)}`);
  const used = Math.min(...tail.map((m) => m.protosUsed));
  t.true(used >= 8, `prototypes in use at every late step: at least ${used} of ${cfg.proto.count}`);
  const early = mean(steps.slice(0, 10).map((m) => m.featureStd));
  const late = mean(tail.map((m) => m.featureStd));
  t.true(late >= 0.9 * early, `features do not draw together: std ${early.toFixed(4)} → ${late.toFixed(4)}`);
  t.true(tail.every((m) => m.koleo > 0), 'the KoLeo term is on');
});
