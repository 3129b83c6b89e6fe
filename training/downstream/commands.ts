// `pros eval`, `pros synth`, `pros report` and `pros pseudolabel`: downstream evaluation of a run's teacher backbone
// against its baselines, labelled synthetic faces, the comparison table, and model-made labels on curated crops.
import { Command, Option } from 'commander';
import { floatArg, intArg, openContext, run, withCommonOptions, type CommonOptions } from '../../src/command.ts';
import { loadBackend } from '../../src/backend.ts';
import { installKernels } from '../kernels-hook.ts';
import { log } from '../../src/log.ts';
import { progress } from '../../src/progress.ts';
import { evaluate, type BackboneKind, type EvalSummary } from './evaluate.ts';
import type { ProbeSchedule } from './protocol.ts';
import { FORMATS, type Format, type TaskName } from './data.ts';
import { synthesize } from './synth/write.ts';
import { report } from './report.ts';
import { pseudolabel } from './readers/pseudo.ts';
import { describeLeakage } from '../../src/evals.ts';
import { resolveSetDir } from '../manifest.ts';

export { evaluate, synthesize, report, pseudolabel };
export { quickEvaluation } from './quick.ts';

interface EvalFlags extends CommonOptions {
  run?: string;
  data: string;
  format?: Format;
  backbone: BackboneKind;
  preset?: string;
  protocol: 'linear' | 'finetune';
  shots?: number;
  seeds?: number;
  epochs?: number;
  lr?: number;
  schedule?: ProbeSchedule;
  backboneLr?: number;
  batch?: number;
  hidden?: number;
  features: 'cls' | 'tokens';
  nme?: 'inter-ocular' | 'box-diagonal';
  maxTrain?: number;
  maxTest?: number;
}

export function describeSummary(s: EvalSummary): string {
  const pct = (v: number) => (s.task === 'landmarks' ? `${(v * 100).toFixed(2)}%` : `${(v * 100).toFixed(1)}%`);
  const pm = s.seeds > 1 ? ` ± ${pct(s.std)}` : '';
  return (
    `${s.task} on ${s.dataset} (${s.protocol}, ${s.shots === null ? 'full' : `${s.shots}-shot`}, ${s.seeds} seed${s.seeds > 1 ? 's' : ''}): ` +
    `${s.run} ${s.metric} ${pct(s.mean)}${pm} vs ${s.baseline.name} ${pct(s.baseline.mean)}` +
    ` — ${s.train} train / ${s.test} test images, ${s.seconds.toFixed(1)} s` +
    (s.failedImages ? `, ${s.failedImages} images unreadable` : '') +
    (s.missingFeatures ? `, no face found by human in ${s.missingFeatures}` : '') +
    (s.subsets ?? []).map((g) => `\n  ${g.dataset} (${g.test} test): ${s.run} ${pct(g.mean)}${s.seeds > 1 ? ` ± ${pct(g.std)}` : ''} vs ${g.baseline.name} ${pct(g.baseline.mean)}`).join('') +
    (s.leakage.checked ? `\npre-training set: ${describeLeakage(s.leakage)}` : '') +
    (s.pseudo ? '\nlabels are pseudo-labels made by human, not ground truth' : '')
  );
}

