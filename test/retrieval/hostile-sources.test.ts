// Hostile list files and folders: column names that are prototype keys, oversized metadata and header lines, long
// URLs, FIFOs, symbolic-link loops and dangling links. Each ends as bounded data or a recorded entry, never as a
// polluted prototype, a 5 MB message or a silently dropped file.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { defaults } from '../../src/config.ts';
import { Fetcher } from '../../retrieval/fetch/index.ts';
import { readSource, SourceError, type ReadOptions, type RejectedEntry, type SourceItem, type SourceRef } from '../../retrieval/sources/index.ts';
import { META_LIMITS, rowMeta } from '../../retrieval/sources/meta.ts';
import { pros } from '../helpers/cli.ts';
import type { ItemRow } from '../../src/contracts/rows.ts';

const dir = mkdtempSync(join(tmpdir(), 'pros-hostile-src-'));
const fetcher = new Fetcher(defaults.fetch);
test.after.always(() => fetcher.close());

async function collect(src: SourceRef) {
  const items: SourceItem[] = [];
  const rejected: RejectedEntry[] = [];
  const opts: ReadOptions = { crawl: defaults.crawl, fetcher, onReject: (e) => rejected.push(e) };
  for await (const it of readSource(src, opts)) items.push(it);
  return { items, rejected };
}

test('columns named __proto__, constructor and prototype are metadata like any other, and pollute nothing', async (t) => {
  const list = join(dir, 'proto.jsonl');
  writeFileSync(list, '{"url": "https://a.example/1.jpg", "__proto__": {"polluted": 1}, "constructor": "c", "prototype": "p", "toString": "s"}\n');
  const csv = join(dir, 'proto.csv');
  writeFileSync(csv, 'url,__proto__,constructor,prototype\nhttps://a.example/2.jpg,x,y,z\n');
  const a = (await collect({ kind: 'jsonl', uri: list })).items[0]!;
  const b = (await collect({ kind: 'csv', uri: csv })).items[0]!;
  // Objects and lists are not scalar metadata: the __proto__ object is dropped, the rest kept under their own names.
  t.deepEqual(Object.keys(a.meta!), ['constructor', 'prototype', 'toString']);
  t.is(Object.getOwnPropertyDescriptor(a.meta, 'constructor')?.value, 'c');
  t.deepEqual(Object.keys(b.meta!), ['__proto__', 'constructor', 'prototype']);
  t.is(JSON.stringify(b.meta), '{"__proto__":"x","constructor":"y","prototype":"z"}');
  t.is(Object.getPrototypeOf(b.meta), Object.prototype, 'the value is not the prototype');
  t.is(({} as Record<string, unknown>).polluted, undefined);
});

test('stored metadata is bounded: long values cut, too many columns dropped, long column names ignored', (t) => {
  const row: Record<string, unknown> = { url: 'https://a.example/x.jpg', caption: 'c'.repeat(5_000_000), ['k'.repeat(100)]: 'long name' };
  for (let i = 0; i < 100; i++) row[`col${i}`] = i;
  const meta = rowMeta(row, 'url')!;
  t.is((meta.caption as string).length, META_LIMITS.maxValueLength);
  t.true((meta.caption as string).endsWith('…'));
  t.is(Object.keys(meta).length, META_LIMITS.maxKeys);
  t.false(Object.keys(meta).some((k) => k.length > META_LIMITS.maxKeyLength));
});

test('a CSV header without a url column gives a short error; a 5 MB header line is malformed, briefly', async (t) => {
  const csv = join(dir, 'wide.csv');
  writeFileSync(csv, `${Array.from({ length: 5000 }, (_, i) => `column-${i}-${'x'.repeat(100)}`).join(',')}\nhttps://a.example/1.jpg\n`);
  const e = await t.throwsAsync(collect({ kind: 'csv', uri: csv }), { instanceOf: SourceError });
  t.true(e.message.startsWith(`${csv}:1: no "url" column`), e.message.slice(0, 200));
  t.regex(e.message, /5000 columns/);
  t.true(e.message.length < 1000, `message is ${e.message.length} characters`);

  const huge = join(dir, 'huge.csv');
  writeFileSync(huge, `${'x'.repeat(5 * 1024 * 1024)},caption\nhttps://a.example/1.jpg,c\n`);
  const r = await pros(['curate', huge, '-w', join(dir, 'ws-wide')]);
  t.is(r.code, 2);
  t.regex(r.stderr, /huge\.csv:1: malformed CSV/);
  t.true(r.stderr.length < 2000, `stderr is ${r.stderr.length} bytes`);
});

test('a URL longer than 8 KiB is rejected as too_long, and what is recorded of it is bounded', async (t) => {
  const list = join(dir, 'long.txt');
  writeFileSync(list, `https://a.example/${'a'.repeat(1_000_000)}.jpg\nhttps://a.example/ok.jpg\n`);
  const { items, rejected } = await collect({ kind: 'txt', uri: list });
  t.deepEqual(items.map((i) => i.uri), ['https://a.example/ok.jpg']);
  t.deepEqual(rejected.map((r) => [r.reason, r.status, r.value.length]), [['too_long', 'failed', 8192]]);
});

test('folder: FIFOs, symbolic-link loops and dangling links are recorded as entries with a reason, not dropped', async (t) => {
  const root = join(dir, 'tree');
  mkdirSync(join(root, 'sub'), { recursive: true });
  writeFileSync(join(root, 'a.jpg'), 'x');
  execFileSync('mkfifo', [join(root, 'pipe.jpg')]);
  symlinkSync(join(root, 'loop1.jpg'), join(root, 'loop2.jpg'));
  symlinkSync(join(root, 'loop2.jpg'), join(root, 'loop1.jpg'));
  symlinkSync(join(root, 'missing.jpg'), join(root, 'dangling.jpg'));
  symlinkSync(root, join(root, 'sub', 'back-to-root'));
  const { items, rejected } = await collect({ kind: 'folder', uri: root });
  t.deepEqual(items.map((i) => i.uri), [join(root, 'a.jpg')]);
  t.deepEqual(
    rejected.map((r) => [r.value.slice(root.length + 1), r.status, r.reason]).sort(),
    [
      ['dangling.jpg', 'failed', 'not_found'],
      ['loop1.jpg', 'skipped', 'symlink_loop'],
      ['loop2.jpg', 'skipped', 'symlink_loop'],
      ['pipe.jpg', 'skipped', 'not_a_file'],
      ['sub/back-to-root', 'skipped', 'symlink_loop'],
    ],
  );

  // Through `pros curate`, they are items of the workspace with that status and reason.
  const ws = join(dir, 'ws-tree');
  const r = await pros(['curate', root, '-w', ws, '--workers', '1', '--no-export', '--json']);
  t.is(r.code, 0, r.stderr);
  const db = new Database(join(ws, 'pros.db'), { readonly: true });
  const got = db.prepare<[string], Pick<ItemRow, 'uri' | 'status' | 'reason'>>('SELECT uri, status, reason FROM items WHERE reason IS NOT NULL AND uri != ? ORDER BY uri').all(join(root, 'a.jpg'));
  db.close();
  t.deepEqual(got.map((g) => `${g.uri.slice(root.length + 1)} ${g.status} ${g.reason}`), [
    'dangling.jpg failed not_found',
    'loop1.jpg skipped symlink_loop',
    'loop2.jpg skipped symlink_loop',
    'pipe.jpg skipped not_a_file',
    'sub/back-to-root skipped symlink_loop',
  ]);
});
