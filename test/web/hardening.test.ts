// The server over a workspace someone else wrote (shared or downloaded): metric names and run names that are
// prototype keys, unreadable stored JSON, a blob that is not an image, huge or bidi labels, ids past 2^53, malformed
// multipart bodies, a crowd of uploads, and sockets held open. Each gets a clear status; nothing reaches
// Object.prototype, nothing logs a stack trace, and the server keeps serving.
import test from 'ava';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaults, type ProsConfig } from '../../src/config.ts';
import { openWorkspace, type Workspace } from '../../src/workspace.ts';
import { serve, SERVER_TIMEOUTS, type Serving } from '../../web/server.ts';
import { runCurves } from '../../web/queries/stats.ts';
import { report } from '../../training/downstream/report.ts';
import { exportSet } from '../../retrieval/export.ts';
import sharp from 'sharp';
import { pros } from '../helpers/cli.ts';
import { getJson, post } from './helpers.ts';

let root: string;
let ws: Workspace;
let s: Serving;
let faceId: number;
const SHA_TEXT = 'ab'.repeat(32);

test.before(async () => {
  root = mkdtempSync(join(tmpdir(), 'pros-hardening-'));
  const config: ProsConfig = { ...defaults, workspace: root };
  ws = openWorkspace(root);
  // An image whose stored blob is text, with one face on it.
  mkdirSync(join(ws.paths.images, 'ab'), { recursive: true });
  writeFileSync(join(ws.paths.images, 'ab', `${SHA_TEXT}.jpg`), 'this is not an image');
  ws.db.prepare(`INSERT INTO images (sha256, width, height, format, bytes, origin, status, n_faces, face_ratio, blob_path)
    VALUES (?, 100, 100, 'jpeg', 20, 'https://a.example/x.jpg', 'accepted', 1, 0.5, ?)`).run(SHA_TEXT, `images/ab/${SHA_TEXT}.jpg`);
  faceId = Number(ws.db.prepare(`INSERT INTO faces (image_sha256, idx, x, y, w, h, score, face_ratio, landmarks, status)
    VALUES (?, 0, 10, 10, 50, 50, 0.9, 0.25, '[[1,2]]', 'accepted')`).run(SHA_TEXT).lastInsertRowid);
  s = await serve({ ws, config, port: 0, maxConcurrentUploads: 2 });
});
test.after.always(async () => {
  await s?.close();
  ws?.close();
});

const get = <P extends string>(path: P) => getJson(s.url, path);

/** What the server process writes to stderr while `fn` runs (the error handler logs internal errors there). */
async function stderrDuring(fn: () => Promise<void>): Promise<string> {
  const write = process.stderr.write.bind(process.stderr);
  let seen = '';
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    seen += String(chunk);
    return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  try {
    await fn();
  } finally {
    process.stderr.write = write;
  }
  return seen;
}

test.serial('metric names __proto__, constructor and prototype are series like any other, and pollute nothing', async (t) => {
  ws.db.prepare(`INSERT INTO runs (name, config, status, step) VALUES ('hostile', '{}', 'done', 2)`).run();
  const add = ws.db.prepare('INSERT INTO metrics (run, step, values_json) VALUES (?, ?, ?)');
  add.run('hostile', 0, '{"__proto__": 1, "constructor": 2, "prototype": 3, "loss": 0.5}');
  add.run('hostile', 1, '{"__proto__": 4, "constructor": 5, "prototype": 6, "loss": 0.4}');
  const { status, body } = await get('/api/runs/hostile/metrics');
  t.is(status, 200);
  t.deepEqual(Object.keys(body.series).sort(), ['__proto__', 'constructor', 'loss', 'prototype']);
  t.deepEqual(Object.getOwnPropertyDescriptor(body.series, '__proto__')?.value, [1, 4]);
  t.deepEqual(body.series.constructor, [2, 5]);
  const direct = runCurves(ws, 'hostile')!;
  t.deepEqual(Object.getOwnPropertyDescriptor(direct.series, '__proto__')?.value, [1, 4]);
  t.false(Object.hasOwn(Object.prototype, '0'), 'Object.prototype[0] was not written');
  t.false(Object.hasOwn(Object, '0'), 'Object[0] was not written');
  t.is(({} as Record<string, unknown>)[0], undefined);
  t.is((await get('/api/overview')).status, 200, 'the server still serves');
  t.is((await get('/api/runs')).status, 200);
});

