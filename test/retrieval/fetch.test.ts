import test from 'ava';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Fetcher, FETCH_REASONS, optsOutOfAI, readLocalFile } from '../../retrieval/fetch/index.ts';
import { FAULT_FETCH_CONFIG, startFaultServer } from '../helpers/fault-server.ts';
import { testIf } from '../helpers/requires.ts';

test('every fault route ends with its expected outcome, and robots.txt is fetched once', async (t) => {
  const server = await startFaultServer();
  const fetcher = new Fetcher(FAULT_FETCH_CONFIG);
  t.teardown(async () => { fetcher.close(); await server.close(); });
  const outcomes = await Promise.all(server.routes.map(async (r) => ({ r, o: await fetcher.fetch(server.url(r.path)) })));
  for (const { r, o } of outcomes) {
    if (r.expect.status === 'ok') t.true(o.ok, `${r.path}: ${JSON.stringify(o.ok ? '' : o)}`);
    else {
      t.false(o.ok, r.path);
      if (!o.ok) t.deepEqual({ status: o.status, reason: o.reason }, r.expect, r.path);
    }
  }
  const by = (p: string) => outcomes.find((x) => x.r.path === p)!.o;
  const good = by('/good.jpg');
  t.true(good.ok && good.bytes.equals(server.goodJpeg) && good.contentType === 'image/jpeg' && good.httpStatus === 200);
  const gz = by('/gzip.jpg');
  t.true(gz.ok && gz.bytes.equals(server.goodJpeg), 'gzip content-encoding is decoded');
  const slow = by('/slow.jpg');
  t.true(slow.ok && slow.bytes.equals(server.goodJpeg), 'a slow body within the timeout arrives whole');
  const redirected = by('/redirect.jpg');
  t.true(redirected.ok && redirected.finalUrl === server.url('/good.jpg'));
  // Retries only on transient errors: 503 once then ok → 2; 500 and reset → 1 + retries; 404 → 1.
  t.is(by('/flaky.jpg').attempts, 2);
  t.is(by('/500').attempts, 1 + FAULT_FETCH_CONFIG.retries);
  t.is(by('/reset').attempts, 1 + FAULT_FETCH_CONFIG.retries);
  t.is(by('/404').attempts, 1);
  t.is(by('/oversize.jpg').attempts, 1);
  t.is(by('/hang').attempts, 1 + FAULT_FETCH_CONFIG.retries);
  t.is(server.hits('/flaky.jpg'), 2);
  t.is(server.hits('/404'), 1);
  t.is(server.hits('/private/face.jpg'), 0, 'a robots-disallowed URL is never requested');
  t.is(server.hits('/robots.txt'), 1, 'robots.txt fetched once for the origin, shared by concurrent fetches');
  const chain = by('/chain/0');
  t.true(!chain.ok && chain.attempts === FAULT_FETCH_CONFIG.maxRedirects + 1);
  // Every reason produced is documented.
  for (const { o } of outcomes) if (!o.ok) t.true(o.reason in FETCH_REASONS || /^http_\d{3}$/.test(o.reason), o.reason);
});

test('per-host and global concurrency limits are never exceeded, and are reached', async (t) => {
  const server = await startFaultServer({ holdMs: 80 });
  const fetcher = new Fetcher({ ...FAULT_FETCH_CONFIG, perHost: 3, concurrency: 4 });
  t.teardown(async () => { fetcher.close(); await server.close(); });
  const urls = [];
  for (let i = 0; i < 15; i++) urls.push(server.url(`/slow/${i}`), server.otherHostUrl(`/slow/${i}`));
  const outs = await Promise.all(urls.map((u) => fetcher.fetch(u)));
  t.true(outs.every((o) => o.ok));
  const port = new URL(server.url('/')).port;
  const a = server.maxConcurrent(`127.0.0.1:${port}`);
  const b = server.maxConcurrent(`localhost:${port}`);
  t.true(a <= 3 && b <= 3, `per host: ${a}, ${b}`);
  t.true(Math.max(a, b) === 3, 'the per-host limit is reached');
  t.is(server.maxConcurrent(), 4, 'the global limit holds across hosts and is reached');
});

