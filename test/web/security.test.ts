// Hostile input against the real server: path traversal (plain and encoded) in every path and id parameter, a blob
// path in the database pointing outside the workspace, oversized and non-image uploads, cross-origin and
// origin-less POSTs, a foreign Host header, malformed JSON and malformed query values. None succeeds; each gets
// the status that says why.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { crc32 } from 'node:zlib';
import { buildFixture, HOSTILE_CAPTION, photo, post, type Fixture } from './helpers.ts';

let f: Fixture;
let sha: string;
let faceId: number;
test.before(async () => {
  f = await buildFixture();
  sha = f.ws.db.prepare<[], string>(`SELECT sha256 FROM images WHERE status = 'accepted' LIMIT 1`).pluck().get()!;
  faceId = f.ws.db.prepare<[], number>(`SELECT id FROM faces WHERE status = 'accepted' LIMIT 1`).pluck().get()!;
});
test.after.always(async () => {
  await f?.close();
});

/** A raw GET whose path is sent byte for byte (fetch would normalise "../" away before it left). */
function rawGet(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const u = new URL(f.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET', headers: { host: u.host, ...headers } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const decisions = () => f.ws.db.prepare<[], number>('SELECT COUNT(*) FROM decisions').pluck().get()!;

test('traversal in every path and id parameter is refused and reads nothing', async (t) => {
  const attempts: Array<[string, number]> = [
    ['/api/images/../../pros.db', 404],
    [`/api/images/..%2F..%2Fpros.db`, 400],
    [`/api/images/%2e%2e%2f%2e%2e%2fpros.db/thumb`, 400],
    [`/api/images/${sha.slice(0, 60)}%2F..`, 400],
    [`/api/images/${sha}/thumb?size=..%2F..%2Fpros.db`, 400],
    ['/api/faces/..%2F1/thumb', 400],
    ['/api/faces/1%2F..%2F..%2Fpros.db/thumb', 400],
    ['/api/faces/%2e%2e', 400],
    ['/api/runs/..%2F..%2Fpros.db/metrics', 400],
    ['/api/runs/%2e%2e/metrics', 400],
    ['/api/search?face=..%2F1', 400],
    ['/api/faces?set=..%2F..%2Fetc', 400],
    ['/api/faces?image=..%2F..%2Fpros.db', 400],
    ['/../pros.db', 404],
    ['/..%2Fpros.db', 404],
    ['/%2e%2e/%2e%2e/etc/passwd', 404],
    ['/..%5c..%5cpros.db', 404],
    ['/%2e%2e%2f%2e%2e%2fpackage.json', 404],
    ['/../web/server.ts', 404],
    ['/../../../../etc/passwd', 404],
  ];
  for (const [path, want] of attempts) {
    const r = await rawGet(path);
    t.true(r.status >= 400 && r.status < 500, `${path} → ${r.status}`);
    t.is(r.status, want, path);
    t.false(r.body.includes('SQLite format') || r.body.includes('root:') || r.body.includes('createServer'), path);
  }
});

test('a blob path in the database that leaves workspace/images is not followed', async (t) => {
  const other = f.ws.db.prepare<[], string>(`SELECT sha256 FROM images WHERE status = 'no_face' LIMIT 1`).pluck().get()!;
  f.ws.db.prepare('UPDATE images SET blob_path = ? WHERE sha256 = ?').run('../pros.db', other);
  t.is((await rawGet(`/api/images/${other}/thumb?size=96`)).status, 404);
  f.ws.db.prepare('UPDATE images SET blob_path = ? WHERE sha256 = ?').run('/etc/passwd', other);
  t.is((await rawGet(`/api/images/${other}/thumb?size=160`)).status, 404);
});

test('crawled strings come back as data, and every page forbids inline script', async (t) => {
  const audrey = f.ws.db.prepare<[], string>(`SELECT sha256 FROM images WHERE origin LIKE '%audrey.jpg'`).pluck().get()!;
  const r = await fetch(`${f.url}/api/images/${audrey}`);
  t.is(r.headers.get('content-type'), 'application/json; charset=utf-8');
  t.is(((await r.json()) as any).caption, HOSTILE_CAPTION);
  for (const page of ['/', '/grid.html', '/images.html', '/image.html', '/search.html', '/runs.html']) {
    const p = await fetch(f.url + page);
    t.is(p.status, 200, page);
    const csp = p.headers.get('content-security-policy') ?? '';
    t.regex(csp, /script-src 'self'/);
    t.notRegex(csp, /unsafe-inline|unsafe-eval/);
    t.is(p.headers.get('x-content-type-options'), 'nosniff');
    const html = await p.text();
    // Scripts only by src, never inline.
    t.notRegex(html, /<script(?![^>]*\bsrc=)[^>]*>/);
  }
});

test('uploads: too large is 413, not an image is 415, no file is 400, a pixel bomb is 422', async (t) => {
  const send = async (data: Buffer | null, name = 'x.jpg') => {
    const form = new FormData();
    if (data) form.append('image', new Blob([new Uint8Array(data)]), name);
    else form.append('k', '3');
    const r = await fetch(`${f.url}/api/search/upload`, { method: 'POST', body: form, headers: { origin: f.url } });
    return { status: r.status, body: (await r.json()) as any };
  };
  const big = Buffer.concat([readFileSync(photo('audrey.jpg')), Buffer.alloc(11 * 1024 * 1024)]);
  const tooBig = await send(big);
  t.is(tooBig.status, 413);
  t.regex(tooBig.body.error, /too large/);
  const html = await send(Buffer.from('<html><script>alert(1)</script></html>'), 'evil.jpg');
  t.is(html.status, 415);
  t.regex(html.body.error, /not a JPEG/);
  const svg = await send(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'), 'x.png');
  t.is(svg.status, 415);
  t.is((await send(null)).status, 400);
  // A decompression bomb: a valid PNG header claiming 100000 × 100000 pixels. Sniffed as PNG, refused by decode.
  const bomb = await send(pngHeader(100_000, 100_000), 'bomb.png');
  t.is(bomb.status, 422);
  t.regex(bomb.body.error, /too_many_pixels/);
});

function pngHeader(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const out = Buffer.alloc(8 + data.length + 4);
    out.writeUInt32BE(data.length, 0);
    body.copy(out, 4);
    out.writeUInt32BE(crc32(body), 8 + data.length);
    return out;
  };
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr),
    chunk('IDAT', Buffer.alloc(16)), chunk('IEND', Buffer.alloc(0))]);
}

