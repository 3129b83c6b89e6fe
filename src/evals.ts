// The evaluation read model: how the evals table is read back, shared by `pros report` (training/downstream/
// report.ts) and the web's /api/evals, so both show the same numbers and the web needs no training code. The latest
// value per (run, task, dataset, protocol, shots, seed, metric) counts: re-running an evaluation replaces it.
import type { Workspace } from './workspace.ts';
import type { EvalRow, RunRow } from './contracts/rows.ts';
import { EvalExtra, jsonColumnOr, readJsonColumn, RunConfig, type Leakage } from './contracts/columns.ts';

/** The headline metric per task, and whether lower is better. */
export const MAIN: Record<string, { metric: string; lower: boolean }> = {
  attributes: { metric: 'mean_accuracy', lower: false },
  expression: { metric: 'accuracy', lower: false },
  landmarks: { metric: 'nme', lower: true },
};

/** What each baseline name in the evals table stands for. */
export const BASELINES: Record<string, string> = {
  random: 'same ViT, random init',
  human: "human's 1024-d face descriptor (fixed)",
  majority: 'no learning: majority class',
  'mean-shape': 'no learning: mean training shape',
};

/** One row of the evals table (its one type, from the row contracts). */
export type { EvalRow } from './contracts/rows.ts';

/** The pre-training overlap check stored with an evaluation (`extra.leakage`); its schema is the evals.extra column's. */
export type { Leakage } from './contracts/columns.ts';

export interface ReportEntry {
  run: string;
  about: string;
  mean: number;
  std: number;
  seeds: number;
  pseudo: boolean;
  /** The evaluated run's pre-training overlap check (baselines carry none). */
  leakage?: Leakage;
}

/** One table of `pros report`: a (task, dataset, protocol, shots) setting, its main metric, entries best first. */
export interface ReportGroup {
  task: string;
  dataset: string;
  protocol: string;
  shots: number | null;
  metric: string;
  lowerIsBetter: boolean;
  entries: ReportEntry[];
}

/** Every metric of a run (or baseline) in a setting, over seeds. */
export interface EvalCell {
  run: string;
  task: string;
  dataset: string;
  protocol: string;
  shots: number | null;
  metric: string;
  mean: number;
  std: number;
  seeds: number;
  at: string;
}

/** Mean and sample standard deviation (0 for a single value): the one spread every evaluation view reports. */
export function meanStd(values: number[]): { mean: number; std: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const v = values.length > 1 ? values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1) : 0;
  return { mean, std: Math.sqrt(v) };
}

/** A stored evaluation row that could not be read, left out of the tables and reported beside them. */
export interface SkippedRow {
  id: number;
  reason: string;
}

/** Run and task names are data: looked up as own keys only ("constructor" is not a baseline). */
const own = <T>(table: Record<string, T>, key: string): T | undefined => (Object.hasOwn(table, key) ? table[key] : undefined);

/** Why a stored row cannot be used, or undefined when it can: a non-numeric value or an unreadable `extra`. */
function unreadable(r: EvalRow): string | undefined {
  if (typeof r.value !== 'number' || !Number.isFinite(r.value)) return 'value is not a finite number';
  const extra = readJsonColumn(EvalExtra, r.extra);
  return extra.ok ? undefined : `extra is ${extra.reason}`;
}

/** The `extra` of a row latestEvals kept (so readable). */
const extraOf = (r: EvalRow): EvalExtra => jsonColumnOr(EvalExtra, r.extra, {}, `evals.extra of row ${r.id}`);

/**
 * The evals table with re-runs replaced: the latest row per (run, task, dataset, protocol, shots, seed, metric).
 * A workspace may have been shared or edited: rows that cannot be read are pushed to `skipped` and left out.
 */
export function latestEvals(ws: Workspace, skipped: SkippedRow[] = []): EvalRow[] {
  const rows = ws.db
    .prepare<[], EvalRow>('SELECT id, run, task, dataset, protocol, shots, seed, metric, value, extra, at FROM evals ORDER BY id')
    .all();
  const latest = new Map<string, EvalRow>();
  for (const r of rows) {
    const why = unreadable(r);
    if (why) skipped.push({ id: r.id, reason: why });
    else latest.set(JSON.stringify([r.run, r.task, r.dataset, r.protocol, r.shots, r.seed, r.metric]), r);
  }
  return [...latest.values()];
}

