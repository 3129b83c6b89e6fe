// `pros serve` as a user runs it: on an empty workspace every API answers with an empty state (not an error), it
// binds loopback, prints where it listens with --json, stops cleanly on SIGINT, and refuses a bad port.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pros, startPros } from '../helpers/cli.ts';
import { getJson } from './helpers.ts';

test('serve an empty workspace, answer with empty states, stop on SIGINT', async (t) => {
  const ws = mkdtempSync(join(tmpdir(), 'pros-web-empty-'));
  const { child, done } = startPros(['serve', '--port', '0', '--json', '-w', ws]);
  const url = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d) => {
      buf += d;
      const line = buf.split('\n')[0];
      if (buf.includes('\n')) resolve(JSON.parse(line).url);
    });
    child.once('close', () => reject(new Error('serve exited before listening')));
  });
  t.regex(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const overview = (await getJson(url, '/api/overview')).body;
  t.is(overview.totals.faces, 0);
  t.deepEqual(overview.sets, []);
  t.deepEqual(overview.faceRatio.accepted, Array(20).fill(0));
  const grid = (await getJson(url, '/api/faces')).body;
  t.deepEqual(grid, { total: 0, offset: 0, limit: 60, faces: [] });
  t.deepEqual((await getJson(url, '/api/runs')).body.runs, []);
  t.deepEqual((await getJson(url, '/api/evals')).body.results, []);
  t.deepEqual((await getJson(url, '/api/search/spaces')).body.spaces, ['human']);
  t.is((await fetch(`${url}/grid.html`)).status, 200);
  child.kill('SIGINT');
  const r = await done;
  t.is(r.code, 0, r.stderr);
  t.is(JSON.parse(r.stdout.split('\n').slice(1).join('\n')).stoppedBy, 'SIGINT');
  rmSync(ws, { recursive: true, force: true });
});

test('a port out of range is a usage error', async (t) => {
  const ws = mkdtempSync(join(tmpdir(), 'pros-web-empty-'));
  const r = await pros(['serve', '--port', '70000', '-w', ws]);
  t.is(r.code, 2);
  t.regex(r.stderr, /port must be at most 65535/);
  const bad = await pros(['serve', '--port', 'abc', '-w', ws]);
  t.is(bad.code, 2);
  rmSync(ws, { recursive: true, force: true });
});
