// The pages in a real browser (Debian's Chromium driven by playwright-core) over a workspace built by the real
// curate pipeline: overview, grid with filters, image detail, similarity search by click, by file and by drag and
// drop, rejecting a face, a run's curves. Hostile captions and file names must show as text and run nothing; no
// page may trip the CSP or throw. Screenshots go to test-output/web/.
import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launchChromium, openPage, type Browser } from '../helpers/browser.ts';
import { openWorkspace } from '../../src/workspace.ts';
import { serve } from '../../web/server.ts';
import { buildFixture, HOSTILE_CAPTION, HOSTILE_NAME, photo, SHALLOW_VIT, type Fixture } from './helpers.ts';

const OUT = join(process.cwd(), 'test-output', 'web');

let f: Fixture;
let browser: Browser;
const problems: string[] = [];

test.before(async () => {
  mkdirSync(OUT, { recursive: true });
  f = await buildFixture();
  browser = await launchChromium();
});
test.after.always(async () => {
  await browser?.close();
  await f?.close();
});

const open = (path: string): Promise<Page> => openPage(browser, f.url + path, problems, path);
const shot = (page: Page, name: string) => page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true });
const one = <T = number>(sql: string, ...args: unknown[]) => f.ws.db.prepare<unknown[], T>(sql).pluck().get(...args)!;
const faceOf = (file: string) => one(`SELECT f.id FROM faces f JOIN images i ON i.sha256 = f.image_sha256 WHERE i.origin LIKE ? ORDER BY f.idx`, `%/${file}`) as number;
const xss = (page: Page) => page.evaluate(() => (window as any).__xss);

test.serial('overview shows totals, outcomes by reason and both histograms', async (t) => {
  const page = await open('/');
  await page.waitForSelector('#total-faces');
  t.is(await page.textContent('#total-faces'), String(one('SELECT COUNT(*) FROM faces')));
  t.is(await page.locator('svg.hist').count(), 2);
  t.true((await page.locator('svg.bars').count()) >= 3);
  t.true((await page.textContent('main'))!.includes('not_image'));
  await shot(page, 'overview');
  await page.close();
});

