// Ablations: each loss term can be switched off, and a run with one term trains without touching the parameters
// only the other term reaches (the prototypes serve L_proto alone, the head's last layer L_distill and the patch terms).
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBackend } from '../../src/backend.ts';
import { train } from '../../training/launcher.ts';
import { loadCheckpoint } from '../../training/checkpoint.ts';
import { resolveTrainConfig } from '../../training/config.ts';
import { buildModel, modelTensors } from '../../training/trainer.ts';
import { LAST_LAYER } from '../../training/head.ts';
import { makeSet, testOverrides } from './_fixtures.ts';

const root = mkdtempSync(join(tmpdir(), 'pros-ablation-'));
const data = await makeSet(join(root, 'set'), 16);

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);

const noPatchTerms = { ibot: { weight: 0, denseWeight: 0 } };
const last = `student.${LAST_LAYER}`;
for (const [label, off, untouched, trained] of [
  ['distillation only (prototype term off)', { proto: { ...testOverrides.proto, enabled: false } }, 'proto.C', last],
  ['prototypes only (distillation and patch terms off)', { distill: { enabled: false }, ...noPatchTerms }, last, 'proto.C'],
  // The dense term reads the head's outputs too, so without L_distill it still trains the last layer (it was frozen).
  ['prototypes and the dense term (distillation off)', { distill: { enabled: false } }, null, last],
] as const) {
  test.serial(label, async (t) => {
    const overrides = { ...testOverrides, steps: 3, ...off };
    const s = await train({ data, run: 'a', workspace: join(root, label.replace(/\W+/g, '-')), quiet: true, overrides });
    t.is(s.status, 'done', s.error);
    t.true(s.lastLoss !== null && Number.isFinite(s.lastLoss));
    // The initial weights, rebuilt from the same seed, against the trained ones.
    const { tf } = await loadBackend('wasm', { quiet: true });
    const initial = await modelTensors(buildModel(tf, resolveTrainConfig(undefined, overrides)));
    const after = loadCheckpoint(s.runDir).tensors;
    const moved = (k: string) => maxDiff(initial.get(k)!.data, after.get(k)!.data);
    if (untouched) t.is(moved(untouched), 0, `${untouched} unchanged`);
    t.true(moved(trained) > 0, `${trained} trained`);
    const learned = [...initial.keys()].filter((k) => k.startsWith('student.') && k !== untouched);
    t.true(learned.some((k) => moved(k) > 0), 'the student learns');
  });
}
