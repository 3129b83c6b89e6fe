// Per-step metrics: into the workspace database (runs, metrics) and a JSONL beside the checkpoints, and a watch
// for the signs of collapse (PROS.md): one dominant output, a flat output, one prototype, features all alike.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import type { DB } from '../src/workspace.ts';
import type { TrainConfig } from './config.ts';
import type { StepMetrics } from './trainer.ts';
import { writeFileAtomic } from '../src/atomic.ts';

export type LoggedMetrics = StepMetrics & { imgPerSec: number; collapse?: string };

export class MetricsLog {
  private insert;

  constructor(readonly db: DB, readonly run: string, readonly file: string) {
    this.insert = db.prepare('INSERT OR REPLACE INTO metrics(run, step, values_json) VALUES (?, ?, ?)');
  }

  /** On resume: drops lines past the checkpoint's step, which the resumed run will write again. */
  truncate(fromStep: number): void {
    if (!existsSync(this.file)) return;
    const keep = readFileSync(this.file, 'utf8')
      .split('\n')
      .filter((l) => l.trim() && (JSON.parse(l) as { step: number }).step < fromStep);
    writeFileAtomic(this.file, keep.map((l) => l + '\n').join(''));
    this.db.prepare('DELETE FROM metrics WHERE run = ? AND step >= ?').run(this.run, fromStep);
  }

  write(m: LoggedMetrics): void {
    const json = JSON.stringify(m, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v));
    appendFileSync(this.file, json + '\n');
    this.insert.run(this.run, m.step, json);
  }
}

/** A description of the collapse the metrics show, or null. */
export function collapseSigns(m: StepMetrics, cfg: TrainConfig): string | null {
  const signs: string[] = [];
  if (cfg.distill.enabled) {
    const logK = Math.log(cfg.head.outputs);
    if (m.teacherEntropy < cfg.collapse.minEntropyRatio * logK) {
      signs.push(`teacher entropy ${m.teacherEntropy.toFixed(3)} ≪ log K ${logK.toFixed(2)}: one output dominates`);
    }
    if (m.teacherEntropy > cfg.collapse.maxEntropyRatio * logK && m.teacherStudentKl < cfg.collapse.minKl) {
      signs.push(`teacher entropy ≈ log K with KL ${m.teacherStudentKl.toExponential(1)}: the output is flat`);
    }
  }
  if (cfg.proto.enabled && m.protosUsed <= 1) signs.push('one prototype takes every image');
  if (m.featureStd * Math.sqrt(cfg.vit.width) < cfg.collapse.minFeatureStd) {
    signs.push(`feature std ${m.featureStd.toExponential(2)}: features are all alike`);
  }
  return signs.length ? signs.join('; ') : null;
}