test.serial('an unreadable stored evaluation row is skipped and reported, in /api/evals and in pros report', async (t) => {
  const add = ws.db.prepare('INSERT INTO evals (run, task, dataset, protocol, shots, seed, metric, value, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
  add.run('human', 'expression', 'synthetic', 'linear', null, 0, 'accuracy', 0.6, '{"pseudo": false}');
  const bad = Number(add.run('human', 'expression', 'synthetic', 'linear', null, 1, 'accuracy', 0.7, '{not json').lastInsertRowid);
  const text = Number(add.run('random', 'expression', 'synthetic', 'linear', null, 0, 'accuracy', 'abc', null).lastInsertRowid);
  // A run named like a prototype key is a run like any other, not a baseline's description.
  add.run('constructor', 'expression', 'synthetic', 'linear', null, 0, 'accuracy', 0.5, null);
  const { status, body } = await get('/api/evals');
  t.is(status, 200, JSON.stringify(body));
  t.deepEqual(body.skipped, [
    { id: bad, reason: 'extra is not valid JSON' },
    { id: text, reason: 'value is not a finite number' },
  ]);
  const g = body.groups.find((x) => x.task === 'expression')!;
  t.deepEqual(g.entries.map((e) => [e.run, e.seeds]).sort(), [['constructor', 1], ['human', 1]]);
  t.is(g.entries.find((e) => e.run === 'constructor')?.about, 'run not in this workspace');
  t.regex(report(ws), new RegExp(`2 stored results skipped: row ${bad} \\(extra is not valid JSON\\)`));
  const cli = await pros(['report', '-w', root]);
  t.is(cli.code, 0, cli.stderr);
  t.regex(cli.stdout, /stored results skipped/);
});

test.serial('a thumbnail of a stored blob that is not an image is a 422, not a 500', async (t) => {
  const logged = await stderrDuring(async () => {
    for (const path of [`/api/images/${SHA_TEXT}/thumb`, `/api/faces/${faceId}/thumb`]) {
      const r = await get(path);
      t.is(r.status, 422, path);
      t.regex(r.body.error!, /cannot be decoded/);
    }
  });
  t.notRegex(logged, /internal|stack|at /);
});

test.serial('malformed multipart bodies are a 400 with a message, and log no stack trace', async (t) => {
  const bodies: Array<[string, string]> = [
    ['multipart/form-data', 'no boundary at all'],
    ['multipart/form-data; boundary=XYZ', '--XYZ\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\ntruncated, never closed'],
    ['multipart/form-data; boundary=XYZ', '--XYZ\r\nthis is not a header line\r\n\r\nx\r\n--XYZ--\r\n'],
  ];
  const logged = await stderrDuring(async () => {
    for (const [type, body] of bodies) {
      const r = await fetch(`${s.url}/api/search/upload`, { method: 'POST', body, headers: { origin: s.url, 'content-type': type } });
      const json = (await r.json()) as any;
      t.is(r.status, 400, `${type}: ${JSON.stringify(json)}`);
      t.regex(json.error, /malformed multipart|expected a multipart form/);
    }
  });
  t.notRegex(logged, /web: |Error: /, 'nothing logged as an internal error');
});

/**
 * A POST to the upload route that sends its headers and part of its body, then holds the socket open. It asks for
 * 100-continue, which the server answers as it admits the request: once that came back, the request holds its slot.
 */
function heldUpload(): Promise<Socket> {
  const u = new URL(s.url);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(u.port), u.hostname, () => {
      sock.write(
        `POST /api/search/upload HTTP/1.1\r\nHost: ${u.host}\r\nOrigin: ${s.url}\r\nExpect: 100-continue\r\n` +
          'Content-Type: multipart/form-data; boundary=XYZ\r\nContent-Length: 1000000\r\n\r\n',
      );
    });
    sock.once('data', (d) => {
      if (!String(d).startsWith('HTTP/1.1 100')) return reject(new Error(`held upload answered: ${String(d).slice(0, 80)}`));
      sock.write('--XYZ\r\n');
      resolve(sock);
    });
    sock.on('error', reject);
  });
}

