// "Forget this person" in a real browser (Debian's Chromium driven by playwright-core) over a workspace built by the
// real curate pipeline: the dry-run list shows first and nothing changes until the curator confirms; then the
// person's faces are gone, the audit page lists the request and the run that trained on them, and the run page
// says it is affected. The forget POST gets the same Origin and Host checks as every state change.
import test from 'ava';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import type { Page } from 'playwright-core';
import { launchChromium, openPage, type Browser } from '../helpers/browser.ts';
import { recordLineage } from '../../src/lineage.ts';
import { buildFixture, post, type Fixture } from './helpers.ts';

const OUT = join(process.cwd(), 'test-output', 'web');

let f: Fixture;
let browser: Browser;
const problems: string[] = [];

test.before(async () => {
  mkdirSync(OUT, { recursive: true });
  f = await buildFixture();
  // The fixture's run trained on every accepted face, as the trainer records it (src/lineage.ts).
  const ids = f.ws.db.prepare<[], number>("SELECT id FROM faces WHERE status = 'accepted'").pluck().all();
  recordLineage(f.ws.db, 'demo-run', join(f.ws.paths.curated, 'people'), 'manifest', ids, 0);
  browser = await launchChromium();
});
test.after.always(async () => {
  await browser?.close();
  await f?.close();
});

const open = (path: string): Promise<Page> => openPage(browser, f.url + path, problems, path);
const one = <T = number>(sql: string, ...args: unknown[]) => f.ws.db.prepare<unknown[], T>(sql).pluck().get(...args)!;
const all = <T = number>(sql: string, ...args: unknown[]) => f.ws.db.prepare<unknown[], T>(sql).pluck().all(...args);
const CONNERY = `SELECT f.id FROM faces f JOIN images i ON i.sha256 = f.image_sha256 WHERE i.origin LIKE '%SeanConnery.jpg' OR i.origin LIKE '%connery-exif6.jpg'`;

test.serial('the forget POST refuses other origins, other hosts and requests without confirmation', async (t) => {
  const face = all(CONNERY)[0];
  t.is((await post(f.url, '/api/privacy/forget', { face, confirm: true }, { origin: 'http://evil.example' })).status, 403);
  const noOrigin = await fetch(`${f.url}/api/privacy/forget`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ face, confirm: true }) });
  t.is(noOrigin.status, 403);
  const rebound = await new Promise<number>((done, fail) => {
    const req = request(`${f.url}/api/privacy/forget`, { method: 'POST', headers: { host: 'evil.example', origin: 'http://evil.example', 'content-type': 'application/json' } }, (res) => {
      res.resume();
      done(res.statusCode!);
    });
    req.on('error', fail);
    req.end(JSON.stringify({ face, confirm: true }));
  });
  t.is(rebound, 421);
  const unconfirmed = await post(f.url, '/api/privacy/forget', { face });
  t.is(unconfirmed.status, 400);
  t.regex((await unconfirmed.json()).error, /confirm/);
  t.is(one('SELECT count(*) FROM forget_requests'), 0);
  t.true(all(CONNERY).length >= 1);
});

test.serial('forget this person: the dry-run list first, then confirm; faces gone, audit and run page tell', async (t) => {
  const ids = all(CONNERY) as number[];
  const seen = all(`SELECT face_id FROM run_faces WHERE run = 'demo-run' AND face_id IN (${ids.join(',')})`).length;
  t.true(seen >= 1);
  const sha = one(`SELECT sha256 FROM images WHERE origin LIKE '%SeanConnery.jpg'`);
  const total = one('SELECT count(*) FROM faces');
  const page = await open(`/image.html?sha=${sha}`);
  await page.waitForSelector('button.forget');
  await page.click('button.forget');
  await page.waitForSelector('#forget-panel #forget-list figure');
  const listed = (await page.locator('#forget-list figure').evaluateAll((els) => els.map((e) => Number((e as HTMLElement).dataset.id)))).sort((a, b) => a - b);
  t.deepEqual(listed, [...ids].sort((a, b) => a - b), 'the preview lists the person\'s faces');
  t.regex((await page.textContent('#forget-panel'))!, /demo-run/);
  // Previewing changed nothing.
  t.is(one('SELECT count(*) FROM faces'), total);
  t.is(one('SELECT count(*) FROM forget_requests'), 0);
  await page.screenshot({ path: join(OUT, 'forget-preview.png'), fullPage: true });
  await page.click('#forget-confirm');
  await page.waitForSelector('#forget-done');
  t.is(one('SELECT count(*) FROM faces'), total - ids.length);
  t.is(all(CONNERY).length, 0);
  t.is(one<string>('SELECT who FROM forget_requests'), 'web');
  await page.close();

  const audit = await open('/audit.html');
  await audit.waitForSelector('#forget-requests tbody tr');
  t.is(await audit.locator('#forget-requests tbody tr').count(), 1);
  const row = (await audit.textContent('#forget-requests tbody tr'))!;
  t.regex(row, /done/);
  t.regex(row, /demo-run/);
  t.is(await audit.locator('#affected-runs li').count(), 1);
  t.is(await audit.locator('#optouts tbody tr').count(), 1);
  await audit.screenshot({ path: join(OUT, 'audit.png'), fullPage: true });
  await audit.close();

  const runs = await open('/runs.html?run=demo-run');
  await runs.waitForSelector('#run-affected');
  t.regex((await runs.textContent('#run-affected'))!, new RegExp(`#1 \\(${seen} face`));
  await runs.close();
  t.deepEqual(problems, []);
});
