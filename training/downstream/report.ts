// `pros report`: the evals table as Markdown, one table per (task, dataset, protocol, shots), every run beside the
// baselines evaluated on the same split (random init, human's descriptor, majority class or mean shape), with the
// training ablation (distillation only / prototypes only / both) and length read from the runs table.
import type { Workspace } from '../../src/workspace.ts';
import { meanStd } from './metrics.ts';

const MAIN: Record<string, { metric: string; lower: boolean }> = {
  attributes: { metric: 'mean_accuracy', lower: false },
  expression: { metric: 'accuracy', lower: false },
  landmarks: { metric: 'nme', lower: true },
};
const BASELINES: Record<string, string> = {
  random: 'same ViT, random init',
  human: "human's 1024-d face descriptor (fixed)",
  majority: 'no learning: majority class',
  'mean-shape': 'no learning: mean training shape',
};

interface Row {
  id: number;
  run: string;
  task: string;
  dataset: string;
  protocol: string;
  shots: number | null;
  seed: number;
  metric: string;
  value: number;
  extra: string | null;
}

export interface ReportGroup {
  task: string;
  dataset: string;
  protocol: string;
  shots: number | null;
  metric: string;
  lowerIsBetter: boolean;
  entries: Array<{ run: string; about: string; mean: number; std: number; seeds: number; pseudo: boolean }>;
}

/** A stored evaluation row that could not be read, left out of the tables and reported beside them. */
export interface SkippedRow {
  id: number;
  reason: string;
}

/** Run and task names are data: looked up as own keys only ("constructor" is not a baseline). */
const own = <T>(table: Record<string, T>, key: string): T | undefined => (Object.hasOwn(table, key) ? table[key] : undefined);

/** Why a stored row cannot be used, or undefined when it can: a non-numeric value or an unreadable `extra`. */
function unreadable(r: Row): string | undefined {
  if (typeof r.value !== 'number' || !Number.isFinite(r.value)) return 'value is not a finite number';
  if (r.extra === null) return undefined;
  try {
    const extra: unknown = JSON.parse(r.extra);
    return typeof extra === 'object' && extra !== null && !Array.isArray(extra) ? undefined : 'extra is not a JSON object';
  } catch {
    return 'extra is not valid JSON';
  }
}

function describeRun(ws: Workspace, run: string): string {
  const baseline = own(BASELINES, run);
  if (baseline) return baseline;
  const r = ws.db.prepare('SELECT data, config, backend, step, status FROM runs WHERE name = ?').get(run) as
    | { data: string | null; config: string; backend: string | null; step: number; status: string }
    | undefined;
  if (!r) return 'run not in this workspace';
  let ablation = '';
  try {
    const c = JSON.parse(r.config) as { distill?: { enabled?: boolean }; proto?: { enabled?: boolean }; preset?: string };
    const d = c.distill?.enabled !== false, p = c.proto?.enabled !== false;
    ablation = `${d && p ? 'distill + proto' : d ? 'distillation only' : 'prototypes only'}, ${c.preset ?? '?'} ViT, `;
  } catch {
    /* an unreadable config still gets a row */
  }
  const data = r.data ? r.data.split('/').filter(Boolean).slice(-1)[0] : '?';
  return `${ablation}${r.step} steps on ${data} (${r.backend ?? '?'}, ${r.status})`;
}

/** The report's tables; rows that cannot be read are pushed to `skipped` (when given) instead of failing the report. */
export function reportGroups(ws: Workspace, skipped: SkippedRow[] = []): ReportGroup[] {
  const rows = ws.db.prepare('SELECT id, run, task, dataset, protocol, shots, seed, metric, value, extra FROM evals ORDER BY id').all() as Row[];
  // The latest value per (run, task, dataset, protocol, shots, seed, metric): re-running an evaluation replaces it.
  const latest = new Map<string, Row>();
  for (const r of rows) {
    const why = unreadable(r);
    if (why) skipped.push({ id: r.id, reason: why });
    else latest.set(JSON.stringify([r.run, r.task, r.dataset, r.protocol, r.shots, r.seed, r.metric]), r);
  }
  const groups = new Map<string, ReportGroup>();
  const values = new Map<string, { vals: number[]; pseudo: boolean }>();
  for (const r of latest.values()) {
    const main = own(MAIN, r.task);
    if (!main || r.metric !== main.metric) continue;
    const gk = JSON.stringify([r.task, r.dataset, r.protocol, r.shots]);
    if (!groups.has(gk)) {
      groups.set(gk, { task: r.task, dataset: r.dataset, protocol: r.protocol, shots: r.shots, metric: main.metric, lowerIsBetter: main.lower, entries: [] });
    }
    const vk = JSON.stringify([gk, r.run]);
    const v = values.get(vk) ?? { vals: [], pseudo: false };
    v.vals.push(r.value);
    if (r.extra && (JSON.parse(r.extra) as { pseudo?: boolean }).pseudo) v.pseudo = true;
    values.set(vk, v);
  }
  for (const [vk, v] of values) {
    const [gk, run] = JSON.parse(vk) as [string, string];
    const g = groups.get(gk)!;
    // A baseline evaluated alongside several runs appears once per seed per evaluation; its value is the same.
    const { mean, std } = meanStd(v.vals);
    g.entries.push({ run, about: describeRun(ws, run), mean, std, seeds: v.vals.length, pseudo: v.pseudo });
  }
  const out = [...groups.values()];
  for (const g of out) g.entries.sort((a, b) => (g.lowerIsBetter ? a.mean - b.mean : b.mean - a.mean));
  return out.sort((a, b) => [a.task, a.dataset, a.protocol].join() < [b.task, b.dataset, b.protocol].join() ? -1 : 1);
}

const fmt = (g: ReportGroup, v: number) => (g.task === 'landmarks' ? `${(v * 100).toFixed(2)}%` : `${(v * 100).toFixed(1)}%`);

export function report(ws: Workspace): string {
  const skipped: SkippedRow[] = [];
  const groups = reportGroups(ws, skipped);
  const note = skipped.length
    ? `\n> ${skipped.length} stored result${skipped.length === 1 ? '' : 's'} skipped: ${skipped.slice(0, 5).map((s) => `row ${s.id} (${s.reason})`).join(', ')}${skipped.length > 5 ? ', …' : ''}\n`
    : '';
  if (!groups.length) return `No evaluations yet: run \`pros eval attributes|expression|landmarks ...\` first.${note}`;
  const parts: string[] = [];
  for (const g of groups) {
    const shots = g.shots === null ? 'full' : `${g.shots}-shot`;
    const pseudo = g.entries.some((e) => e.pseudo) ? ' (pseudo-labels made by human, not ground truth)' : '';
    parts.push(`### ${g.task} · ${g.dataset} · ${g.protocol} · ${shots}${pseudo}\n`);
    parts.push(`| backbone | what it is | ${g.metric}${g.lowerIsBetter ? ' ↓' : ' ↑'} | seeds |`);
    parts.push('|---|---|---|---|');
    for (const e of g.entries) {
      const std = e.seeds > 1 ? ` ± ${fmt(g, e.std)}` : '';
      parts.push(`| ${e.run} | ${e.about} | ${fmt(g, e.mean)}${std} | ${e.seeds} |`);
    }
    parts.push('');
  }
  return parts.join('\n') + note;
}
