// Training runs with their curves over steps (each loss term, lr, teacher entropy, prototypes in use, img/s), and
// evaluation results as one table comparing runs and baselines.
import { api, clear, el, fmt, header, lineChart, params, showError } from './common.js';

header('runs.html');
const main = document.getElementById('main');
const curves = el('div', { id: 'curves' });

// Which chart a logged key goes on, by name (the trainer's StepMetrics names first, then looser patterns): loss
// terms together, quantities on other scales apart. A key no group claims gets a chart of its own.
const GROUPS = [
  ['Loss terms', /^(loss|distill|proto|protoCe|koleo|ibot|pixel|dense)$|loss/i],
  ['Learning rate', /^(lr|learning_?rate)$/i],
  ['Teacher entropy', /entropy|kl$/i],
  ['Prototypes in use', /used|in_?use|active/i],
  ['Throughput (img/s)', /img|throughput|per_?s(ec)?$/i],
];

function grouped(series) {
  const out = new Map();
  for (const key of Object.keys(series)) {
    if (key === 'step') continue;
    const g = GROUPS.find(([, re]) => re.test(key));
    const name = g ? g[0] : key;
    // Metric names are data: a null-prototype object keeps "__proto__" a series like any other.
    if (!out.has(name)) out.set(name, Object.create(null));
    out.get(name)[key] = series[key];
  }
  return out;
}

async function showRun(name) {
  try {
    const [r, lin] = await Promise.all([api(`/api/runs/${encodeURIComponent(name)}/metrics`),
      api(`/api/runs/${encodeURIComponent(name)}/lineage`)]);
    const charts = [...grouped(r.series)].map(([title, s]) => lineChart(r.steps, s, { title }));
    clear(curves, el('h2', {}, `Run ${r.run}`),
      el('p', {}, `${r.rows} logged steps${r.rows > r.steps.length ? `, ${r.steps.length} plotted` : ''}`),
      r.notes.length ? el('ul', { class: 'notes', id: 'run-notes' }, r.notes.map((n) => el('li', {}, `step ${n.step} · ${n.key}: ${n.text}`))) : null,
      lineage(lin),
      charts.length ? el('div', { class: 'plots' }, charts) : el('p', { class: 'notice empty' }, 'no metrics logged yet'),
      el('details', {}, el('summary', {}, 'config'), el('pre', {}, JSON.stringify(r.config, null, 2))));
    const p = new URLSearchParams(location.search);
    p.set('run', name);
    history.replaceState(null, '', `runs.html?${p}`);
  } catch (err) {
    showError(err);
  }
}

/** The set versions the run read (manifest hash, faces) and the forget requests that removed faces it saw. */
function lineage(lin) {
  return el('section', { class: 'card lineage', id: 'lineage' }, el('h3', {}, 'Trained on'),
    lin.versions.length
      ? el('ul', {}, lin.versions.map((v) => el('li', {}, el('code', {}, v.manifestSha256.slice(0, 16)), ` ${v.faces} faces of ${v.setDir}, read at step ${v.step} (${v.at})`)))
      : el('p', { class: 'notice empty' }, 'no set version recorded (a run from before lineage was kept)'),
    lin.affected.length
      ? el('p', { class: 'notice warn', id: 'run-affected' }, `Affected by forget request${lin.affected.length > 1 ? 's' : ''} `,
        lin.affected.map((a) => `#${a.requestId} (${a.faces} face${a.faces === 1 ? '' : 's'})`).join(', '),
        ': this checkpoint has seen faces since forgotten and cannot forget them; retrain on the current set.')
      : el('p', { class: 'notice' }, 'no face it trained on has been forgotten'));
}

function runsTable(runs) {
  if (runs.length === 0) return el('p', { class: 'notice empty' }, 'no training runs yet — `pros train --run NAME` starts one');
  const cols = ['run', 'status', 'step', 'loss', 'img/s', 'backend', 'data', 'embeddings', 'updated'];
  const last = (r, re) => {
    const k = r.last && Object.keys(r.last).find((x) => re.test(x));
    return k ? fmt(r.last[k], 3) : '–';
  };
  return el('table', { class: 'data', id: 'runs' },
    el('thead', {}, el('tr', {}, cols.map((c) => el('th', {}, c)))),
    el('tbody', {}, runs.map((r) => el('tr', {},
      el('td', {}, el('a', { href: `runs.html?run=${encodeURIComponent(r.name)}`, class: 'run-link', onclick: (e) => { e.preventDefault(); void showRun(r.name); } }, r.name)),
      el('td', {}, r.status), el('td', { class: 'num' }, String(r.step)), el('td', { class: 'num' }, last(r, /^loss$/i)),
      el('td', { class: 'num' }, last(r, /img|throughput/i)), el('td', {}, r.backend ?? ''), el('td', {}, r.data ?? ''),
      el('td', { class: 'num' }, String(r.embeddings)), el('td', {}, r.updatedAt ?? r.createdAt)))));
}

const LOWER_IS_BETTER = /nme|err|mae|mse|rmse|loss|fr\b|failure/i;
const BASELINES = ['random', 'human', 'majority', 'mean-shape'];
const isBaseline = (name) => BASELINES.includes(name.replace(/ \(.*\)$/, ''));
const baselinesFirst = (a, b) => (isBaseline(b) - isBaseline(a)) || a.localeCompare(b);
/**
 * The column of an entry: its run, except that random inits of different ViTs (the architecture their rows recorded)
 * get a column each, named by the ViT, when the workspace holds more than one; so do linear probes trained at
 * different rate schedules (the report never pools them).
 */
