// MODEL_CARD.md for an exported backbone, filled from the run's record: its row in the runs table, its metrics
// (wall time, throughput, the last collapse signals), the curated set's manifest (size, licences), the machine it was
// trained on (runs/<run>/machine.json) and its rows in the evals table beside the baselines. What was not recorded
// says so, for the person shipping the model to fill in.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Workspace } from '../../src/workspace.ts';
import type { ModelConfig } from '../../src/model/folder.ts';
import { reportGroups } from '../../src/evals.ts';
import type { MetricRow, RunRow } from '../../src/contracts/rows.ts';
import { jsonColumnOr, MetricValues, RunConfig } from '../../src/contracts/columns.ts';

const MISSING = '_(not recorded: fill in)_';


function licences(setDir: string | null): string {
  if (!setDir || !existsSync(join(setDir, 'manifest.jsonl'))) return MISSING;
  const counts = new Map<string, number>();
  let n = 0;
  for (const line of readFileSync(join(setDir, 'manifest.jsonl'), 'utf8').split('\n')) {
    if (!line.trim()) continue;
    n++;
    let lic = 'unknown';
    try {
      lic = (JSON.parse(line) as { licence?: string }).licence ?? 'unknown';
    } catch {
      /* a bad line counts as unknown */
    }
    counts.set(lic, (counts.get(lic) ?? 0) + 1);
  }
  return `${n} face crops; licences: ${[...counts].sort((a, b) => b[1] - a[1]).map(([l, c]) => `${l} ${c}`).join(', ')}`;
}

function duration(seconds: number): string {
  const m = Math.floor(seconds / 60);
  return m ? `${m} min ${Math.round(seconds % 60)} s` : `${seconds.toFixed(1)} s`;
}