const probe = async () => {
  const form = new FormData();
  form.append('image', new Blob([Buffer.from('not an image')]), 'x.jpg');
  const r = await fetch(`${s.url}/api/search/upload`, { method: 'POST', body: form, headers: { origin: s.url } });
  await r.arrayBuffer();
  return r;
};

test.serial('uploads beyond the concurrency cap are a 503 with Retry-After, until the slots are given back', async (t) => {
  const held = [await heldUpload(), await heldUpload()];
  const busy = await probe();
  t.is(busy.status, 503, 'a third upload is refused while two are in flight');
  t.truthy(busy.headers.get('retry-after'));
  for (const sock of held) sock.destroy();
  let after = 503;
  for (let i = 0; i < 200 && after === 503; i++) after = (await probe()).status;
  t.is(after, 415, 'once the held uploads are gone, uploads are taken again');
  for (let i = 0; i < 5; i++) t.is((await probe()).status, 415, 'one at a time never hits the cap');
});

test.serial('face ids past 2^53 are refused, not rounded to a neighbour', async (t) => {
  for (const path of ['/api/faces/9007199254740993', '/api/faces/9007199254740993/thumb', '/api/search?face=9007199254740993']) {
    const r = await get(path);
    t.is(r.status, 400, path);
    t.regex(r.body.error!, /below 2\^53/);
  }
  t.is((await get('/api/faces/9007199254740991')).status, 404, 'the largest safe id is an id');
  const cli = await pros(['curation', 'tag', 'x', '9007199254740993', '-w', root]);
  t.is(cli.code, 2);
  t.regex(cli.stderr, /"9007199254740993" is not a face id/);
});

test.serial('labels refuse control characters and bidi overrides; set names must be portable folder names', async (t) => {
  const act = (action: string, value: string) => post(s.url, '/api/curation', { action, faceIds: [faceId], value });
  for (const bad of ['evil\u202Egpj.exe', 'a\u2066b', 'c1\u0085', 'nul\u0000', 'tab\tbed']) {
    const r = await act('tag', bad);
    t.is(r.status, 422, JSON.stringify(bad));
    t.regex(((await r.json()) as any).error, /no control characters or bidi overrides/);
  }
  t.is((await act('tag', 'smiling – ok')).status, 200, 'ordinary text, dashes and spaces included, is a label');
  for (const bad of ['CON', 'nul.txt', 'com1', 'Lpt9', 'trailing.', 'a..b', '.hidden', 'space name']) {
    const r = await act('add_to_set', bad);
    t.is(r.status, 422, bad);
  }
  t.is((await act('add_to_set', 'console')).status, 200, 'a name that merely starts like a device name is fine');
  t.is((await get('/api/faces?tag=%E2%80%AEx')).status, 400, 'a bidi override in a query is refused');
  const decisions = ws.db.prepare("SELECT value FROM decisions WHERE action IN ('tag', 'add_to_set') ORDER BY id").pluck().all();
  t.deepEqual(decisions, ['smiling – ok', 'console']);
  const cli = await pros(['curate', root, '-w', join(root, 'other'), '--set', 'AUX']);
  t.is(cli.code, 2);
  t.regex(cli.stderr, /--set AUX/);
});

