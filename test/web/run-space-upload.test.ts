// Search by upload in a run's ProS space, end to end on real parts: a workspace curated by the real pipeline, a short
// real training run on its exported set, `pros embed` with the run and with a model folder exported from it (standing
// in for the shipped models/pros-tiny), then the server on loopback answering uploads over HTTP and in Chromium.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium, type Browser } from '../helpers/browser.ts';
import { exportSet } from '../../retrieval/export.ts';
import { train } from '../../training/launcher.ts';
import { embedSet } from '../../training/embed.ts';
import { exportModel } from '../../training/export/export.ts';
import { quickEvaluation } from '../../training/downstream/quick.ts';
import { loadBackend } from '../../src/backend.ts';
import { shippedModel } from '../../src/model/folder.ts';
import { testOverrides } from '../training/_fixtures.ts';
import { buildFixture, photo, type Fixture } from './helpers.ts';

let f: Fixture;
let model: string;
const faceOf = (file: string) =>
  f.ws.db.prepare<[string], number>(`SELECT f.id FROM faces f JOIN images i ON i.sha256 = f.image_sha256 WHERE i.origin LIKE ? ORDER BY f.idx`).pluck().get(`%/${file}`)!;

test.before(async () => {
  f = await buildFixture();
  const root = f.ws.root;
  await exportSet(f.ws, f.config, 'people', { quiet: true });
  await train({ data: 'people', run: 'tiny', workspace: root, quiet: true, overrides: { ...testOverrides, steps: 3 } });
  await embedSet({ run: 'tiny', set: 'people', workspace: root, backend: 'wasm', quiet: true });
  model = join(mkdtempSync(join(tmpdir(), 'pros-shipped-')), 'pros-tiny');
  await exportModel({ ws: f.ws, run: 'tiny', out: model, name: 'shipped-tiny' });
  await embedSet({ run: model, set: 'people', workspace: root, backend: 'wasm', quiet: true });
});
test.after.always(async () => {
  await f?.close();
  if (model) rmSync(join(model, '..'), { recursive: true, force: true });
});

async function upload(file: string, space: string, k = 3) {
  const form = new FormData();
  form.append('k', String(k));
  form.append('space', space);
  form.append('image', new Blob([readFileSync(photo(file))], { type: 'image/jpeg' }), 'q.jpg');
  const r = await fetch(`${f.url}/api/search/upload`, { method: 'POST', body: form, headers: { origin: f.url } });
  return { status: r.status, body: (await r.json()) as any };
}

test.serial('spaces: the workspace runs first, then the exported model embedded here', async (t) => {
  const r = await fetch(`${f.url}/api/search/spaces`);
  t.deepEqual(((await r.json()) as any).spaces, ['human', 'demo-run', 'tiny', 'shipped-tiny']);
});

test.serial("an upload in a run's space: the face is cut as export cuts it, embedded by the run's model, and finds its own crop", async (t) => {
  for (const space of ['tiny', 'shipped-tiny']) {
    const { status, body } = await upload('audrey.jpg', space);
    t.is(status, 200, JSON.stringify(body));
    t.is(body.space, space);
    t.is(body.faces.length, 1);
    const n = body.faces[0].neighbours;
    t.true(n.length > 0 && n.length <= 3);
    // The same photo's exported crop, embedded by `pros embed` (float32 weights) and now through the space's
    // float16 GraphModel: the nearest face, at a similarity of about 1.
    t.is(n[0].id, faceOf('audrey.jpg'), space);
    t.true(n[0].similarity > 0.99, `${space}: ${n[0].similarity}`);
  }
  // A space embedded before spaces kept their model says how to fix it, as a 422.
  const old = await upload('audrey.jpg', 'demo-run');
  t.is(old.status, 422);
  t.regex(old.body.error, /pros embed --run demo-run/);
});

test.serial('the demo\'s closing table evaluates the exported backbone beside the run and random init', async (t) => {
  t.is(shippedModel(join(model, '..', 'missing')), undefined);
  t.is(shippedModel(model), model);
  const { tf, name } = await loadBackend('wasm', { quiet: true });
  const q = await quickEvaluation({ ws: f.ws, tf, backend: name, run: 'tiny', models: [model], count: 40 });
  const runs = new Set(q.summaries.map((s) => s.run));
  t.deepEqual([...runs].sort(), ['random', 'shipped-tiny', 'tiny']);
  t.regex(q.markdown, /shipped-tiny/);
});

test.serial('Chromium: choose the exported model\'s ProS space, upload a face, see its neighbours', async (t) => {
  let browser: Browser | undefined;
  try {
    browser = await launchChromium();
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${f.url}/search.html`);
    await page.waitForSelector('#space option[value="shipped-tiny"]', { state: 'attached' });
    t.is(await page.textContent('#space option[value="shipped-tiny"]'), 'ProS: shipped-tiny');
    await page.selectOption('#space', 'shipped-tiny');
    await page.setInputFiles('#file', photo('audrey.jpg'));
    await page.waitForSelector('#upload-neighbours figure', { timeout: 120_000 });
    t.regex((await page.textContent('#results h2'))!, /1 face\(s\) in the upload \(shipped-tiny\)/);
    t.is(await page.getAttribute('#upload-neighbours figure >> nth=0', 'data-id'), String(faceOf('audrey.jpg')));
    t.deepEqual(errors, []);
  } finally {
    await browser?.close();
  }
});
