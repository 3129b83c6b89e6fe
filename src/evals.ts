// The evaluation read model: how the evals table is read back, shared by `pros report` (training/downstream/
// report.ts) and the web's /api/evals, so both show the same numbers and the web needs no training code. The latest
// value per (run, task, dataset, protocol, shots, seed, init seed, architecture, metric) counts: re-running an
// evaluation replaces it. The report pools runs that differ only by their training seed into one row, and random
// inits of one architecture over init seeds; it never pools linear probes trained at different rate schedules.
import type { Workspace } from './workspace.ts';
import type { EvalRow, RunRow } from './contracts/rows.ts';
import { EvalExtra, jsonColumnOr, readJsonColumn, RunConfig, type Leakage } from './contracts/columns.ts';
import { defaults } from './config.ts';
import { positionOn } from './contracts/config.ts';

/** The headline metric per task, and whether lower is better. */
export const MAIN: Record<string, { metric: string; lower: boolean }> = {
  attributes: { metric: 'mean_accuracy', lower: false },
  expression: { metric: 'accuracy', lower: false },
  landmarks: { metric: 'nme', lower: true },
};

/** The no-learning floors: rows that train nothing, so no probe schedule or architecture splits them. */
export const FLOORS: Record<string, string> = {
  majority: 'no learning: majority class',
  'mean-shape': 'no learning: mean training shape',
};

/** What each baseline name in the evals table stands for. */
export const BASELINES: Record<string, string> = {
  random: 'same ViT, random init',
  human: "human's 1024-d face descriptor (fixed)",
  ...FLOORS,
};

/** One row of the evals table (its one type, from the row contracts). */
export type { EvalRow } from './contracts/rows.ts';

/** The pre-training overlap check stored with an evaluation (`extra.leakage`); its schema is the evals.extra column's. */
export type { Leakage } from './contracts/columns.ts';

