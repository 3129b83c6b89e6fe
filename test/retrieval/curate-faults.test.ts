// `pros curate` against a hostile loopback server: the run finishes, nothing crashes, and every URL ends with the
// status and reason it should, whether it failed at fetch or at decode.
import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { startFaultServer, FAULT_FETCH_CONFIG } from '../helpers/fault-server.ts';
import { pros } from '../helpers/cli.ts';
import type { ItemRow } from '../../src/contracts/rows.ts';

/** Items that fetch fine but must not be curated, and why (decided by sniffing and decoding, not headers). */
const decodeOutcome: Record<string, { status: string; reason: string }> = {
  '/truncated.jpg': { status: 'failed', reason: 'decode_error' },
  '/html-as.jpg': { status: 'failed', reason: 'not_image' },
  '/bomb.png': { status: 'failed', reason: 'too_many_pixels' },
};

test('every URL of a hostile server ends with its expected status and reason', async (t) => {
  const server = await startFaultServer();
  t.teardown(() => server.close());
  const dir = mkdtempSync(join(tmpdir(), 'pros-faults-'));
  const routes = server.routes.filter((r) => !r.path.endsWith('.html'));
  const list = join(dir, 'urls.txt');
  writeFileSync(list, routes.map((r) => server.url(r.path)).join('\n') + '\nnot a url\nftp://example.invalid/x.jpg\n');
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ fetch: FAULT_FETCH_CONFIG, faces: { workers: 1 } }));

  const r = await pros(['curate', list, '-w', join(dir, 'ws'), '-c', config, '--set', 'faults', '--json']);
  t.is(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  t.is(summary.items.pending, 0, 'nothing left pending');

  const db = new Database(join(dir, 'ws', 'pros.db'), { readonly: true });
  const row = db.prepare<[string], Pick<ItemRow, 'status' | 'reason'>>('SELECT status, reason FROM items WHERE uri = ?');
  for (const route of routes) {
    const got = row.get(server.url(route.path));
    const want = decodeOutcome[route.path] ?? route.expect;
    t.truthy(got, `${route.path} recorded`);
    t.is<string, string>(got!.status, want.status, `${route.path} status`);
    if (want.reason) t.is(got!.reason, want.reason, `${route.path} reason`);
  }
  const invalid = db.prepare<[], Pick<ItemRow, 'uri' | 'status' | 'reason'>>("SELECT uri, status, reason FROM items WHERE uri NOT LIKE 'http://127.0.0.1%' ORDER BY uri").all();
  t.deepEqual(invalid.map((i) => [i.status, i.reason]), [
    ['failed', 'unsupported_scheme'],
    ['failed', 'relative_url'],
  ]);
  db.close();
});