test('state changes from another origin, or with no origin at all, are refused and write nothing', async (t) => {
  const n = decisions();
  const body = { action: 'reject', faceIds: [faceId], who: 'mallory' };
  const cross = await post(f.url, '/api/curation', body, { origin: 'http://evil.example' });
  t.is(cross.status, 403);
  t.regex(((await cross.json()) as any).error, /cross-origin/);
  const site = await post(f.url, '/api/curation', body, { origin: 'null' });
  t.is(site.status, 403);
  const none = await fetch(`${f.url}/api/curation`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  t.is(none.status, 403);
  const form = new FormData();
  form.append('image', new Blob([readFileSync(photo('audrey.jpg'))]), 'a.jpg');
  const upload = await fetch(`${f.url}/api/search/upload`, { method: 'POST', body: form, headers: { origin: 'http://evil.example' } });
  t.is(upload.status, 403);
  t.is(decisions(), n);
  t.is(f.ws.db.prepare('SELECT status FROM faces WHERE id = ?').pluck().get(faceId), 'accepted');
});

test('a Host header the server was not bound to is refused (DNS rebinding)', async (t) => {
  const r = await rawGet('/api/overview', { host: 'evil.example' });
  t.is(r.status, 421);
  t.is((await rawGet('/api/overview', { host: `localhost:${f.server.port}` })).status, 200);
});

test('malformed JSON and malformed query values get a 400 with a clear message', async (t) => {
  const n = decisions();
  const bad = await post(f.url, '/api/curation', '{"action": "reject", faceIds: [1');
  t.is(bad.status, 400);
  t.regex(((await bad.json()) as any).error, /malformed JSON/);
  const cases: Array<[string, RegExp]> = [
    ['/api/faces?limit=abc', /"limit" must be an integer/],
    ['/api/faces?limit=100000', /"limit" must be in/],
    ['/api/faces?minScore=2', /"minScore" must be in/],
    ['/api/faces?minScore=NaN', /"minScore" must be a number/],
    ['/api/faces?status=maybe', /"status" must be one of/],
    ['/api/faces?sort=id;DROP%20TABLE%20faces', /"sort" must be one of/],
    ['/api/faces?status=accepted&status=rejected', /given once/],
    ['/api/faces/1/thumb?size=7', /"size" must be one of/],
    [`/api/search?face=${faceId}&k=0`, /"k" must be in/],
    [`/api/search?face=${faceId}&space=nope`, /unknown descriptor space/],
  ];
  for (const [path, msg] of cases) {
    const r = await rawGet(path);
    t.is(r.status, 400, path);
    t.regex(JSON.parse(r.body).error, msg, path);
  }
  // 400: the request's shape is wrong (checked by the web); 422: well-formed, but the curation library refuses it.
  const wrong = [
    [{ action: 'explode', faceIds: [faceId] }, /"action" must be one of/, 400],
    [{ action: 'reject', faceIds: 'all' }, /"faceIds" must be a list/, 400],
    [{ action: 'reject', faceIds: [-1] }, /positive integer/, 422],
    [{ action: 'tag', faceIds: [faceId] }, /"value" must be a string/, 400],
    [{ action: 'add_to_set', faceIds: [faceId], value: '../../etc' }, /set name/, 422],
    [[1, 2], /JSON object/, 400],
  ] as const;
  for (const [body, msg, status] of wrong) {
    const r = await post(f.url, '/api/curation', body);
    t.is(r.status, status, JSON.stringify(body));
    t.regex(((await r.json()) as any).error, msg);
  }
  t.is(decisions(), n);
});