function columnOf(entries) {
  const seen = (key) => {
    const values = new Map();
    for (const e of entries) values.set(e.run, (values.get(e.run) ?? new Set()).add(e[key] ?? ''));
    return (e) => values.get(e.run).size > 1;
  };
  const shapes = seen('architecture'), schedules = seen('schedule');
  return (e) => {
    const parts = [shapes(e) ? e.architecture || 'ViT not recorded' : '', schedules(e) ? `${e.schedule}-rate probe` : ''].filter(Boolean);
    return parts.length ? `${e.run} (${parts.join(', ')})` : e.run;
  };
}

/**
 * The table `pros report` prints: a row per (task, dataset, protocol, shots) on the task's main metric, a column per
 * run with the baselines first, mean ± std over seeds, the best in bold (groups come sorted best first).
 */
function reportTable(groups) {
  if (groups.length === 0) return el('p', { class: 'notice empty' }, 'no evaluation results yet — `pros eval <task> --run NAME` adds them');
  const col = columnOf(groups.flatMap((g) => g.entries));
  const runs = [...new Set(groups.flatMap((g) => g.entries.map(col)))].sort(baselinesFirst);
  const about = new Map(groups.flatMap((g) => g.entries.map((e) => [col(e), e.about])));
  // Runs that differ only by training seed come pooled under the lowest-seed run's name.
  const pooled = new Map(groups.flatMap((g) => g.entries.filter((e) => e.runs).map((e) => [e.run, e.runs])));
  const pct = (g, v) => `${(v * 100).toFixed(g.task === 'landmarks' ? 2 : 1)}%`;
  return el('table', { class: 'data', id: 'evals' },
    el('thead', {}, el('tr', {}, ['task', 'dataset', 'protocol', 'shots', 'metric'].map((c) => el('th', {}, c)),
      runs.map((r) => el('th', { class: isBaseline(r) ? 'baseline' : '', title: `${about.get(r) ?? ''}${pooled.has(r) ? `; pooled: ${pooled.get(r).join(', ')}` : ''}` },
        pooled.has(r) ? `${r} (${pooled.get(r).length} seeds)` : r)))),
    el('tbody', {}, groups.map((g) => {
      const cells = new Map(g.entries.map((e) => [col(e), e]));
      const best = g.entries[0];
      return el('tr', {}, el('td', {}, g.task), el('td', {}, g.dataset), el('td', {}, g.protocol),
        el('td', {}, String(g.shots ?? 'full')), el('td', {}, `${g.metric} ${g.lowerIsBetter ? '↓' : '↑'}`),
        runs.map((name) => {
          const c = cells.get(name);
          if (!c) return el('td', {}, '');
          return el('td', { class: `num${c === best && cells.size > 1 ? ' best' : ''}`, title: `${c.seeds} value(s)${c.runs ? ` over runs ${c.runs.join(', ')}` : ''}${c.pseudo ? ', pseudo-labels' : ''}` },
            `${pct(g, c.mean)}${c.seeds > 1 ? ` ± ${pct(g, c.std)}` : ''}${c.pseudo ? ' *' : ''}`);
        }));
    })));
}

/** Every metric logged, averaged over seeds: the detail behind the report table. */
function evalsTable(results) {
  if (results.length === 0) return null;
  const col = columnOf(results);
  const runs = [...new Set(results.map(col))].sort(baselinesFirst);
  const settings = new Map();
  for (const r of results) {
    const key = [r.task, r.dataset, r.protocol, r.shots ?? 'full', r.metric].join('|');
    if (!settings.has(key)) settings.set(key, { r, cells: new Map() });
    settings.get(key).cells.set(col(r), r);
  }
  return el('details', {}, el('summary', {}, `all metrics (${settings.size})`), el('table', { class: 'data', id: 'evals-all' },
    el('thead', {}, el('tr', {}, ['task', 'dataset', 'protocol', 'shots', 'metric'].map((c) => el('th', {}, c)),
      runs.map((r) => el('th', { class: isBaseline(r) ? 'baseline' : '' }, r)))),
    el('tbody', {}, [...settings.values()].map(({ r, cells }) => {
      // Errors (NME, MAE, ...) are best low; scores (accuracy, F1, ...) best high.
      const means = [...cells.values()].map((c) => c.mean);
      const best = LOWER_IS_BETTER.test(r.metric) ? Math.min(...means) : Math.max(...means);
      return el('tr', {}, el('td', {}, r.task), el('td', {}, r.dataset), el('td', {}, r.protocol), el('td', {}, String(r.shots ?? 'full')),
        el('td', {}, r.metric), runs.map((name) => {
          const c = cells.get(name);
          if (!c) return el('td', {}, '');
          return el('td', { class: `num${c.mean === best && cells.size > 1 ? ' best' : ''}`, title: `${c.seeds} seed(s)` },
            `${fmt(c.mean, 3)}${c.seeds > 1 ? ` ± ${fmt(c.std, 3)}` : ''}`);
        }));
    }))));
}

try {
  const [{ runs }, { groups, results, skipped }] = await Promise.all([api('/api/runs'), api('/api/evals')]);
  const unread = skipped?.length
    ? el('p', { class: 'notice', id: 'evals-skipped' }, `${skipped.length} stored result(s) could not be read and are left out: `
      + skipped.slice(0, 5).map((s) => `row ${s.id} (${s.reason})`).join(', '))
    : null;
  clear(main, el('h1', {}, 'Training runs'), runsTable(runs), curves, el('h1', {}, 'Evaluation'), reportTable(groups),
    unread, evalsTable(results));
  const chosen = params().get('run');
  if (chosen) await showRun(chosen);
} catch (err) {
  showError(err);
}
