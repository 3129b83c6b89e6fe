// `pros report`: the evals table as Markdown, one table per (task, dataset, protocol, shots), every run beside the
// baselines evaluated on the same split (random init, human's descriptor, majority class or mean shape), with the
// training ablation (distillation only / prototypes only / both) and length read from the runs table. Runs that
// differ only by training seed are one row (mean ± std over every training × probe seed), random inits one row over
// init seeds. The tables themselves come from the evaluation read model on the floor (src/evals.ts), which the web
// shows too.
import type { Workspace } from '../../src/workspace.ts';
import { describeLeakage, entryName, reportGroups, type ReportGroup, type SkippedRow } from '../../src/evals.ts';

const fmt = (g: ReportGroup, v: number) => (g.task === 'landmarks' ? `${(v * 100).toFixed(2)}%` : `${(v * 100).toFixed(1)}%`);

export function report(ws: Workspace): string {
  const skipped: SkippedRow[] = [];
  const groups = reportGroups(ws, skipped);
  // Stored rows that could not be read are named under the tables rather than failing the report.
  const note = skipped.length
    ? `\n> ${skipped.length} stored result${skipped.length === 1 ? '' : 's'} skipped: ${skipped.slice(0, 5).map((s) => `row ${s.id} (${s.reason})`).join(', ')}${skipped.length > 5 ? ', …' : ''}\n`
    : '';
  if (!groups.length) return `No evaluations yet: run \`pros eval attributes|expression|landmarks ...\` first.${note}`;
  const parts: string[] = [];
  for (const g of groups) {
    const shots = g.shots === null ? 'full' : `${g.shots}-shot`;
    const pseudo = g.entries.some((e) => e.pseudo) ? ' (pseudo-labels made by human, not ground truth)' : '';
    parts.push(`### ${g.task} · ${g.dataset} · ${g.protocol} · ${shots}${pseudo}\n`);
    // n: the values pooled, probe seeds × training seeds (or × init seeds for random init).
    parts.push(`| backbone | what it is | ${g.metric}${g.lowerIsBetter ? ' ↓' : ' ↑'} | n |`);
    parts.push('|---|---|---|---|');
    for (const e of g.entries) {
      const std = e.seeds > 1 ? ` ± ${fmt(g, e.std)}` : '';
      parts.push(`| ${entryName(e)} | ${e.about} | ${fmt(g, e.mean)}${std} | ${e.seeds} |`);
    }
    const checked = g.entries.filter((e) => e.leakage?.checked);
    if (checked.length) parts.push('');
    // One line per row: pooled runs trained on the same data, so one check speaks for them (the worst one found).
    for (const e of checked) parts.push(`Test split vs ${entryName(e)}'s pre-training set: ${describeLeakage(e.leakage!)}.`);
    parts.push('');
  }
  return parts.join('\n') + note;
}