export interface ReportEntry {
  /** The run or baseline; for runs pooled over training seeds, the lowest-seed run evaluated in this setting. */
  run: string;
  about: string;
  mean: number;
  std: number;
  /** How many values the mean pools: probe seeds × training seeds (pooled runs) or × init seeds (random). */
  seeds: number;
  /** Runs whose stored configs differ only by `seed` (same data, same steps), pooled here; lowest seed first. */
  runs?: string[];
  /** `random`: the init seeds pooled (a run's random init uses that run's seed). */
  initSeeds?: number[];
  /** `random`: the ViT initialised, where recorded (random inits of different architectures are separate rows). */
  architecture?: string;
  /** A linear probe's learning-rate schedule (rows stored before it was recorded: constant); probes at different schedules are separate rows. */
  schedule?: string;
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
  /** `random`: the ViT initialised, where recorded. */
  architecture?: string;
  /** A linear probe's learning-rate schedule (constant where not recorded). */
  schedule?: string;
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

/** The `extra` of a stored row, or why the row cannot be used: a non-numeric value or an unreadable `extra`. */
function readRow(r: EvalRow): { ok: true; extra: EvalExtra } | { ok: false; reason: string } {
  if (typeof r.value !== 'number' || !Number.isFinite(r.value)) return { ok: false, reason: 'value is not a finite number' };
  const extra = readJsonColumn(EvalExtra, r.extra);
  return extra.ok ? { ok: true, extra: extra.value ?? {} } : { ok: false, reason: `extra is ${extra.reason}` };
}

/** The `extra` of a row latestEvals kept (so readable). */
const extraOf = (r: EvalRow): EvalExtra => jsonColumnOr(EvalExtra, r.extra, {}, `evals.extra of row ${r.id}`);

/** The seed a random-init row's ViT was initialised with; rows stored before it was recorded were seed 0. */
export const initSeedOf = (extra: EvalExtra): number => extra.initSeed ?? 0;

/** A random init's architecture, where its row recorded one ('' otherwise, and for every other row). */
const architectureOf = (extra: EvalExtra): string => extra.architecture ?? '';

/**
 * A linear probe's rate schedule: what its row recorded, else constant (the only one before it was recorded). ''
 * for fine-tuning and for the no-learning floors, which train no probe.
 */
export function scheduleOf(r: Pick<EvalRow, 'run' | 'protocol'>, extra: EvalExtra): string {
  if (!r.protocol.startsWith('linear') || own(FLOORS, r.run) !== undefined) return '';
  return extra.schedule ?? 'constant';
}

/**
 * The evals table with re-runs replaced: the latest row per (run, task, dataset, protocol, shots, seed, init seed,
 * architecture, metric). A workspace may have been shared or edited: rows that cannot be read are pushed to `skipped`
 * and left out.
 */
export function latestEvals(ws: Workspace, skipped: SkippedRow[] = []): EvalRow[] {
  const rows = ws.db
    .prepare<[], EvalRow>('SELECT id, run, task, dataset, protocol, shots, seed, metric, value, extra, at FROM evals ORDER BY id')
    .all();
  const latest = new Map<string, EvalRow>();
  for (const r of rows) {
    const read = readRow(r);
    if (!read.ok) skipped.push({ id: r.id, reason: read.reason });
    else latest.set(JSON.stringify([r.run, r.task, r.dataset, r.protocol, r.shots, r.seed, initSeedOf(read.extra), architectureOf(read.extra), r.metric]), r);
  }
  return [...latest.values()];
}

/** A run's place among runs that differ from it only by the training seed. */
interface SeedGroup {
  /** Names the group (its lowest-seed run): runs with the same key are pooled. */
  key: string;
  seed: number;
}

/**
 * Runs whose stored configs are equal but for `seed`, trained on the same data for the same number of steps, are
 * one recipe over seeds. A run with an unreadable config, or not in the runs table (a baseline, an exported model),
 * is a group of its own.
 */
export function seedGroups(ws: Workspace): Map<string, SeedGroup> {
  const rows = ws.db.prepare<[], Pick<RunRow, 'name' | 'data' | 'config' | 'step'>>('SELECT name, data, config, step FROM runs').all();
  const recipes = new Map<string, Array<{ name: string; seed: number }>>();
  for (const r of rows) {
    // Parsed, so a config stored before a key existed compares with its default (key order is the schema's).
    const parsed = RunConfig.safeParse(jsonColumnOr(RunConfig, r.config, null, `runs.config of run ${r.name}`));
    const { seed, ...rest } = parsed.success ? parsed.data : { seed: 0 };
    const recipe = parsed.success ? JSON.stringify([r.data, r.step, rest]) : JSON.stringify(['run', r.name]);
    recipes.set(recipe, [...(recipes.get(recipe) ?? []), { name: r.name, seed }]);
  }
  const out = new Map<string, SeedGroup>();
  for (const members of recipes.values()) {
    members.sort((a, b) => a.seed - b.seed || (a.name < b.name ? -1 : 1));
    for (const m of members) out.set(m.name, { key: members[0]!.name, seed: m.seed });
  }
  return out;
}

/** The row name `pros report` prints: "r6 (3 seeds: r6, r6s1, r6s2)" for pooled runs, else the run. */
export function entryName(e: Pick<ReportEntry, 'run' | 'runs'>): string {
  return e.runs && e.runs.length > 1 ? `${e.run} (${e.runs.length} seeds: ${e.runs.join(', ')})` : e.run;
}

/** Of two pre-training checks of pooled runs, the one to show: a check over none, then more overlaps. */
function worse(a: Leakage | undefined, b: Leakage): Leakage {
  if (!a) return b;
  if (a.checked !== b.checked) return a.checked ? a : b;
  return (b.overlaps?.length ?? 0) > (a.overlaps?.length ?? 0) ? b : a;
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
  const terms = c && `${c.distill.enabled && c.proto.enabled ? 'distill + proto' : c.distill.enabled ? 'distillation only' : 'prototypes only'}${c.ibot.weight > 0 ? ' + iBOT' : ''}${c.ibot.denseWeight > 0 ? (c.ibot.denseLocals ? ' + dense with locals' : ' + dense') : ''}${positionOn(c) ? ' + position' : ''}`;
  const ablation = c ? `${terms}, ${c.preset} ViT, ` : '';
  const data = r.data ? r.data.split('/').filter(Boolean).slice(-1)[0] : '?';
  return `${ablation}${r.step} steps on ${data} (${r.backend ?? '?'}, ${r.status})`;
}

export interface ReportOptions {
  /** Pool runs that differ only by training seed into one row (default true; a model card shows its own run). */
  poolSeeds?: boolean;
}

/**
 * The tables of `pros report`: the main metric per setting, every run (or recipe over training seeds) beside its
 * baselines, best first. Rows that cannot be read are pushed to `skipped` (when given) instead of failing the report.
 */
export function reportGroups(ws: Workspace, skipped: SkippedRow[] = [], options: ReportOptions = {}): ReportGroup[] {
  const pooled = options.poolSeeds === false ? new Map<string, SeedGroup>() : seedGroups(ws);
  const groups = new Map<string, ReportGroup>();
  interface Pool { vals: number[]; pseudo: boolean; leakage?: Leakage; members: Map<string, number>; initSeeds: Set<number> }
  const values = new Map<string, Pool>();
  for (const r of latestEvals(ws, skipped)) {
    const main = own(MAIN, r.task);
    if (!main || r.metric !== main.metric) continue;
    const gk = JSON.stringify([r.task, r.dataset, r.protocol, r.shots]);
    if (!groups.has(gk)) {
      groups.set(gk, { task: r.task, dataset: r.dataset, protocol: r.protocol, shots: r.shots, metric: main.metric, lowerIsBetter: main.lower, entries: [] });
    }
    // Baselines are never pooled as runs, even if a run was given a baseline's name.
    const baseline = own(BASELINES, r.run) !== undefined;
    const seedGroup = baseline ? undefined : pooled.get(r.run);
    const extra = extraOf(r);
    const vk = JSON.stringify([gk, seedGroup?.key ?? r.run, architectureOf(extra), scheduleOf(r, extra)]);
    const v: Pool = values.get(vk) ?? { vals: [], pseudo: false, members: new Map(), initSeeds: new Set() };
    v.vals.push(r.value);
    v.members.set(r.run, seedGroup?.seed ?? 0);
    if (r.run === 'random') v.initSeeds.add(initSeedOf(extra));
    if (extra.pseudo) v.pseudo = true;
    // The pre-training check belongs to the evaluated run, not to the baselines stored beside it.
    if (extra.leakage && !baseline) v.leakage = worse(v.leakage, extra.leakage);
    values.set(vk, v);
  }
  for (const [vk, v] of values) {
    const [gk, , architecture, schedule] = JSON.parse(vk) as [string, string, string, string];
    const g = groups.get(gk)!;
    // Named after the lowest-seed run evaluated in this setting.
    const runs = [...v.members].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1)).map(([name]) => name);
    const run = runs[0]!;
    const initSeeds = [...v.initSeeds].sort((a, b) => a - b);
    const about = describeRun(ws, run) + (initSeeds.length > 1 ? ` (init seeds ${initSeeds.join(', ')})` : '');
    // A baseline evaluated alongside several runs appears once per seed per evaluation; its value is the same.
    const { mean, std } = meanStd(v.vals);
    g.entries.push({
      run, about, mean, std, seeds: v.vals.length, pseudo: v.pseudo,
      ...(runs.length > 1 ? { runs } : {}), ...(initSeeds.length > 1 ? { initSeeds } : {}), ...(architecture ? { architecture } : {}), ...(schedule ? { schedule } : {}),
      ...(v.leakage ? { leakage: v.leakage } : {}),
    });
  }
  const out = [...groups.values()];
  // Random inits of several ViTs in one setting are told apart by the ViT. Where a setting mixes probe schedules, an
  // entry says its schedule if it is not the default (an older probe) or if its run has entries at both.
  for (const g of out) {
    const differ = (e: ReportEntry, key: 'architecture' | 'schedule') => new Set(g.entries.filter((o) => o.run === e.run).map((o) => o[key])).size > 1;
    const mixed = new Set(g.entries.map((e) => e.schedule).filter(Boolean)).size > 1;
    for (const e of g.entries) {
      if (differ(e, 'architecture')) e.about = `${e.about}, ${e.architecture ?? 'ViT not recorded'}`;
      if (differ(e, 'schedule') || (mixed && e.schedule && e.schedule !== defaults.eval.linear.schedule)) e.about = `${e.about}, ${e.schedule}-rate probe`;
    }
  }
  for (const g of out) g.entries.sort((a, b) => (g.lowerIsBetter ? a.mean - b.mean : b.mean - a.mean));
  return out.sort((a, b) => [a.task, a.dataset, a.protocol].join() < [b.task, b.dataset, b.protocol].join() ? -1 : 1);
}

/** Every metric logged, per run (or baseline) and setting, over seeds; ordered by setting, metric and run. */
export function evalTable(ws: Workspace): EvalCell[] {
  const cells = new Map<string, { cell: Omit<EvalCell, 'mean' | 'std' | 'seeds'>; values: number[] }>();
  for (const r of latestEvals(ws)) {
    const extra = extraOf(r);
    const architecture = architectureOf(extra);
    const schedule = scheduleOf(r, extra);
    const key = JSON.stringify([r.task, r.dataset, r.protocol, r.shots ?? -1, r.metric, r.run, architecture, schedule]);
    const c = cells.get(key) ?? {
      cell: {
        run: r.run, task: r.task, dataset: r.dataset, protocol: r.protocol, shots: r.shots, metric: r.metric,
        ...(architecture ? { architecture } : {}), ...(schedule ? { schedule } : {}), at: r.at,
      },
      values: [],
    };
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
