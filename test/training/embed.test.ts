// `pros embed`: a run's teacher embeddings of a curated set go into index/runs/<run>.f32, the embeddings table and the
// run's ANN index; faces already embedded are skipped on a second run.
import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { RunEmbeddingHeader } from '../../src/contracts/embeddings.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaults } from '../../src/config.ts';
import { openWorkspace } from '../../src/workspace.ts';
import { openIndex, VectorStore } from '../../src/index/index.ts';
import { embedSet } from '../../training/embed.ts';
import { loadBackend } from '../../src/backend.ts';
import { inputPixels, loadGraphEmbedder } from '../../src/model/embedder.ts';
import { train } from '../../training/launcher.ts';
import { makeSet, testOverrides } from './_fixtures.ts';
import type { EmbeddingRow } from '../../src/contracts/rows.ts';

test('embeds a set with the trained teacher into the run index, resumably', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'pros-embed-'));
  const ws = join(root, 'ws');
  const setDir = await makeSet(join(ws, 'curated', 'faces'), 12);
  // Register the crops as faces of the workspace and give the manifest their ids, as an export would.
  const w = openWorkspace(ws);
  const lines = readFileSync(join(setDir, 'manifest.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const ids: number[] = [];
  for (const [i, line] of lines.entries()) {
    w.db.prepare(`INSERT OR IGNORE INTO images(sha256, origin, status) VALUES (?, ?, 'accepted')`).run(`sha${i}`, line.source);
    const r = w.db
      .prepare(`INSERT INTO faces(image_sha256, idx, x, y, w, h, score, face_ratio, status) VALUES (?, 0, 0, 0, 10, 10, 1, 0.5, 'accepted')`)
      .run(`sha${i}`);
    ids.push(Number(r.lastInsertRowid));
    line.id = Number(r.lastInsertRowid);
  }
  // One line whose id is not a face of this workspace.
  lines.push({ ...lines[0], id: 1_000_000 });
  writeFileSync(join(setDir, 'manifest.jsonl'), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  w.close();

  await train({ data: 'faces', run: 'emb', workspace: ws, quiet: true, overrides: { ...testOverrides, steps: 2 } });
  const index = { ...defaults.index, engine: 'hnswlib' as const };
  const s = await embedSet({ run: 'emb', set: 'faces', workspace: ws, quiet: true, index, backend: 'wasm' });
  t.is(s.embedded, 12);
  t.is(s.notInWorkspace, 1);
  t.is(s.dim, 64);
  t.is(s.indexCount, 12);
  t.true(existsSync(s.vectors));

  const w2 = openWorkspace(ws);
  const rows = w2.db.prepare<[string], Omit<EmbeddingRow, 'run'>>('SELECT face_id, row FROM embeddings WHERE run = ? ORDER BY row').all('emb');
  w2.close();
  t.deepEqual(rows.map((r) => r.face_id), ids);
  const store = VectorStore.open(s.vectors, 64);
  const v = store.read(rows[5].row);
  store.close();
  let norm = 0;
  for (const x of v) norm += x * x;
  t.true(Math.abs(norm - 1) < 1e-4, 'embeddings are normalised');
  const ann = await openIndex(join(ws, 'index', 'runs'), 'emb', 64, index);
  t.is(ann.search(v, 1).ids[0][0], ids[5], 'a face finds itself');
  // The space keeps the model that made it: its tfjs graph embeds the same crop to the same vector (float16 apart).
  const { tf } = await loadBackend('wasm', { quiet: true });
  const embedder = await loadGraphEmbedder(join(ws, 'index', 'runs', 'emb.model'), tf);
  const again5 = await embedder.embed(await inputPixels(join(setDir, lines[5].path), embedder.inputSize), 1);
  embedder.dispose();
  let cos = 0;
  for (let i = 0; i < 64; i++) cos += again5[i] * v[i];
  t.true(cos > 0.999, `cosine ${cos}`);

  const again = await embedSet({ run: 'emb', set: 'faces', workspace: ws, quiet: true, index, backend: 'wasm' });
  t.is(again.embedded, 0);
  t.is(again.alreadyEmbedded, 12);

  // The header says what the web must not guess: the width, the run and the checkpoint step.
  const header = JSON.parse(readFileSync(join(ws, 'index', 'runs', 'emb.json'), 'utf8')) as RunEmbeddingHeader;
  t.like(header, { format: 'pros-run-embeddings/1', run: 'emb', dim: 64, checkpointStep: 2 });
  // A kill after the rows were committed but before the index was saved: the index files are gone (or stale), the
  // table names 12 faces. The next `pros embed` reconciles the index from the table before doing anything else.
  for (const f of readdirSync(join(ws, 'index', 'runs'))) if (f.startsWith('emb.hnswlib')) rmSync(join(ws, 'index', 'runs', f));
  const healed = await embedSet({ run: 'emb', set: 'faces', workspace: ws, quiet: true, index, backend: 'wasm' });
  t.is(healed.embedded, 0);
  t.is(healed.indexCount, 12);
  await t.throwsAsync(embedSet({ run: 'nope', set: 'faces', workspace: ws, quiet: true }), { message: /no run "nope"/ });
});