export function modelCard(ws: Workspace | undefined, model: ModelConfig, sizes: Array<{ file: string; bytes: number }>): string {
  const run = model.source.run;
  const row = ws?.db.prepare<[string], Omit<RunRow, 'name'>>('SELECT data, config, backend, status, step, created_at, updated_at FROM runs WHERE name = ?').get(run);
  const steps = ws?.db.prepare<[string], Omit<MetricRow, 'run'>>('SELECT step, values_json, at FROM metrics WHERE run = ? ORDER BY step').all(run);
  // An unreadable config leaves the recipe blank; an unreadable metrics row counts as a step with no numbers.
  const cfg = row ? jsonColumnOr(RunConfig, row.config, null, `runs.config of run ${run}`) : null;
  let wall = MISSING;
  let compute = '';
  let last: Record<string, number | undefined> | undefined;
  if (steps?.length) {
    const batch = cfg?.batchSize ?? 0;
    let secs = 0;
    for (const s of steps) {
      const values = jsonColumnOr(MetricValues, s.values_json, {}, `metrics.values_json of run ${run}`);
      const v = Object.fromEntries(Object.entries(values).filter((e): e is [string, number] => typeof e[1] === 'number'));
      if (v.imgPerSec! > 0 && batch) secs += batch / v.imgPerSec!;
      last = v;
    }
    const first = Date.parse(`${row?.created_at.replace(' ', 'T')}Z`);
    const end = Date.parse(`${(row?.updated_at ?? '').replace(' ', 'T')}Z`);
    if (Number.isFinite(first) && Number.isFinite(end)) wall = `${duration((end - first) / 1000)} (the run's start to its last update, pauses included)`;
    if (secs) compute = `; ${duration(secs)} in training steps, ${((steps.length * batch) / secs).toFixed(1)} img/s`;
  }
  const machineFile = join(ws?.paths.runs ?? '', run, 'machine.json');
  let machine = MISSING;
  if (ws && existsSync(machineFile)) {
    const m = JSON.parse(readFileSync(machineFile, 'utf8')) as { cpu?: string; cores?: number; memoryGiB?: number; platform?: string; node?: string };
    machine = `${m.cores ?? '?'} × ${m.cpu ?? '?'}, ${m.memoryGiB ?? '?'} GiB, ${m.platform ?? '?'}, Node ${m.node ?? '?'}`;
  }

  const evals: string[] = [];
  // This model's own numbers, not pooled with runs of other seeds.
  for (const g of ws ? reportGroups(ws, [], { poolSeeds: false }) : []) {
    const pct = (v: number) => (g.task === 'landmarks' ? `${(v * 100).toFixed(2)}%` : `${(v * 100).toFixed(1)}%`);
    const cell = (e: (typeof g.entries)[number]) => `${pct(e.mean)}${e.seeds > 1 ? ` ± ${pct(e.std)}` : ''} (${e.seeds} seed${e.seeds > 1 ? 's' : ''})`;
    // Probes at different rate schedules are never pooled (src/evals.ts): one line per schedule of this model's rows,
    // beside the other backbones probed at that schedule (and the no-learning floors, which train no probe).
    for (const mine of g.entries.filter((e) => e.run === model.name)) {
      const peers = g.entries.filter((e) => e.run !== model.name && (!e.schedule || !mine.schedule || e.schedule === mine.schedule));
      const others = peers.map((e) => `${e.run} ${cell(e)}`).join('; ');
      const schedule = g.entries.some((e) => e.schedule && e.schedule !== mine.schedule) ? ` (${mine.schedule}-rate probe)` : '';
      evals.push(`| ${g.task} | ${g.dataset}${mine.pseudo ? ' (pseudo-labels)' : ''} | ${g.protocol}${schedule}, ${g.shots === null ? 'full' : `${g.shots}-shot`} | ${g.metric}${g.lowerIsBetter ? ' ↓' : ''} | ${cell(mine)} | ${others || '—'} |`);
    }
  }
  const v = model.vit;
  const recipe = (k: keyof RunConfig) => (cfg ? JSON.stringify(cfg[k]) : MISSING);
  const total = sizes.reduce((a, s) => a + s.bytes, 0);
  return [
    `# ${model.name}`,
    '',
    `The teacher ViT of the ProS run \`${run}\`, exported by \`pros export-model\` (pros ${model.source.version}, ${model.source.exportedAt}). ` +
      'Only the backbone: the DINO head and the prototypes are training-only and not included.',
    '',
    '## Model',
    `- ViT, preset \`${model.preset}\`: ${v.imageSize} px input, patch ${v.patch}, width ${v.width}, depth ${v.depth}, ${v.heads} heads, MLP ×${v.mlpRatio}, LayerNorm ε ${v.layerNormEps.toExponential()}.`,
    `- Input: RGB [N, ${v.imageSize}, ${v.imageSize}, 3] scaled to [0, 1], then (x − mean) / std with mean ${JSON.stringify(model.input.mean)}, std ${JSON.stringify(model.input.std)}; ${model.input.resize}.`,
    `- Outputs: \`cls\` [N, ${v.width}] is the face embedding (L2-normalise it for search); \`patches\` [N, ${(v.imageSize / v.patch) ** 2}, ${v.width}] are the patch tokens (landmark heads read these).`,
    `- Weights stored as ${model.weights.dtype}.`,
    '',
    '## Files',
    '| file | bytes | for |',
    '|---|---|---|',
    ...sizes.map((s) => `| ${s.file} | ${s.bytes.toLocaleString('en')} | ${s.file === 'model.json' || s.file.endsWith('.bin') ? 'tfjs: `tf.loadGraphModel`' : s.file === 'model.safetensors' ? "PyTorch: timm's VisionTransformer state dict" : 'pros, and people'} |`),
    `| total | ${total.toLocaleString('en')} | |`,
    '',
    '## Training',
    `- Run: \`${run}\`, ${model.source.step} of ${model.source.totalSteps} steps${row ? ` (status ${row.status})` : ''}.`,
    `- Data: ${row?.data ?? model.source.data ?? MISSING}; ${licences(row?.data ?? model.source.data)}.`,
    `- Recipe: batch ${recipe('batchSize')}, seed ${recipe('seed')}; optimiser ${recipe('optim')}; teacher ${recipe('teacher')}; ` +
      `distillation ${recipe('distill')}; prototypes ${recipe('proto')}; masked and dense patch terms ${recipe('ibot')}; position term ${recipe('position')}; head ${recipe('head')}; views ${recipe('views')}.`,
    `- Wall time: ${wall}${compute}.`,
    `- Machine: ${machine}; tensor backend ${row?.backend ?? MISSING}.`,
    last ? `- At the last step: loss ${last.loss?.toFixed(4)}, teacher entropy ${last.teacherEntropy?.toFixed(3)}, prototypes in use ${last.protosUsed}, feature std ${last.featureStd?.toExponential(2)}.` : '- Last step metrics: ' + MISSING,
    '',
    '## Held-out evaluation',
    ...(evals.length
      ? ['Main metric per task (`pros report`), mean ± std over seeds, beside what was evaluated on the same split:', '',
        '| task | data | protocol | metric | this model | others on the same split |', '|---|---|---|---|---|---|', ...evals]
      : [`No evaluation of \`${model.name}\` in the workspace: run \`pros eval … --run ${model.name}\` and export again. ${MISSING}`]),
    '',
    '## Licence and intended use',
    `- Weights: ${MISSING}. Training data licences are listed above; the crops themselves are not shipped.`,
    '- A face representation for attribute, expression and landmark heads and for similarity search within a collection ' +
      'the user is entitled to process. Not for identifying people: it was not trained or evaluated for that.',
    '',
    '## Loading',
    '```js',
    "const model = await tf.loadGraphModel('file://…/model.json'); // or any tfjs IOHandler, e.g. tf.io.fromMemory",
    "const cls = model.execute({ pixels: x }, 'cls');              // x: [N, S, S, 3], normalised as above",
    '```',
    '```python',
    'import timm, safetensors.torch',
    `m = timm.models.vision_transformer.VisionTransformer(img_size=${v.imageSize}, patch_size=${v.patch}, embed_dim=${v.width}, depth=${v.depth}, num_heads=${v.heads}, mlp_ratio=${v.mlpRatio}, qkv_bias=True, num_classes=0)`,
    "m.load_state_dict(safetensors.torch.load_file('model.safetensors')); m.eval()",
    'cls = m(x)  # x: [N, 3, S, S], normalised as above',
    '```',
    '',
  ].join('\n');
}