test('the robots.txt cache is bounded: an origin dropped from it is fetched again', async (t) => {
  const server = await startFaultServer();
  const fetcher = new Fetcher(FAULT_FETCH_CONFIG, { robotsCacheSize: 1 });
  t.teardown(async () => { fetcher.close(); await server.close(); });
  for (const u of [server.url('/good.jpg'), server.url('/photo.jpg'), server.otherHostUrl('/good.jpg'), server.url('/good.jpg')])
    t.true((await fetcher.fetch(u)).ok);
  t.is(server.hits('/robots.txt'), 3, '127.0.0.1, localhost, then 127.0.0.1 again after eviction');
});

test('Retry-After is honoured up to the cap', async (t) => {
  const server = await startFaultServer();
  // The waits the fetcher takes are what it is told: counted and compared, not timed.
  const waits: Array<{ ms: number; retryAfter: boolean }> = [];
  const fetcher = new Fetcher(FAULT_FETCH_CONFIG, { retryAfterCapMs: 200, onWait: ({ ms, retryAfter }) => waits.push({ ms, retryAfter }) });
  t.teardown(async () => { fetcher.close(); await server.close(); });
  const o = await fetcher.fetch(server.url('/throttled.jpg?after=30'));
  t.true(o.ok);
  t.is(o.attempts, 2);
  t.deepEqual(waits, [{ ms: 200, retryAfter: true }], 'one wait, a Retry-After of 30 s capped at 200 ms');
  // With a 5 s backoff, only honouring Retry-After: 0 makes the retry come at once.
  waits.length = 0;
  const patient = new Fetcher({ ...FAULT_FETCH_CONFIG, backoffMs: 5_000 }, { onWait: ({ ms, retryAfter }) => waits.push({ ms, retryAfter }) });
  t.teardown(() => patient.close());
  t.true((await patient.fetch(server.url('/throttled.jpg?after=0'))).ok);
  t.deepEqual(waits, [{ ms: 0, retryAfter: true }], 'Retry-After: 0 retries at once, not after the backoff');
});

test('opt-outs can be turned off: robots and noai', async (t) => {
  const server = await startFaultServer();
  const fetcher = new Fetcher({ ...FAULT_FETCH_CONFIG, respectRobots: false, respectNoAI: false });
  t.teardown(async () => { fetcher.close(); await server.close(); });
  t.true((await fetcher.fetch(server.url('/private/face.jpg'))).ok);
  t.true((await fetcher.fetch(server.url('/noai.jpg'))).ok);
  t.is(server.hits('/robots.txt'), 0);
});

test('X-Robots-Tag forms that opt out of AI use', (t) => {
  for (const v of ['noai', 'NoImageAI', 'otherbot: noai', 'index, follow, noimageai', 'googlebot: noindex, noai'])
    t.true(optsOutOfAI(v), v);
  t.true(optsOutOfAI(['index', 'noimageai']));
  for (const v of ['noindex', 'nofollow, noarchive', 'noairbag', 'index', '']) t.false(optsOutOfAI(v), v);
  t.false(optsOutOfAI(undefined));
});

test('bad URLs, schemes, refused connections, DNS failures and aborts get their reasons', async (t) => {
  const fetcher = new Fetcher(FAULT_FETCH_CONFIG);
  t.teardown(() => fetcher.close());
  const bad = await fetcher.fetch('not a url');
  t.true(!bad.ok && bad.reason === 'bad_url' && bad.attempts === 0);
  const ftp = await fetcher.fetch('ftp://127.0.0.1/a.jpg');
  t.true(!ftp.ok && ftp.reason === 'unsupported_scheme');
  // A port that was just free: nothing listens there.
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((r) => closed.close(r));
  const refused = await fetcher.fetch(`http://127.0.0.1:${port}/a.jpg`);
  t.true(!refused.ok && refused.reason === 'refused' && refused.status === 'failed', JSON.stringify(refused));
  const dns = await fetcher.fetch('http://no-such-host.invalid/a.jpg');
  t.true(!dns.ok && dns.reason === 'dns' && dns.status === 'failed', JSON.stringify(dns));

  const server = await startFaultServer();
  t.teardown(() => server.close());
  const ctrl = new AbortController();
  setTimeout(() => ctrl.abort(), 100);
  const aborted = await fetcher.fetch(server.url('/hang'), { signal: ctrl.signal });
  // A hanging request ends by the abort or by its timeout; the reason says which came first.
  t.true(!aborted.ok && aborted.reason === 'aborted', JSON.stringify(aborted));
});

