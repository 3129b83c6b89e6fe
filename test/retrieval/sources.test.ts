import test from 'ava';
import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetWriteFile } from 'hyparquet-writer';
import { defaults } from '../../src/config.ts';
import { InputError } from '../../src/errors.ts';
import { Fetcher } from '../../retrieval/fetch/index.ts';
import {
  detectSource,
  parseSrcset,
  readSource,
  SourceError,
  type ReadOptions,
  type RejectedEntry,
  type SourceItem,
  type SourceRef,
} from '../../retrieval/sources/index.ts';
import { FAULT_FETCH_CONFIG, startFaultServer } from '../helpers/fault-server.ts';

const dir = mkdtempSync(join(tmpdir(), 'pros-sources-'));
const fetcher = new Fetcher(FAULT_FETCH_CONFIG);
test.after.always(() => fetcher.close());

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

async function collect(src: SourceRef, extra: Partial<ReadOptions> = {}) {
  const items: SourceItem[] = [];
  const rejected: RejectedEntry[] = [];
  const opts: ReadOptions = { crawl: defaults.crawl, fetcher, onReject: (e) => rejected.push(e), ...extra };
  for await (const it of readSource(src, opts)) items.push(it);
  return { items, rejected };
}

test('detectSource: pages, folders, each list extension; clear errors for the rest', (t) => {
  t.deepEqual(detectSource('https://example.com/gallery#top'), { kind: 'page', uri: 'https://example.com/gallery' });
  t.deepEqual(detectSource(dir), { kind: 'folder', uri: dir });
  for (const [ext, kind] of [['txt', 'txt'], ['csv', 'csv'], ['TSV', 'tsv'], ['jsonl', 'jsonl'], ['ndjson', 'jsonl'], ['parquet', 'parquet']]) {
    const p = file(`detect.${ext}`, '');
    t.deepEqual(detectSource(p), { kind: kind as SourceRef['kind'], uri: p });
  }
  const missing = join(dir, 'missing.txt');
  const e1 = t.throws(() => detectSource(missing), { instanceOf: InputError });
  t.true(e1.message.includes(missing) && e1.message.includes('no such file') && e1.message.includes('.parquet'), e1.message);
  const xlsx = file('list.xlsx', 'x');
  const e2 = t.throws(() => detectSource(xlsx), { instanceOf: InputError });
  t.true(e2.message.includes(xlsx) && e2.message.includes('".xlsx"') && e2.message.includes('.jsonl'), e2.message);
  t.throws(() => detectSource('ftp://example.com/list.txt'), { instanceOf: InputError, message: /unsupported scheme/ });
});

test('txt: one URL a line; blanks and comments skipped; relative and other schemes rejected with their line', async (t) => {
  const p = file('list.txt', '\uFEFFhttps://a.example/1.jpg\n\n# a comment\n  http://b.example/2.png#frag  \r\nimg/3.jpg\nftp://c.example/4.jpg\ndata:image/png;base64,AAAA\nhttp://\n');
  const { items, rejected } = await collect({ kind: 'txt', uri: p });
  t.deepEqual(items, [
    { uri: 'https://a.example/1.jpg', local: false, depth: 0 },
    { uri: 'http://b.example/2.png', local: false, depth: 0 },
  ]);
  t.deepEqual(
    rejected.map((r) => [r.where, r.reason, r.status]),
    [[`${p}:5`, 'relative_url', 'failed'], [`${p}:6`, 'unsupported_scheme', 'failed'], [`${p}:7`, 'unsupported_scheme', 'failed'], [`${p}:8`, 'bad_url', 'failed']],
  );
});

