// The JSON text columns of the workspace database read through their schemas (src/contracts/columns.ts): rows are
// corrupted by hand, as a shared or edited workspace may have them, and each reader gives a clear error or a logged
// default instead of an object of whatever shape.
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonColumn, jsonColumnOr, Landmarks, MetricValues, readJsonColumn } from '../../src/contracts/columns.ts';
import { InputError } from '../../src/errors.ts';
import { describeRun, latestEvals, type SkippedRow } from '../../src/evals.ts';
import { openWorkspace } from '../../src/workspace.ts';
import { itemProvenance } from '../../retrieval/item.ts';
import { listForgetRequests } from '../../retrieval/privacy/forget.ts';
import { presets } from '../../training/config.ts';

const tmpWorkspace = () => openWorkspace(mkdtempSync(join(tmpdir(), 'pros-columns-')));

/** Everything written to stderr (where log.warn goes) while `fn` runs. */
function stderrOf<T>(fn: () => T): { value: T; logged: string } {
  const write = process.stderr.write.bind(process.stderr);
  let logged = '';
  process.stderr.write = ((chunk: string | Uint8Array) => ((logged += String(chunk)), true)) as typeof process.stderr.write;
  try {
    return { value: fn(), logged };
  } finally {
    process.stderr.write = write;
  }
}

test('readJsonColumn: NULL is null, bad JSON and a wrong shape say why, with the path inside the value', (t) => {
  t.deepEqual(readJsonColumn(Landmarks, null), { ok: true, value: null });
  t.deepEqual(readJsonColumn(Landmarks, '[[1,2],[3,4]]'), { ok: true, value: [[1, 2], [3, 4]] });
  t.deepEqual(readJsonColumn(Landmarks, '[[1,2'), { ok: false, reason: 'not valid JSON' });
  const r = readJsonColumn(Landmarks, '[[1,2],[3,"y"]]');
  t.false(r.ok);
  t.regex(r.ok ? '' : r.reason, /^not what the column holds \(1\.1: .*expected number/);
});

test('keys are data: "__proto__" and "constructor" stay own keys of the value, and nothing reaches Object.prototype', (t) => {
  const r = readJsonColumn(MetricValues, '{"__proto__": 1, "constructor": 2, "loss": 0.5}');
  t.true(r.ok);
  const v = r.ok ? r.value! : {};
  t.deepEqual(Object.keys(v).sort(), ['__proto__', 'constructor', 'loss']);
  t.is(Object.getOwnPropertyDescriptor(v, '__proto__')?.value, 1);
  t.is(Object.getPrototypeOf(v), Object.prototype);
  t.false(readJsonColumn(MetricValues, '{"loss": {"nested": 1}}').ok, 'a metric is a number, text, a boolean or null');
});

test('jsonColumnOr logs once per column and row and reads the fallback; jsonColumn throws an InputError', (t) => {
  const { value, logged } = stderrOf(() => [1, 2].map(() => jsonColumnOr(Landmarks, '{"x": 1}', [], 'faces.landmarks of face 7')));
  t.deepEqual(value, [[], []]);
  t.is(logged.match(/faces\.landmarks of face 7 is not what the column holds/g)?.length, 1);
  t.throws(() => jsonColumn(Landmarks, 'nope', 'faces.landmarks of face 8'), {
    instanceOf: InputError,
    message: 'faces.landmarks of face 8 is not valid JSON: the workspace database was damaged or edited',
  });
});

test('items.meta: a broken value gives no licence or caption (logged), a good one gives both', (t) => {
  t.deepEqual(itemProvenance({ id: 1, meta: '{"license": "CC-BY-4.0", "text": "a face"}' }), { licence: 'CC-BY-4.0', caption: 'a face' });
  const { value, logged } = stderrOf(() => itemProvenance({ id: 2, meta: '["CC-BY-4.0"]' }));
  t.deepEqual(value, { licence: undefined, caption: undefined });
  t.regex(logged, /items\.meta of item 2 is not what the column holds/);
});

test('runs.config is a training config: a real one describes the run, a damaged one leaves the ablation out', (t) => {
  const ws = tmpWorkspace();
  const add = ws.db.prepare("INSERT INTO runs (name, data, config, backend, status, step) VALUES (?, 'curated/people', ?, 'wasm', 'done', 12)");
  add.run('good', JSON.stringify({ ...presets.tiny, distill: { ...presets.tiny!.distill, enabled: false } }));
  add.run('damaged', JSON.stringify({ ...presets.tiny, distill: 'on' }));
  // The shipped tiny preset has the dense term on, local crops too, and the position term (iBOT's masked term off); a
  // run stored before them has no ibot or position key: all off.
  t.is(describeRun(ws, 'good'), 'prototypes only + dense with locals + position, tiny ViT, 12 steps on people (wasm, done)');
  add.run('globals', JSON.stringify({ ...presets.tiny, ibot: { ...presets.tiny!.ibot, weight: 1, denseLocals: false } }));
  t.is(describeRun(ws, 'globals'), 'distill + proto + iBOT + dense + position, tiny ViT, 12 steps on people (wasm, done)');
  const { ibot: _, position: __, ...older } = presets.tiny!;
  add.run('older', JSON.stringify(older));
  t.is(describeRun(ws, 'older'), 'distill + proto, tiny ViT, 12 steps on people (wasm, done)');
  const { value, logged } = stderrOf(() => describeRun(ws, 'damaged'));
  t.is(value, '12 steps on people (wasm, done)');
  t.regex(logged, /runs\.config of run damaged is not what the column holds \(distill: /);
  ws.close();
});

test('evals.extra: a value of the wrong type skips the row with the reason, as unreadable JSON does', (t) => {
  const ws = tmpWorkspace();
  const add = ws.db.prepare("INSERT INTO evals (run, task, dataset, protocol, shots, seed, metric, value, extra) VALUES ('r', 'expression', 'raf', 'linear', NULL, ?, 'accuracy', 0.5, ?)");
  add.run(0, '{"pseudo": true, "leakage": {"checked": false, "reason": "random init"}}');
  const bad = Number(add.run(1, '{"pseudo": "yes"}').lastInsertRowid);
  const skipped: SkippedRow[] = [];
  t.deepEqual(latestEvals(ws, skipped).map((r) => r.seed), [0]);
  t.is(skipped.length, 1);
  t.is(skipped[0]!.id, bad);
  t.regex(skipped[0]!.reason, /^extra is not what the column holds \(pseudo: .*expected boolean/);
  ws.close();
});

test('forget_requests: the audit and journal columns are read strictly; damage is an InputError naming the request and column', (t) => {
  const ws = tmpWorkspace();
  const asked = { examples: { images: 0, faces: [3] }, urls: [], domains: [], set: null, threshold: null };
  const add = ws.db.prepare("INSERT INTO forget_requests (key, who, asked, step, counts, runs) VALUES (?, 'me', ?, 'done', NULL, ?)");
  add.run('k1', JSON.stringify(asked), JSON.stringify([{ run: 'tiny', faces: 1 }]));
  t.deepEqual(listForgetRequests(ws).map((r) => [r.asked, r.runs]), [[asked, [{ run: 'tiny', faces: 1 }]]]);
  const id = Number(add.run('k2', JSON.stringify(asked), '{"run": "tiny"}').lastInsertRowid);
  t.throws(() => listForgetRequests(ws), {
    instanceOf: InputError,
    message: new RegExp(`^forget_requests\\.runs of request ${id} is not what the column holds \\(.*expected array`),
  });
  ws.close();
});