/** One line on what a run (or baseline) is: its training ablation, size, length, data and backend. */
export function describeRun(ws: Workspace, run: string): string {
  const baseline = own(BASELINES, run);
  if (baseline) return baseline;
  const r = ws.db
    .prepare<[string], Pick<RunRow, 'data' | 'config' | 'backend' | 'step' | 'status'>>('SELECT data, config, backend, step, status FROM runs WHERE name = ?')
    .get(run);
  if (!r) {
    // An exported model (pros eval --run DIR) records what it is with its results.
    const extra = ws.db.prepare<[string], string>(`SELECT extra FROM evals WHERE run = ? AND extra LIKE '%"model":%' ORDER BY id DESC LIMIT 1`).pluck().get(run);
    const m = jsonColumnOr(EvalExtra, extra ?? null, null, `evals.extra of ${run}`)?.model;
    const str = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v).slice(0, 120) : '?');
    return m ? `exported model: ${str(m.preset)} ViT, ${str(m.step)} steps of run ${str(m.run)}` : 'run not in this workspace';
  }
  const c = jsonColumnOr(RunConfig, r.config, null, `runs.config of run ${run}`);
  // An unreadable config still gets a row, without the ablation.
  const terms = c && `${c.distill.enabled && c.proto.enabled ? 'distill + proto' : c.distill.enabled ? 'distillation only' : 'prototypes only'}${c.ibot.weight > 0 ? ' + iBOT' : ''}`;
  const ablation = c ? `${terms}, ${c.preset} ViT, ` : '';
  const data = r.data ? r.data.split('/').filter(Boolean).slice(-1)[0] : '?';
  return `${ablation}${r.step} steps on ${data} (${r.backend ?? '?'}, ${r.status})`;
}

/**
 * The tables of `pros report`: the main metric per setting, every run beside its baselines, best first. Rows that
 * cannot be read are pushed to `skipped` (when given) instead of failing the report.
 */
export function reportGroups(ws: Workspace, skipped: SkippedRow[] = []): ReportGroup[] {
  const groups = new Map<string, ReportGroup>();
  const values = new Map<string, { vals: number[]; pseudo: boolean; leakage?: Leakage }>();
  for (const r of latestEvals(ws, skipped)) {
    const main = own(MAIN, r.task);
    if (!main || r.metric !== main.metric) continue;
    const gk = JSON.stringify([r.task, r.dataset, r.protocol, r.shots]);
    if (!groups.has(gk)) {
      groups.set(gk, { task: r.task, dataset: r.dataset, protocol: r.protocol, shots: r.shots, metric: main.metric, lowerIsBetter: main.lower, entries: [] });
    }
    const vk = JSON.stringify([gk, r.run]);
    const v = values.get(vk) ?? { vals: [], pseudo: false };
    v.vals.push(r.value);
    const extra = extraOf(r);
    if (extra.pseudo) v.pseudo = true;
    // The pre-training check belongs to the evaluated run, not to the baselines stored beside it.
    if (extra.leakage && !BASELINES[r.run]) v.leakage = extra.leakage;
    values.set(vk, v);
  }
  for (const [vk, v] of values) {
    const [gk, run] = JSON.parse(vk) as [string, string];
    const g = groups.get(gk)!;
    // A baseline evaluated alongside several runs appears once per seed per evaluation; its value is the same.
    const { mean, std } = meanStd(v.vals);
    g.entries.push({ run, about: describeRun(ws, run), mean, std, seeds: v.vals.length, pseudo: v.pseudo, ...(v.leakage ? { leakage: v.leakage } : {}) });
  }
  const out = [...groups.values()];
  for (const g of out) g.entries.sort((a, b) => (g.lowerIsBetter ? a.mean - b.mean : b.mean - a.mean));
  return out.sort((a, b) => [a.task, a.dataset, a.protocol].join() < [b.task, b.dataset, b.protocol].join() ? -1 : 1);
}

/** Every metric logged, per run (or baseline) and setting, over seeds; ordered by setting, metric and run. */
export function evalTable(ws: Workspace): EvalCell[] {
  const cells = new Map<string, { cell: Omit<EvalCell, 'mean' | 'std' | 'seeds'>; values: number[] }>();
  for (const r of latestEvals(ws)) {
    const key = JSON.stringify([r.task, r.dataset, r.protocol, r.shots ?? -1, r.metric, r.run]);
    const c = cells.get(key) ?? { cell: { run: r.run, task: r.task, dataset: r.dataset, protocol: r.protocol, shots: r.shots, metric: r.metric, at: r.at }, values: [] };
    c.values.push(r.value);
    if (r.at > c.cell.at) c.cell.at = r.at;
    cells.set(key, c);
  }
  const order = (c: Omit<EvalCell, 'mean' | 'std' | 'seeds'>) => [c.task, c.dataset, c.protocol, c.shots ?? -1, c.metric, c.run] as const;
  return [...cells.values()]
    .map(({ cell, values }) => ({ ...cell, ...meanStd(values), seeds: values.length }))
    .sort((a, b) => {
      const x = order(a), y = order(b);
      for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
      return 0;
    });
}

/** One line for the report and the summary. */
export function describeLeakage(l: Leakage): string {
  if (!l.checked) return `not checked: ${l.reason}`;
  const o = l.overlaps ?? [];
  const rule = `dHash ≤ ${l.maxDistance}, thumbnail correlation ≥ ${l.minCorrelation}`;
  if (!o.length) return `no overlap with the pre-training set found (${rule}; ${l.testImages} test images against ${l.trainImages} pre-training crops)`;
  const shown = o.slice(0, 5).map((x) => `${x.test} ≈ ${x.train} (${x.distance})`).join('; ');
  return `${o.length} of ${l.testImages} test images overlap the pre-training set (${rule}): ${shown}${o.length > 5 ? '; …' : ''}`;
}
