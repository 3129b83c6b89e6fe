// The demo's closing table: a small synthetic set at the run's input size, linear probes (expression on the patch
// tokens, landmarks) for the run, any exported models beside it (the shipped models/pros-tiny) and the same ViT at
// random init, then the workspace's report.
// About a minute on two CPU cores with the tiny preset: features are computed once and shared between the tasks.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Tf } from '../../src/backend.ts';
import type { Workspace } from '../../src/workspace.ts';
import { resolveBackbone } from '../backbone.ts';
import { evaluate, type EvalSummary } from './evaluate.ts';
import { synthesize } from './synth/write.ts';
import { report } from './report.ts';

export interface QuickOptions {
  ws: Workspace;
  tf: Tf;
  backend: string;
  /** The run (a name, or a model folder) whose architecture the random-init baseline copies. */
  run: string;
  /** Further backbones evaluated beside it (exported model folders of the same input size). */
  models?: string[];
  /** Synthetic faces drawn (80 % train). */
  count?: number;
  log?: (line: string) => void;
}

export async function quickEvaluation(o: QuickOptions): Promise<{ summaries: EvalSummary[]; markdown: string }> {
  const size = resolveBackbone(o.run, o.ws.paths.runs).vit.imageSize;
  const data = join(o.ws.root, 'synthetic', `eval-${size}px`);
  if (!existsSync(join(data, 'set.json'))) await synthesize({ out: data, count: o.count ?? 200, size, seed: 1 });
  const summaries: EvalSummary[] = [];
  const entries = [...[o.run, ...(o.models ?? [])].map((run) => ({ run, backbone: 'run' as const })), { run: o.run, backbone: 'random' as const }];
  for (const { run, backbone } of entries) {
    summaries.push(await evaluate({ ...o, run, task: 'expression', data, backbone, features: 'patches' }));
    summaries.push(await evaluate({ ...o, run, task: 'landmarks', data, backbone }));
  }
  return { summaries, markdown: report(o.ws) };
}
