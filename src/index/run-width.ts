// The width of a run's embedding space (index/runs/<run>.f32, rows named by the `embeddings` table). The file has no
// header, so the width is recorded in `embedding_spaces` once known (by `pros forget` before it deletes rows, since
// a deleted last row would make the file size say another width), and otherwise inferred from the file: the width
// whose row count covers every row the table names, with the fewest rows left over (a crash can leave appended rows
// not yet in the table).
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { DB } from '../workspace.ts';

const WIDTHS = [32, 64, 96, 128, 192, 256, 320, 384, 512, 640, 768, 1024, 1280, 1536, 2048];

export function embeddingWidth(fileBytes: number, rowsNamed: number): number | undefined {
  if (rowsNamed <= 0 || fileBytes <= 0) return undefined;
  const exact = fileBytes / 4 / rowsNamed;
  if (Number.isInteger(exact)) return exact;
  let best: { dim: number; extra: number } | undefined;
  for (const dim of WIDTHS) {
    if (fileBytes % (dim * 4)) continue;
    const extra = fileBytes / (dim * 4) - rowsNamed;
    if (extra >= 0 && (!best || extra < best.extra)) best = { dim, extra };
  }
  return best?.dim;
}

export function runEmbeddingsFile(indexDir: string, run: string): string {
  return join(indexDir, 'runs', `${run}.f32`);
}

/** The recorded or inferred width of a run's embeddings; undefined when there is no file or no way to tell. */
export function runEmbeddingWidth(db: DB, indexDir: string, run: string): number | undefined {
  const known = db.prepare('SELECT dim FROM embedding_spaces WHERE run = ?').pluck().get(run) as number | undefined;
  if (known) return known;
  let bytes = 0;
  try {
    bytes = statSync(runEmbeddingsFile(indexDir, run)).size;
  } catch {
    return undefined;
  }
  const rows = db.prepare('SELECT max(row) + 1 FROM embeddings WHERE run = ?').pluck().get(run) as number | null;
  return embeddingWidth(bytes, rows ?? 0);
}

/** Records a run's embedding width (first writer wins: the width of a file never changes). */
export function recordEmbeddingWidth(db: DB, run: string, dim: number): void {
  db.prepare('INSERT OR IGNORE INTO embedding_spaces(run, dim) VALUES (?, ?)').run(run, dim);
}
