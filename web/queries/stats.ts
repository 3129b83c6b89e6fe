// Read-side queries for the overview, training runs and evaluation results. Each reads tables that other parts
// write (crawl and curate, training, evaluation); an empty table gives an empty result, never an error.
import type { Workspace } from '../../src/workspace.ts';
import type { MetricRow, RunRow } from '../../src/contracts/rows.ts';
import { jsonColumnOr, MetricValues, RunConfig } from '../../src/contracts/columns.ts';
import type { Count, Histogram, Overview, RunCurves, RunSummary } from '../../src/contracts/api.ts';

function counts(ws: Workspace, table: 'images' | 'faces'): Count[] {
  return ws.db
    .prepare<[], Count>(`SELECT status, reason, COUNT(*) AS n FROM ${table} GROUP BY status, reason ORDER BY status, n DESC`)
    .all();
}

/** Fetch outcomes of image URLs and files, then of crawled pages (items.kind, migration 3), each by reason. */
function itemCounts(ws: Workspace): Count[] {
  return ws.db
    .prepare<[], Count>(
      `SELECT CASE WHEN kind = 'page' THEN 'page ' || status ELSE status END AS status, reason, COUNT(*) AS n
       FROM items GROUP BY kind, status, reason ORDER BY kind = 'page', status, n DESC`,
    )
    .all();
}

function histogram(ws: Workspace, column: 'face_ratio' | 'score', bins: number): Histogram {
  // The index led by the column hands rows over already in bin order (migration 4).
  const index = column === 'score' ? 'faces_grid_score' : 'faces_grid_ratio';
  const rows = ws.db
    .prepare<[number, number], { bin: number; acc: number; n: number }>(
      `SELECT min(?, max(0, CAST(${column} * ? AS INTEGER))) AS bin, status = 'accepted' AS acc, COUNT(*) AS n
       FROM faces INDEXED BY ${index} WHERE ${column} IS NOT NULL GROUP BY bin, acc`,
    )
    .all(bins - 1, bins);
  const h: Histogram = { min: 0, max: 1, bins, accepted: Array(bins).fill(0), other: Array(bins).fill(0) };
  for (const r of rows) (r.acc ? h.accepted : h.other)[r.bin] += r.n;
  return h;
}

/** The database's state as this connection sees it: changes when anyone (this server or another process) commits. */
export function dbVersion(ws: Workspace): string {
  const changes = ws.db.prepare<[], number>('SELECT total_changes()').pluck().get();
  return `${ws.db.pragma('data_version', { simple: true })}:${changes}`;
}

/** The overview, recomputed only when the database has changed since it was last asked for. */
export class OverviewCache {
  private version = '';
  private value: Overview | undefined;

  constructor(private readonly ws: Workspace) {}

  get(): Overview {
    const v = dbVersion(this.ws);
    if (!this.value || v !== this.version) {
      this.value = overview(this.ws);
      this.version = v;
    }
    return this.value;
  }
}

export function overview(ws: Workspace): Overview {
  const one = (sql: string) => ws.db.prepare<[], number>(sql).pluck().get()!;
  return {
    totals: {
      sources: one('SELECT COUNT(*) FROM sources'),
      items: one('SELECT COUNT(*) FROM items'),
      images: one('SELECT COUNT(*) FROM images'),
      faces: one('SELECT COUNT(*) FROM faces'),
      runs: one('SELECT COUNT(*) FROM runs'),
      evals: one('SELECT COUNT(*) FROM evals'),
    },
    // Members' status is read from a covering index, not from the (landmark-heavy) face rows.
    sets: ws.db
      .prepare<[], Overview['sets'][number]>(
        `SELECT s.name, s.kind, s.created_at AS createdAt,
           (SELECT COUNT(*) FROM set_members m WHERE m.set_name = s.name) AS faces,
           (SELECT COUNT(*) FROM set_members m JOIN faces f INDEXED BY faces_grid_id ON f.id = m.face_id
             WHERE m.set_name = s.name AND f.status = 'accepted') AS accepted
         FROM sets s ORDER BY s.created_at DESC, s.name`,
      )
      .all(),
    items: itemCounts(ws),
    images: counts(ws, 'images'),
    faces: counts(ws, 'faces'),
    faceRatio: histogram(ws, 'face_ratio', 20),
    score: histogram(ws, 'score', 20),
  };
}

// ---- training runs ------------------------------------------------------------------------------------------


export function listRuns(ws: Workspace): RunSummary[] {
  const rows = ws.db
    .prepare<[], Omit<RunSummary, 'last'> & { last: string | null }>(
      `SELECT r.name, r.data, r.backend, r.status, r.step, r.created_at AS createdAt, r.updated_at AS updatedAt,
         (SELECT values_json FROM metrics m WHERE m.run = r.name ORDER BY step DESC LIMIT 1) AS last,
         (SELECT COUNT(*) FROM embeddings e WHERE e.run = r.name) AS embeddings
       FROM runs r ORDER BY r.created_at DESC, r.name`,
    )
    .all();
  return rows.map((r) => ({ ...r, last: jsonColumnOr(MetricValues, r.last, null, `metrics.values_json of run ${r.name}`) }));
}

export function runCurves(ws: Workspace, run: string, maxPoints = 2000): RunCurves | undefined {
  const r = ws.db.prepare<[string], Pick<RunRow, 'name' | 'config'>>('SELECT name, config FROM runs WHERE name = ?').get(run);
  if (!r) return undefined;
  const rows = ws.db.prepare<[string], number>('SELECT COUNT(*) FROM metrics WHERE run = ?').pluck().get(run)!;
  const stride = Math.max(1, Math.ceil(rows / maxPoints));
  // Every stride-th row plus the last one, so a long run's curve still ends where training is.
  const data = ws.db
    .prepare<[string, number, number], Pick<MetricRow, 'step' | 'values_json'>>(
      `SELECT step, values_json FROM (
         SELECT step, values_json, ROW_NUMBER() OVER (ORDER BY step) - 1 AS k FROM metrics WHERE run = ?)
       WHERE k % ? = 0 OR k = ? - 1 ORDER BY step`,
    )
    .all(run, stride, rows);
  const steps: number[] = [];
  // Metric names are data (any key a metrics row holds): a null-prototype object, so "__proto__" or "constructor"
  // is just another series and never reaches Object.prototype.
  const series: Record<string, Array<number | null>> = Object.create(null);
  data.forEach((row, i) => {
    steps.push(row.step);
    const values = jsonColumnOr(MetricValues, row.values_json, {}, `metrics.values_json of run ${r.name}`);
    for (const [key, v] of Object.entries(values)) {
      if (typeof v !== 'number' || !Number.isFinite(v)) continue;
      series[key] ??= Array(data.length).fill(null);
      series[key][i] = v;
    }
  });
  // Notes are rare and matter (a collapse warning), so they are read from every row, not the subsample; the LIKE
  // (a key followed by a string value) spares parsing the all-numeric rows.
  const notes: RunCurves['notes'] = [];
  const textRows = ws.db
    .prepare<[string], { step: number; key: string; value: string }>(
      `SELECT m.step, j.key, j.value FROM metrics m, json_each(m.values_json) j
       WHERE m.run = ? AND m.values_json LIKE '%":"%' AND j.type = 'text' ORDER BY m.step DESC LIMIT 100`,
    )
    .all(run);
  for (const t of textRows.reverse()) notes.push({ step: t.step, key: t.key, text: t.value });
  return { run: r.name, config: jsonColumnOr(RunConfig, r.config, null, `runs.config of run ${r.name}`), steps, series, rows, notes };
}
