// `pros train`, `pros embed` and `pros export-model`.
import { Option, type Command } from 'commander';
import { intArg, openContext, run, withCommonOptions, type CommonOptions } from '../src/command.ts';
import { InputError } from '../src/errors.ts';
import { defaults, loadConfig } from '../src/config.ts';
import { log, setLogLevel } from '../src/log.ts';
import { train } from './launcher.ts';
import { prosConfigOf } from './config.ts';
import { embedSet } from './embed.ts';
import { exportModel, type WeightDtype } from './export/export.ts';

interface TrainFlags extends CommonOptions {
  data: string;
  run: string;
  resume?: boolean;
  steps?: number;
  workers?: number;
}

export function register(program: Command): void {
  withCommonOptions(
    program
      .command('train')
      .description(
        'Pre-train a face representation with ProS (self-distillation + prototype matching) on a curated set. ' +
          '--config takes a preset (tiny | small | base) or the pros JSON config, whose "train" section is read ' +
          '(a bare training config is accepted too; see docs/training.md).',
      )
      .requiredOption('--data <set>', 'curated set: a folder with manifest.jsonl, or a set name in <workspace>/curated/')
      .requiredOption('--run <name>', 'run name: checkpoints and metrics go to <workspace>/runs/<name>/')
      .option('--resume', 'continue the run from its last checkpoint, exactly')
      .option('--steps <n>', 'total steps (overrides the config)', intArg(1))
      .option('--workers <n>', 'data-parallel worker threads (0: auto)', intArg(0)),
  ).action(async (flags: TrainFlags) => {
    if (flags.verbose) setLogLevel('debug');
    if (flags.json || flags.quiet) setLogLevel('warn');
    const ac = new AbortController();
    const onInt = () => {
      log.warn('interrupted: saving a checkpoint and stopping (Ctrl-C again to quit at once)');
      ac.abort();
    };
    process.once('SIGINT', onInt);
    await run(
      flags,
      async () => {
        // -c is the same ProsConfig file every command takes (its `train` section here), or a preset, or a bare TrainConfig.
        const pros = prosConfigOf(flags.config);
        const overrides: Record<string, unknown> = {};
        if (pros && pros.backend !== 'auto' && pros.train.backend === undefined) overrides.backend = pros.backend;
        if (flags.steps !== undefined) overrides.steps = flags.steps;
        if (flags.workers !== undefined) overrides.workers = flags.workers;
        const s = await train({
          data: flags.data,
          run: flags.run,
          config: flags.config ?? (flags.resume ? undefined : 'tiny'),
          workspace: flags.workspace ?? pros?.workspace ?? defaults.workspace,
          backend: flags.backend,
          resume: flags.resume,
          overrides,
          quiet: flags.quiet || flags.json,
          signal: ac.signal,
        });
        if (s.status === 'failed') process.exitCode = 1;
        // Stopped by Ctrl-C: saved and resumable, but not a finished run.
        if (s.status === 'stopped') process.exitCode = 130;
        return s;
      },
      (s) =>
        `${s.status}: run ${s.run}, step ${s.step}/${s.totalSteps}, loss ${s.firstLoss?.toFixed(4)} → ${s.lastLoss?.toFixed(4)}, ` +
        `${s.imgPerSec.toFixed(1)} img/s on ${s.backend} (${s.workers} worker${s.workers > 1 ? 's' : ''})` +
        (s.error ? `\n${s.error}` : '') +
        (s.warnings.length ? `\n${s.warnings.length} collapse warning(s), see ${s.metricsFile}` : '') +
        `\ncheckpoint: ${s.checkpoint}`,
    );
    process.off('SIGINT', onInt);
  });

  withCommonOptions(
    program
      .command('embed')
      .description("Write a run's teacher CLS embeddings of a curated set into the run's ANN index (index/runs/<run>)")
      .requiredOption('--run <name|dir>', 'trained run, or a model folder written by pros export-model (e.g. models/pros-tiny)')
      .requiredOption('--set <set>', 'curated set name (or folder)')
      .option('--batch <n>', 'crops per forward pass', intArg(1), 32),
  ).action(async (flags: CommonOptions & { run: string; set: string; batch: number }) => {
    if (flags.json || flags.quiet) setLogLevel('warn');
    await run(
      flags,
      async () => {
        let cfg;
        try {
          cfg = loadConfig(flags.config, flags.workspace ? { workspace: flags.workspace } : {});
        } catch (e) {
          throw new InputError((e as Error).message);
        }
        return embedSet({
          run: flags.run,
          set: flags.set,
          workspace: cfg.workspace,
          backend: flags.backend,
          index: cfg.index,
          batch: flags.batch,
          quiet: flags.quiet || flags.json,
        });
      },
      (s) =>
        `embedded ${s.embedded} crops of ${s.set} with run ${s.run} (${s.dim}-d); ${s.alreadyEmbedded} already there, ` +
        `${s.notInWorkspace} not faces of this workspace; index ${s.index} holds ${s.indexCount}`,
    );
  });

  withCommonOptions(
    program
      .command('export-model')
      .description(
        "Write a run's teacher backbone (the ViT, without the DINO head and prototypes) as a tfjs GraphModel " +
          '(model.json + weight shards, for tf.loadGraphModel), a safetensors copy in timm\'s VisionTransformer layout, ' +
          'config.json and MODEL_CARD.md',
      )
      .requiredOption('--run <name|dir>', 'trained run (workspace/runs/<name>), or a model folder to write again')
      .requiredOption('--out <dir>', 'output folder (created; an earlier export there is replaced)')
      .addOption(new Option('--dtype <type>', 'weight storage').choices(['float16', 'float32']).default('float16'))
      .option('--name <name>', "the model's name: its label in evals and its search space (default: the run's name)"),
  ).action(async (flags: CommonOptions & { run: string; out: string; dtype: WeightDtype; name?: string }) => {
    await run(
      flags,
      async () => {
        const { ws } = openContext(flags);
        try {
          return await exportModel({ ws, run: flags.run, out: flags.out, dtype: flags.dtype, name: flags.name });
        } finally {
          ws.close();
        }
      },
      (s) =>
        `exported ${s.run} as ${s.name} (${s.parameters.toLocaleString('en')} parameters, ${s.dtype}) to ${s.out}:\n` +
        s.files.map((f) => `  ${f.file.padEnd(24)} ${(f.bytes / 1024).toFixed(1).padStart(9)} KiB`).join('\n') +
        `\n  total ${(s.bytes / 1024 / 1024).toFixed(2)} MiB`,
    );
  });
}