test.serial('grid: thumbnails with boxes, then filtered to accepted faces', async (t) => {
  const page = await open('/grid.html');
  await page.waitForSelector('figure.tile');
  t.is(await page.locator('figure.tile').count(), one('SELECT COUNT(*) FROM faces'));
  t.is(await page.locator('figure.tile svg rect.box').count(), await page.locator('figure.tile').count());
  // Every thumbnail loaded as an image.
  await page.waitForFunction(() => Array.from(document.querySelectorAll('figure.tile img'))
    .every((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth === 160));
  await page.selectOption('#f-status', 'accepted');
  await page.click('#apply');
  await page.waitForFunction(() => Array.from(document.querySelectorAll('figure.tile')).every((x) => x.classList.contains('accepted')));
  t.is(await page.locator('figure.tile').count(), one(`SELECT COUNT(*) FROM faces WHERE status = 'accepted'`));
  t.regex(page.url(), /status=accepted/);
  await shot(page, 'grid-accepted');
  await page.close();
});

test.serial('image grid: a crowd image shows every face box', async (t) => {
  const page = await open('/images.html');
  await page.waitForSelector('#f-reason option[value="too_many_faces"]', { state: 'attached' });
  await page.selectOption('#f-reason', 'too_many_faces');
  await page.click('#apply');
  await page.waitForFunction(() => document.querySelectorAll('figure.image-tile').length === 1);
  await page.waitForSelector('figure.image-tile svg rect.box');
  t.is(await page.locator('figure.image-tile svg rect.box').count(), one(`SELECT n_faces FROM images WHERE reason = 'too_many_faces'`));
  await page.selectOption('#f-reason', '');
  await page.click('#apply');
  await page.waitForFunction((n) => document.querySelectorAll('figure.image-tile').length === n, one('SELECT COUNT(*) FROM images'));
  t.is(await page.locator('figure.image-tile').count(), one('SELECT COUNT(*) FROM images'), 'the filter cleared shows every image');
  await shot(page, 'images');
  await page.close();
});

test.serial('detail page: faces drawn with boxes and landmarks; hostile caption and file name are only text', async (t) => {
  const sha = one<string>(`SELECT sha256 FROM images WHERE origin LIKE '%audrey.jpg'`);
  const page = await open('/grid.html?status=accepted');
  await page.waitForSelector('figure.tile');
  await page.click(`figure.tile[data-id="${faceOf('audrey.jpg')}"] a[href^="image.html"]`);
  await page.waitForSelector('#faces-overlay rect.box');
  t.regex(page.url(), new RegExp(sha));
  t.is(await page.locator('#faces-overlay rect.box').count(), one('SELECT COUNT(*) FROM faces WHERE image_sha256 = ?', sha));
  t.true((await page.locator('#faces-overlay circle.landmark').count()) > 100);
  t.is(await page.textContent('dd.m-caption'), HOSTILE_CAPTION);
  t.is(await page.textContent('dd.m-licence'), 'CC-BY-4.0');
  t.true((await page.locator('#near-duplicates figure').count()) >= 1);
  t.is(await xss(page), undefined);
  await shot(page, 'detail');
  await page.close();

  const hostile = one(`SELECT sha256 FROM images WHERE origin LIKE ?`, `%${HOSTILE_NAME}`);
  const p2 = await open(`/image.html?sha=${hostile}`);
  await p2.waitForSelector('.origin');
  t.true((await p2.textContent('.origin'))!.endsWith(HOSTILE_NAME));
  t.is(await p2.locator('main img[src="x"]').count(), 0);
  await p2.waitForTimeout(200);
  t.is(await xss(p2), undefined);
  await p2.close();
});

test.serial('search by clicking a face, then by a neighbour', async (t) => {
  const q = faceOf('franck_01829.jpg');
  const page = await open(`/search.html?face=${q}&k=4`);
  await page.waitForSelector('#neighbours figure');
  t.is(await page.getAttribute('#neighbours figure >> nth=0', 'data-id'), String(faceOf('franck_03909.jpg')));
  await page.click('#neighbours figure >> nth=0 >> figcaption');
  await page.waitForFunction((id) => location.search.includes(`face=${id}`), faceOf('franck_03909.jpg'));
  await page.waitForFunction((id) => document.querySelector('#neighbours figure')?.getAttribute('data-id') === String(id), q);
  t.regex(page.url(), new RegExp(`face=${faceOf('franck_03909.jpg')}\\b`));
  t.is(await page.getAttribute('#neighbours figure >> nth=0', 'data-id'), String(q), 'the neighbour\'s nearest is the first query');
  await shot(page, 'search-face');
  await page.close();
});

test.serial('search by upload: a chosen file, and a file dropped on the page', async (t) => {
  const page = await open('/search.html');
  await page.waitForSelector('#drop');
  await page.setInputFiles('#file', photo('audrey.jpg'));
  await page.waitForSelector('#upload-neighbours figure', { timeout: 60_000 });
  t.is(await page.getAttribute('#upload-neighbours figure >> nth=0', 'data-id'), String(faceOf('audrey.jpg')));
  t.is(await page.locator('.picture svg rect.box').count(), 1);
  await shot(page, 'search-upload');
  const bytes = [...readFileSync(photo('cage.jpg'))];
  await page.evaluate((data) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(data)], 'dropped.jpg', { type: 'image/jpeg' }));
    document.getElementById('drop')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, bytes);
  await page.waitForFunction((id) => document.querySelector('#upload-neighbours figure')?.getAttribute('data-id') === String(id),
    faceOf('cage.jpg'), { timeout: 60_000 });
  t.is(await page.getAttribute('#upload-neighbours figure >> nth=0', 'data-id'), String(faceOf('cage.jpg')), 'the dropped photo finds its own face');
  t.is(await page.locator('.picture svg rect.box').count(), 1);
  await page.close();
});