export function register(program: Command): void {
  withCommonOptions(
    program
      .command('eval')
      .description(
        "Evaluate a run's teacher backbone (or a baseline) on a face task: a head is trained on the dataset's train split " +
          'and scored on its test split; every metric row goes to the workspace evals table.',
      )
      .addArgument(new Command().createArgument('<task>', 'attributes | expression | landmarks').choices(['attributes', 'expression', 'landmarks']))
      .requiredOption('--data <dir>', 'dataset folder in a supported layout (CelebA, RAF-DB, AffectNet, 300W, WFLW; a pros synth or pros pseudolabel folder)')
      .option('--run <name|dir>', 'training run whose teacher is evaluated (workspace/runs/<name>), or a model folder written by pros export-model (e.g. models/pros-tiny); with --backbone random, whose architecture is copied')
      .addOption(new Option('--backbone <kind>', 'run: the trained teacher; random: same ViT at random init; human: human\'s 1024-d descriptor').choices(['run', 'random', 'human']).default('run'))
      .option('--preset <name>', 'ViT preset for --backbone random without --run (default: eval.preset, tiny)')
      .addOption(new Option('--format <name>', 'dataset layout (default: detected from the files)').choices([...FORMATS]))
      .addOption(new Option('--protocol <p>', 'linear: frozen backbone, cached features; finetune: backbone trained too, at a lower lr').choices(['linear', 'finetune']).default('linear'))
      .option('--shots <k>', 'few-shot: K labelled examples per class (K images for landmarks); default: the full train split', intArg(1))
      .option('--seeds <n>', 'repetitions with different draws and head inits (default: eval.seeds, 1 full, 3 few-shot)', intArg(1))
      .option('--epochs <n>', 'head training epochs (default: eval.linear.epochs 60, eval.finetune.epochs 8)', intArg(1))
      .option('--lr <x>', 'head learning rate (default: eval.linear.lr 3e-3, eval.finetune.lr 1e-3)', floatArg(0))
      .addOption(new Option('--schedule <s>', 'linear probe: cosine decays the head\'s learning rate to 0 over the epochs, constant keeps it (default: eval.linear.schedule, cosine)').choices(['cosine', 'constant']))
      .option('--backbone-lr <x>', 'fine-tune: backbone learning rate (default: lr × eval.finetune.backboneLrRatio, 0.1)', floatArg(0))
      .option('--batch <n>', 'batch size (default: eval.batch, 32)', intArg(1))
      .option('--hidden <n>', 'attributes/expression: hidden width of an MLP head (0: linear head; default: eval.hidden, 0)', intArg(0))
      .addOption(new Option('--features <f>', 'attributes/expression: the head reads the CLS token, or all patch tokens (stored as protocol "<p>:tokens")').choices(['cls', 'tokens']).default('cls'))
      .addOption(new Option('--nme <normaliser>', 'landmarks: NME normaliser (default: the dataset\'s; inter-ocular for 300W and WFLW)').choices(['inter-ocular', 'box-diagonal']))
      .option('--max-train <n>', 'use at most the first N training images', intArg(1))
      .option('--max-test <n>', 'use at most the first N test images', intArg(1)),
  ).action(async (task: TaskName, flags: EvalFlags) => {
    await run(
      flags,
      async () => {
        const { ws, config } = openContext(flags);
        const { tf, name } = await loadBackend(config.backend, { quiet: flags.quiet || flags.json });
        // The backbone's forward (features) and a fine-tune's backward are the same matmuls as training: same kernels.
        if (name === 'wasm') log.debug(`eval kernels: ${await installKernels(tf)}`);
        const bar = progress({ label: 'decode', total: 1, unit: 'images', silent: flags.quiet || flags.json });
        let shown = 0;
        try {
          return await evaluate({
            ws, tf, backend: name, task, data: flags.data, format: flags.format, run: flags.run, backbone: flags.backbone,
            preset: flags.preset, protocol: flags.protocol, shots: flags.shots, seeds: flags.seeds, epochs: flags.epochs,
            lr: flags.lr, schedule: flags.schedule, backboneLr: flags.backboneLr, batch: flags.batch, hidden: flags.hidden, config: config.eval,
            features: flags.features === 'tokens' ? 'patches' : 'cls', normaliser: flags.nme, maxTrain: flags.maxTrain, maxTest: flags.maxTest, log: (l) => log.info(l),
            onProgress: (done, total) => {
              bar.setTotal(total);
              bar.tick(done - shown);
              shown = done;
            },
          });
        } finally {
          bar.stop();
          ws.close();
        }
      },
      describeSummary,
    );
  });

  withCommonOptions(
    program
      .command('synth')
      .description(
        'Draw labelled synthetic faces offline (facesjs, rasterised by sharp): CelebA-style attributes, RAF-style ' +
          'expressions, 68-point .pts landmarks, and a manifest.jsonl + set.json for pros train.',
      )
      .requiredOption('--out <dir>', 'output folder')
      .option('--count <n>', 'number of faces', intArg(1), 500)
      .option('--size <px>', 'image side in pixels', intArg(16), 64)
      .option('--seed <n>', 'random seed', intArg(0), 0)
      .option('--test-fraction <x>', 'fraction of faces in the test split', floatArg(0, 0.9), 0.2)
      .option('--rotate <deg>', 'largest in-plane rotation', floatArg(0, 45), 6)
      .option('--zoom <x>', 'largest relative zoom change', floatArg(0, 0.5), 0.05)
      .option('--shift <x>', 'largest shift, fraction of the side', floatArg(0, 0.3), 0.03),
  ).action(async (flags: CommonOptions & { out: string; count: number; size: number; seed: number; testFraction: number; rotate: number; zoom: number; shift: number }) => {
    const bar = progress({ label: 'synth', total: flags.count, unit: 'faces', silent: flags.quiet || flags.json });
    await run(
      flags,
      async () => {
        const s = await synthesize({ ...flags, onProgress: () => bar.tick() });
        bar.stop();
        return s;
      },
      (s) => `${s.count} faces (${s.train} train, ${s.test} test) at ${s.size} px in ${s.out}, ${s.seconds.toFixed(1)} s\n` +
        `expressions: ${Object.entries(s.expressions).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    );
  });

  withCommonOptions(
    program
      .command('report')
      .description('Print the comparison of evaluated runs and baselines (Markdown), from the workspace evals table'),
  ).action(async (flags: CommonOptions) => {
    await run(
      flags,
      async () => {
        const { ws } = openContext(flags);
        try {
          return { markdown: report(ws) };
        } finally {
          ws.close();
        }
      },
      (r) => r.markdown,
    );
  });

  withCommonOptions(
    program
      .command('pseudolabel')
      .description(
        "Label a curated set's crops with human's emotion and face mesh (68 points), in the RAF-DB and 300W layouts: " +
          'a second real-data check. These labels are made by a model, not ground truth.',
      )
      .requiredOption('--set <set>', 'curated set: a folder with manifest.jsonl, or a set name in <workspace>/curated/')
      .requiredOption('--out <dir>', 'output folder')
      .option('--test-fraction <x>', 'fraction of crops in the test split', floatArg(0.05, 0.9), 0.3),
  ).action(async (flags: CommonOptions & { set: string; out: string; testFraction: number }) => {
    await run(
      flags,
      async () => {
        const { ws } = openContext(flags);
        const set = resolveSetDir(flags.set, ws.paths.curated);
        ws.close();
        const bar = progress({ label: 'pseudolabel', total: 1, unit: 'crops', silent: flags.quiet || flags.json });
        const s = await pseudolabel({ set, out: flags.out, testFraction: flags.testFraction, onProgress: (_d, t) => { bar.setTotal(t); bar.tick(); } });
        bar.stop();
        return s;
      },
      (s) => `${s.labelled} of ${s.crops} crops labelled by human (no face: ${s.noFace}) in ${s.out} — pseudo-labels, not ground truth\n` +
        `emotions: ${Object.entries(s.emotions).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    );
  });
}
