import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openWorkspace } from '../../src/workspace.ts';
import { evalTable, meanStd, reportGroups } from '../../src/evals.ts';

test('the report tables and the web table read the evals the same way: a re-run replaces a seed, one mean ± std', (t) => {
  const ws = openWorkspace(mkdtempSync(join(tmpdir(), 'pros-evals-')));
  const insert = ws.db.prepare(
    'INSERT INTO evals (run, task, dataset, protocol, shots, seed, metric, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  for (const [run, seed, value] of [['r1', 0, 0.5], ['r1', 1, 0.7], ['r1', 0, 0.6], ['human', 0, 0.4]] as const) {
    insert.run(run, 'expression', 'raf', 'linear', null, seed, 'accuracy', value);
  }
  insert.run('r1', 'expression', 'raf', 'linear', null, 0, 'macro_f1', 0.3);
  const cells = evalTable(ws);
  const acc = cells.find((c) => c.run === 'r1' && c.metric === 'accuracy')!;
  // Seed 0 was evaluated twice: only its latest value (0.6) counts, beside seed 1 (0.7).
  t.is(acc.seeds, 2);
  t.deepEqual({ mean: acc.mean, std: acc.std }, meanStd([0.6, 0.7]));
  const [g] = reportGroups(ws);
  t.is(g!.metric, 'accuracy');
  t.deepEqual(g!.entries.map((e) => e.run), ['r1', 'human']);
  t.is(g!.entries[0]!.mean, acc.mean);
  t.is(g!.entries[0]!.std, acc.std);
  t.deepEqual(cells.map((c) => `${c.metric}:${c.run}`), ['accuracy:human', 'accuracy:r1', 'macro_f1:r1']);
  ws.close();
});