test('csv and tsv: a url column in any case, quoted fields, other columns kept as metadata', async (t) => {
  const csv = file('list.csv', 'URL,caption,License,width,note\n"https://a.example/1.jpg","a face, smiling",cc-by,640,x\nhttps://a.example/2.jpg,,,,\n,"no url",,,\n');
  const { items, rejected } = await collect({ kind: 'csv', uri: csv });
  t.deepEqual(items, [
    { uri: 'https://a.example/1.jpg', local: false, depth: 0, meta: { caption: 'a face, smiling', licence: 'cc-by', width: 640, note: 'x' } },
    { uri: 'https://a.example/2.jpg', local: false, depth: 0 },
  ]);
  t.deepEqual(rejected.map((r) => [r.where, r.reason]), [[`${csv}:4`, 'missing_url']]);
  const tsv = file('list.tsv', 'id\turl\tTEXT\n1\thttps://a.example/1.jpg\tsays "hi" here\n2\t/rel.jpg\tx\n');
  const out = await collect({ kind: 'tsv', uri: tsv });
  t.deepEqual(out.items, [{ uri: 'https://a.example/1.jpg', local: false, depth: 0, meta: { id: '1', caption: 'says "hi" here' } }]);
  t.deepEqual(out.rejected.map((r) => [r.where, r.reason]), [[`${tsv}:3`, 'relative_url']]);
});

test('csv without a url column, and a malformed csv, fail naming the file and line', async (t) => {
  const noUrl = file('nourl.csv', 'link,caption\nhttps://a.example/1.jpg,x\n');
  const e1 = await t.throwsAsync(collect({ kind: 'csv', uri: noUrl }), { instanceOf: SourceError });
  t.true(e1.message.startsWith(`${noUrl}:1`) && e1.message.includes('no "url" column') && e1.message.includes('"link"'), e1.message);
  t.true(e1 instanceof InputError, 'a source error is an input error (exit code 2)');
  const bad = file('bad.csv', 'url,caption\nhttps://a.example/1.jpg,x\nhttps://a.example/2.jpg,y,extra,columns\n');
  const e2 = await t.throwsAsync(collect({ kind: 'csv', uri: bad }), { instanceOf: SourceError });
  t.true(e2.message.startsWith(`${bad}:3`) && e2.message.includes('malformed CSV'), e2.message);
  const unclosed = file('unclosed.csv', 'url,caption\nhttps://a.example/1.jpg,"never closed\n');
  const e3 = await t.throwsAsync(collect({ kind: 'csv', uri: unclosed }), { instanceOf: SourceError });
  t.true(e3.message.includes(unclosed), e3.message);
});

test('jsonl: url field in any case with metadata; an unparsable line fails naming its line', async (t) => {
  const p = file('list.jsonl', '{"url":"https://a.example/1.jpg","caption":"c","licence":"cc0","tags":["x"]}\n\n{"URL":"https://a.example/2.jpg","height":480}\n{"caption":"no url"}\n');
  const { items, rejected } = await collect({ kind: 'jsonl', uri: p });
  t.deepEqual(items, [
    { uri: 'https://a.example/1.jpg', local: false, depth: 0, meta: { caption: 'c', licence: 'cc0' } },
    { uri: 'https://a.example/2.jpg', local: false, depth: 0, meta: { height: 480 } },
  ]);
  t.deepEqual(rejected.map((r) => [r.where, r.reason]), [[`${p}:4`, 'missing_url']]);
  const bad = file('bad.jsonl', '{"url":"https://a.example/1.jpg"}\n{"url": "https://a.example/2.jpg"\n');
  const seen: string[] = [];
  const e = await t.throwsAsync(
    (async () => { for await (const it of readSource({ kind: 'jsonl', uri: bad }, { crawl: defaults.crawl, fetcher })) seen.push(it.uri); })(),
    { instanceOf: SourceError },
  );
  t.true(e.message.startsWith(`${bad}:2: not valid JSON`), e.message);
  t.deepEqual(seen, ['https://a.example/1.jpg'], 'rows before the bad line were yielded');
  const arr = file('arr.jsonl', '["https://a.example/1.jpg"]\n');
  await t.throwsAsync(collect({ kind: 'jsonl', uri: arr }), { instanceOf: SourceError, message: /arr\.jsonl:1: expected a JSON object/ });
});