test('robots.txt answering 5xx skips the host; 4xx allows all; a group naming our product token applies', async (t) => {
  let robotsStatus = 503;
  const img = Buffer.from('not really an image');
  const server = createServer((req, res) => {
    if (req.url === '/robots.txt') {
      res.writeHead(robotsStatus);
      return res.end('User-agent: *\nDisallow: /\n\nUser-agent: pros\nDisallow: /b.jpg\n');
    }
    res.writeHead(200, { 'content-type': 'image/jpeg' });
    res.end(img);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/a.jpg`;
  const f1 = new Fetcher({ ...FAULT_FETCH_CONFIG, retries: 0 });
  const o1 = await f1.fetch(url);
  t.true(!o1.ok && o1.status === 'skipped' && o1.reason === 'robots_unavailable', JSON.stringify(o1));
  f1.close();
  robotsStatus = 404;
  const f2 = new Fetcher(FAULT_FETCH_CONFIG);
  const o2 = await f2.fetch(url);
  t.true(o2.ok && o2.bytes.equals(img));
  f2.close();
  robotsStatus = 200;
  const f3 = new Fetcher(FAULT_FETCH_CONFIG);
  t.true((await f3.fetch(url)).ok, 'the pros group allows /a.jpg although * disallows all');
  const b = await f3.fetch(url.replace('/a.jpg', '/b.jpg'));
  t.true(!b.ok && b.reason === 'robots');
  f3.close();
});

test('readLocalFile: bytes, missing, a folder, too large', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pros-local-'));
  writeFileSync(join(dir, 'a.bin'), Buffer.alloc(100, 7));
  mkdirSync(join(dir, 'sub'));
  const ok = await readLocalFile(join(dir, 'a.bin'), 1000);
  t.true(ok.ok && ok.bytes.length === 100 && ok.bytes[99] === 7);
  const missing = await readLocalFile(join(dir, 'nope.jpg'), 1000);
  t.true(!missing.ok && missing.reason === 'not_found' && missing.status === 'failed');
  const folder = await readLocalFile(join(dir, 'sub'), 1000);
  t.true(!folder.ok && folder.reason === 'not_a_file');
  const big = await readLocalFile(join(dir, 'a.bin'), 99);
  t.true(!big.ok && big.reason === 'too_large');
  const exact = await readLocalFile(join(dir, 'a.bin'), 100);
  t.true(exact.ok);
});

test('a gzip body is capped on its inflated size', async (t) => {
  const server = await startFaultServer();
  const fetcher = new Fetcher(FAULT_FETCH_CONFIG);
  t.teardown(async () => { fetcher.close(); await server.close(); });
  const o = await fetcher.fetch(server.url('/gzip-bomb.jpg'));
  t.true(!o.ok && o.reason === 'too_large', JSON.stringify(o));
  const wire = gzipSync(Buffer.alloc(2 * 1024 * 1024, 0)).length;
  t.true(wire < FAULT_FETCH_CONFIG.maxBytes, `the compressed body (${wire} B) is itself under the cap`);
});

// A listening socket whose accept queue is full drops further SYNs, so connect() hangs: the one way to make a
// loopback connect time out. Node always accepts, so a tiny python3 listener (backlog 0, never accepts) holds it.
const hasPython = (() => {
  try {
    execFileSync('python3', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
testIf(hasPython, 'python3 not installed')('a connect that never completes ends with connect_timeout', async (t) => {
  const py = spawn('python3', ['-c', 'import socket,time\ns=socket.socket();s.bind(("127.0.0.1",0));s.listen(0);print(s.getsockname()[1],flush=True);time.sleep(60)']);
  const fillers: net.Socket[] = [];
  t.teardown(() => { for (const s of fillers) s.destroy(); py.kill(); });
  const port = await new Promise<number>((r) => py.stdout.once('data', (d) => r(Number(String(d).trim()))));
  for (let i = 0; i < 4; i++) fillers.push(net.connect(port, '127.0.0.1').on('error', () => {}));
  await new Promise((r) => setTimeout(r, 100));
  const waits: Array<{ retryAfter: boolean }> = [];
  const fetcher = new Fetcher({ ...FAULT_FETCH_CONFIG, respectRobots: false, retries: 1 }, { onWait: ({ retryAfter }) => waits.push({ retryAfter }) });
  t.teardown(() => fetcher.close());
  const o = await fetcher.fetch(`http://127.0.0.1:${port}/a.jpg`);
  // Both tries timed out connecting (the reason), with one backoff between them (the count).
  t.true(!o.ok && o.reason === 'connect_timeout' && o.attempts === 2, JSON.stringify(o));
  t.deepEqual(waits, [{ retryAfter: false }]);
});