test.serial('reject a face in the grid: gone from the accepted filter, recorded under the curator name', async (t) => {
  const id = faceOf('cage.jpg');
  const page = await open('/grid.html?status=accepted');
  await page.waitForSelector(`figure.tile[data-id="${id}"]`);
  await page.fill('#who', 'carol');
  await page.dispatchEvent('#who', 'change');
  await page.check(`figure.tile[data-id="${id}"] input.pick`);
  await page.click('#do-reject');
  await page.waitForSelector(`figure.tile[data-id="${id}"]`, { state: 'detached' });
  t.is(await page.locator('figure.tile').count(), one(`SELECT COUNT(*) FROM faces WHERE status = 'accepted'`));
  t.is(one<string>('SELECT status FROM faces WHERE id = ?', id), 'rejected');
  t.is(one<string>('SELECT who FROM decisions WHERE face_id = ? ORDER BY id DESC', id), 'carol');
  await shot(page, 'grid-after-reject');
  await page.close();
});

test.serial("a run's curves and the evaluation table", async (t) => {
  const page = await open('/runs.html');
  await page.waitForSelector('a.run-link');
  await page.click('a.run-link');
  await page.waitForSelector('#curves svg.chart');
  // Loss terms, lr, teacher entropy, prototypes in use, img/s, and one chart each for the other keys.
  const titles = await page.locator('#curves .plot h4').allTextContents();
  for (const title of ['Loss terms', 'Learning rate', 'Teacher entropy', 'Prototypes in use', 'Throughput (img/s)', 'gradNorm']) {
    t.true(titles.includes(title), title);
  }
  t.is(await page.locator('#curves .plot:has(h4:text-is("Loss terms")) path').count(), 4);
  t.true((await page.locator('#evals tbody tr').count()) >= 2);
  // human, and two random inits: the depth-2 ViT's and the rows stored without an architecture, a column each.
  t.deepEqual(await page.locator('#evals th.baseline').allTextContents(), ['human', `random (${SHALLOW_VIT})`, 'random (ViT not recorded)']);
  // demo-run's probes at two rate schedules: never pooled, a column each.
  t.deepEqual(await page.locator('#evals th:not(.baseline)').allTextContents(), ['task', 'dataset', 'protocol', 'shots', 'metric', 'demo-run (constant-rate probe)', 'demo-run (cosine-rate probe)']);
  // NME is an error: the lowest is marked best; accuracy: the highest.
  t.is(await page.textContent('#evals tr:has-text("nme") td.best'), '12.50%');
  t.regex((await page.textContent('#evals tr:has-text("mean_accuracy") td.best'))!, /^80\.0%/);
  t.regex((await page.textContent('#evals tr:has-text("mean_accuracy")'))!, /75\.5% ± 0\.7%/);
  t.is(await page.locator('#evals-all tbody tr').count(), 3);
  await shot(page, 'runs');
  await page.close();
});

test.serial('an empty workspace shows empty states on every page, not errors', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'pros-web-empty-'));
  const ws = openWorkspace(root);
  const empty = await serve({ ws, config: { ...f.config, workspace: root }, port: 0 });
  try {
    for (const path of ['/', '/grid.html', '/images.html', '/search.html?face=1', '/runs.html', `/image.html?sha=${'a'.repeat(64)}`]) {
      const page = await browser.context.newPage();
      page.on('pageerror', (e) => problems.push(`empty ${path}: ${e.message}`));
      await page.goto(empty.url + path);
      await page.waitForSelector('.notice.empty');
      t.true((await page.locator('.notice.empty').count()) >= 1, path);
      if (path === '/') await shot(page, 'empty-overview');
      await page.close();
    }
  } finally {
    await empty.close();
    ws.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test.serial('no page threw, tripped the CSP or opened a dialog', (t) => {
  t.deepEqual(problems, [], problems.join('\n'));
  t.true(existsSync(join(OUT, 'overview.png')));
});
