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

function describeRun(ws: Workspace, run: string): string {
  if (BASELINES[run]) return BASELINES[run]!;
  const r = ws.db.prepare('SELECT data, config, backend, step, status FROM runs WHERE name = ?').get(run) as
    | { data: string | null; config: string; backend: string | null; step: number; status: string }
    | undefined;
  if (!r) {
    // An exported model (pros eval --run DIR) records what it is with its results.
    const extra = ws.db.prepare(`SELECT extra FROM evals WHERE run = ? AND extra LIKE '%"model":%' ORDER BY id DESC LIMIT 1`).pluck().get(run) as string | undefined;
    const m = extra ? (JSON.parse(extra) as { model?: { preset?: string; run?: string; step?: number } }).model : undefined;
    return m ? `exported model: ${m.preset ?? '?'} ViT, ${m.step ?? '?'} steps of run ${m.run ?? '?'}` : 'run not in this workspace';
  }
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

export function reportGroups(ws: Workspace): ReportGroup[] {
  const rows = ws.db.prepare('SELECT id, run, task, dataset, protocol, shots, seed, metric, value, extra FROM evals ORDER BY id').all() as Row[];
  // The latest value per (run, task, dataset, protocol, shots, seed, metric): re-running an evaluation replaces it.
  const latest = new Map<string, Row>();
  for (const r of rows) latest.set(JSON.stringify([r.run, r.task, r.dataset, r.protocol, r.shots, r.seed, r.metric]), r);
  const groups = new Map<string, ReportGroup>();
  const values = new Map<string, { vals: number[]; pseudo: boolean }>();
  for (const r of latest.values()) {
    const main = MAIN[r.task];
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
  const groups = reportGroups(ws);
  if (!groups.length) return 'No evaluations yet: run `pros eval attributes|expression|landmarks ...` first.';
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
  return parts.join('\n');
}