test('parquet in the LAION layout, several row groups; broken and url-less files fail naming the file', async (t) => {
  const p = join(dir, 'laion.parquet');
  const n = 7;
  parquetWriteFile({
    filename: p,
    rowGroupSize: 3,
    columnData: [
      { name: 'SAMPLE_ID', data: Array.from({ length: n }, (_, i) => BigInt(1000 + i)), type: 'INT64' },
      { name: 'URL', data: Array.from({ length: n }, (_, i) => (i === 4 ? 'not a url' : `https://laion.example/${i}.jpg`)), type: 'STRING' },
      { name: 'TEXT', data: Array.from({ length: n }, (_, i) => `caption ${i}`), type: 'STRING' },
      { name: 'HEIGHT', data: Array.from({ length: n }, () => 256), type: 'INT32' },
      { name: 'WIDTH', data: Array.from({ length: n }, () => 320), type: 'INT32' },
      { name: 'LICENSE', data: Array.from({ length: n }, (_, i) => (i % 2 ? '?' : 'cc-by')), type: 'STRING' },
      { name: 'similarity', data: Array.from({ length: n }, () => 0.31), type: 'DOUBLE' },
    ],
  });
  const { items, rejected } = await collect({ kind: 'parquet', uri: p });
  t.is(items.length, n - 1);
  t.deepEqual(items[0], {
    uri: 'https://laion.example/0.jpg', local: false, depth: 0,
    meta: { SAMPLE_ID: 1000, caption: 'caption 0', height: 256, width: 320, licence: 'cc-by', similarity: 0.31 },
  });
  t.deepEqual(items.map((i) => i.uri.split('/').pop()), ['0.jpg', '1.jpg', '2.jpg', '3.jpg', '5.jpg', '6.jpg']);
  t.deepEqual(rejected.map((r) => [r.where, r.reason]), [[`${p}:row 5`, 'relative_url']]);

  const garbage = file('garbage.parquet', 'this is not parquet at all, just text');
  const e1 = await t.throwsAsync(collect({ kind: 'parquet', uri: garbage }), { instanceOf: SourceError });
  t.true(e1.message.startsWith(garbage) && e1.message.includes('not a readable parquet'), e1.message);
  const noUrl = join(dir, 'nourl.parquet');
  parquetWriteFile({ filename: noUrl, columnData: [{ name: 'link', data: ['https://a.example/x.jpg'], type: 'STRING' }] });
  await t.throwsAsync(collect({ kind: 'parquet', uri: noUrl }), { instanceOf: SourceError, message: /nourl\.parquet: no "url" column \(columns: link\)/ });
});

test('folder: recursive, sorted, hidden and non-image files skipped, symlink loops followed once', async (t) => {
  const root = join(dir, 'tree');
  for (const d of ['b', 'a/deep', '.hidden']) mkdirSync(join(root, d), { recursive: true });
  for (const f of ['z.jpg', 'b/2.png', 'b/1.webp', 'a/deep/x.jpeg', 'a/y', '.secret.jpg', '.hidden/h.jpg', 'notes.txt', 'a/meta.json'])
    writeFileSync(join(root, f), 'x');
  symlinkSync(root, join(root, 'a', 'loop'));
  const { items } = await collect({ kind: 'folder', uri: root });
  t.deepEqual(items.map((i) => i.uri.slice(root.length + 1)), ['a/deep/x.jpeg', 'a/y', 'b/1.webp', 'b/2.png', 'z.jpg']);
  t.true(items.every((i) => i.local && i.depth === 0 && i.uri.startsWith('/')));
});

test('a 100k-line txt list is streamed: the first item arrives while the list is still being written', async (t) => {
  // A named pipe: a reader that waited for the whole list (or its size) would never yield while the writer is open.
  const fifo = join(dir, 'stream.txt');
  execFileSync('mkfifo', [fifo]);
  const out = createWriteStream(fifo);
  out.write('https://s.example/0.jpg\n');
  const iter = readSource({ kind: 'txt', uri: fifo }, { crawl: defaults.crawl, fetcher })[Symbol.asyncIterator]();
  const first = await Promise.race([
    iter.next(),
    new Promise<'stalled'>((r) => setTimeout(() => r('stalled'), 3000)),
  ]);
  t.not(first, 'stalled', 'the first item came before the list ended');
  if (first === 'stalled') { out.destroy(); return; }
  t.is(first.value?.uri, 'https://s.example/0.jpg');
  const total = 100_000;
  const writeAll = (async () => {
    for (let i = 1; i < total; i++) if (!out.write(`https://s.example/${i}.jpg\n`)) await new Promise<void>((r) => out.once('drain', () => r()));
    out.end();
  })();
  let count = 1;
  let last = '';
  for (let r = await iter.next(); !r.done; r = await iter.next()) { count++; last = r.value.uri; }
  await writeAll;
  t.is(count, total);
  t.is(last, `https://s.example/${total - 1}.jpg`);
});