test.serial('export does not follow a stored blob path out of workspace/images', async (t) => {
  const outside = join(root, '..', `outside-${Date.now()}.jpg`);
  await sharp({ create: { width: 200, height: 200, channels: 3, background: '#777' } }).jpeg().toFile(outside);
  const sha = 'cd'.repeat(32);
  ws.db.prepare(`INSERT INTO images (sha256, width, height, format, bytes, origin, status, n_faces, face_ratio, blob_path)
    VALUES (?, 200, 200, 'jpeg', 1, 'https://a.example/y.jpg', 'accepted', 1, 0.5, ?)`).run(sha, join('..', '..', outside));
  const id = Number(ws.db.prepare(`INSERT INTO faces (image_sha256, idx, x, y, w, h, score, face_ratio, landmarks, status)
    VALUES (?, 0, 50, 50, 100, 100, 0.9, 0.25, 'not json', 'accepted')`).run(sha).lastInsertRowid);
  ws.db.prepare(`INSERT INTO sets (name, kind) VALUES ('leak', 'manual')`).run();
  ws.db.prepare(`INSERT INTO set_members (set_name, face_id, added_by) VALUES ('leak', ?, 'test')`).run(id);
  const r = await exportSet(ws, { ...defaults, workspace: root }, 'leak', { quiet: true });
  t.is(r.crops, 0);
  t.is(r.failed, 1);
});

test.serial('the server sets its own request, header and keep-alive timeouts instead of Node defaults', (t) => {
  t.is(s.server.requestTimeout, SERVER_TIMEOUTS.requestMs);
  t.is(s.server.headersTimeout, SERVER_TIMEOUTS.headersMs);
  t.is(s.server.keepAliveTimeout, SERVER_TIMEOUTS.keepAliveMs);
  t.true(SERVER_TIMEOUTS.requestMs <= 60_000 && SERVER_TIMEOUTS.headersMs < SERVER_TIMEOUTS.requestMs);
});

test.serial('hand-corrupted JSON columns read as their logged defaults: the pages still serve, nothing untyped reaches a reply', async (t) => {
  ws.db.prepare('UPDATE faces SET landmarks = ? WHERE id = ?').run('{"not": "points"}', faceId);
  const source = Number(ws.db.prepare("INSERT INTO sources (kind, uri) VALUES ('txt', 'hand-edited.txt')").run().lastInsertRowid);
  const item = Number(ws.db.prepare("INSERT INTO items (source_id, uri, meta, status, image_sha256) VALUES (?, 'https://a.example/x.jpg', '{broken', 'ok', ?)").run(source, SHA_TEXT).lastInsertRowid);
  ws.db.prepare("INSERT INTO runs (name, config, status, step) VALUES ('damaged', '{\"preset\": 3}', 'done', 2)").run();
  const add = ws.db.prepare('INSERT INTO metrics (run, step, values_json) VALUES (?, ?, ?)');
  add.run('damaged', 0, '[1, 2]');
  add.run('damaged', 1, '{"loss": 0.5}');
  const logged = await stderrDuring(async () => {
    const image = await get(`/api/images/${SHA_TEXT}`);
    t.is(image.status, 200);
    t.deepEqual(image.body.faces.map((f) => f.landmarks), [[]]);
    t.deepEqual(image.body.sources.map((x) => x.meta), [null]);
    const curves = await get('/api/runs/damaged/metrics');
    t.is(curves.status, 200);
    t.is(curves.body.config, null);
    t.deepEqual(curves.body.series.loss, [null, 0.5]);
    t.is((await get('/api/runs')).status, 200);
  });
  t.regex(logged, new RegExp(`faces\\.landmarks of face ${faceId} is not what the column holds \\(.*expected array.*\\); read as \\[\\]`));
  t.regex(logged, new RegExp(`items\\.meta of item ${item} is not valid JSON; read as null`));
  t.regex(logged, /runs\.config of run damaged is not what the column holds \(preset: .*\); read as null/);
  t.regex(logged, /metrics\.values_json of run damaged is not what the column holds/);
});