test('srcset candidates, parsed as the HTML spec does', (t) => {
  t.deepEqual(parseSrcset('a.jpg 1x, b.jpg 2x'), ['a.jpg', 'b.jpg']);
  t.deepEqual(parseSrcset('/i/w_100,h_100/c.jpg 100w,/d.jpg 200w'), ['/i/w_100,h_100/c.jpg', '/d.jpg']);
  t.deepEqual(parseSrcset('e.jpg 1x,f.jpg 2x'), ['e.jpg', 'f.jpg']);
  t.deepEqual(parseSrcset('g.jpg,, h.jpg'), ['g.jpg', 'h.jpg'], 'trailing commas end a candidate');
  t.deepEqual(parseSrcset('i.jpg,j.jpg 2x'), ['i.jpg,j.jpg'], 'as in the HTML spec, a comma inside a URL is part of it');
  t.deepEqual(parseSrcset('  '), []);
});

test('crawl: depth 0, 1 and 2, same-host filtering, dedup, fragments, robots and page-level noai', async (t) => {
  const server = await startFaultServer();
  t.teardown(() => server.close());
  const start = detectSource(server.url('/site/index.html'));
  const path = (u: string) => u.replace(/^http:\/\/[^/]+/, '');
  const run = async (depth: number, sameHost = true, maxPages = 50) => {
    const pages: Array<[string, string]> = [];
    const depths: number[] = [];
    const r = await collect(start, {
      crawl: { depth, sameHost, maxPages },
      onPage: (u, o, d) => { pages.push([path(u), o.ok ? 'ok' : o.reason]); depths.push(d); },
    });
    return { ...r, pages, depths, got: r.items.map((i) => `${path(i.uri)}@${i.depth}`) };
  };
  const level0 = ['/good.jpg@0', '/slow.jpg@0', '/flaky.jpg?w=1@0', '/truncated.jpg@0', '/bomb.png@0', '/gzip.jpg@0', '/noai.jpg@0', '/photo.jpg@0'];
  const d0 = await run(0);
  t.deepEqual(d0.got, level0, 'img src, every srcset candidate, <source>, <a href> to an image; each once');
  t.deepEqual(d0.pages, [['/site/index.html', 'ok']]);
  t.true(d0.items.every((i) => !i.local && i.meta?.page === server.url('/site/index.html')));

  const d1 = await run(1);
  t.deepEqual(d1.got, [...level0, '/noimageai.jpg@1']);
  t.deepEqual(d1.pages, [['/site/index.html', 'ok'], ['/site/a.html', 'ok'], ['/private/page.html', 'robots']]);
  t.false(d1.pages.some(([p]) => p === '/site/b.html'), 'the link to another host is not followed');

  const d2 = await run(2);
  t.deepEqual(d2.got, [...level0, '/noimageai.jpg@1', '/redirect.jpg@2']);
  t.is(d2.pages.filter(([p]) => p === '/site/a.html').length, 1, 'a.html linked three ways is crawled once');
  t.deepEqual(d2.depths, [0, 1, 1, 2, 2], 'pages are reported breadth first with their depth');

  const other = await run(1, false);
  t.true(other.got.includes('/html-as.jpg@1'), 'sameHost false follows the other host name');
  t.true(other.pages.some(([p, s]) => p === '/site/b.html' && s === 'ok'));

  const capped = await run(2, true, 2);
  t.is(capped.pages.length, 2, 'maxPages caps pages fetched');

  const optout = await collect(detectSource(server.url('/site/optout.html')), { crawl: { depth: 0, sameHost: true, maxPages: 5 } });
  t.deepEqual(optout.items, []);
  t.deepEqual(optout.rejected.map((r) => [path(r.value), r.status, r.reason]), [['/good.jpg', 'skipped', 'noai'], ['/photo.jpg', 'skipped', 'noai']]);

  const image = await collect(detectSource(server.url('/good.jpg')), { crawl: { depth: 1, sameHost: true, maxPages: 5 } });
  t.deepEqual(image.items.map((i) => path(i.uri)), ['/good.jpg'], 'a start URL that is an image is taken as one');
});
