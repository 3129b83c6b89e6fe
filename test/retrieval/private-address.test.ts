// The crawler cannot be turned against internal services: by default every hop (page, image, robots.txt, redirect)
// to a loopback, private, link-local, ... address is refused with `private_address` and sends no request; the
// opt-ins (--allow-private, fetch.allowAddresses) let exactly what they name through.
import test from 'ava';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import Database from 'better-sqlite3';
import { defaults } from '../../src/config.ts';
import { Fetcher } from '../../retrieval/fetch/index.ts';
import { addressRange, HostResolver, isPublicAddress } from '../../retrieval/fetch/resolver.ts';
import { pros } from '../helpers/cli.ts';
import type { ItemRow } from '../../src/contracts/rows.ts';

test('only public unicast addresses are public; every internal or special range is not', (t) => {
  const refused = [
    '127.0.0.1', '127.8.9.10', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0',
    '224.0.0.1', '255.255.255.255', '192.0.2.1', '198.18.0.1', '240.0.0.1',
    '::1', '::', 'fe80::1', 'fc00::1', 'fd12:3456::1', 'ff02::1', '2001:db8::1',
    '::ffff:127.0.0.1', '::ffff:169.254.169.254', '::ffff:10.0.0.1', '64:ff9b::7f00:1', '2002:7f00:1::1', '2001::1',
    'not-an-ip',
  ];
  for (const ip of refused) t.false(isPublicAddress(ip), `${ip} (${addressRange(ip)}) is refused`);
  for (const ip of ['8.8.8.8', '93.184.216.34', '2606:4700::1111', '::ffff:8.8.8.8']) t.true(isPublicAddress(ip), `${ip} is public`);
  t.is(addressRange('::ffff:169.254.169.254'), 'linkLocal', 'IPv4-mapped IPv6 is classified as its IPv4');
});

test('the resolver refuses private names and literals by default, and lets them through when told', async (t) => {
  const strict = new HostResolver({ allowPrivate: false });
  for (const host of ['127.0.0.1', '[::1]', '169.254.169.254', '[::ffff:7f00:1]', 'localhost']) {
    const r = await strict.resolve(host);
    t.false(r.ok, host);
    if (!r.ok) t.is(r.reason, 'private_address', host);
  }
  const open = await new HostResolver({ allowPrivate: true }).resolve('localhost');
  t.true(open.ok);
  if (open.ok) t.true(open.addresses.some((a) => a.address === '127.0.0.1' || a.address === '::1'));
  const one = new HostResolver({ allowPrivate: false, allowAddresses: ['127.0.0.0/24'] });
  t.true((await one.resolve('127.0.0.9')).ok, 'a named range is let through');
  t.false((await one.resolve('127.0.1.1')).ok, 'the rest of loopback is not');
  t.false((await one.resolve('10.0.0.1')).ok);
  const missing = await strict.resolve('no-such-host.invalid');
  t.false(missing.ok);
  if (!missing.ok) t.is(missing.reason, 'dns');
  t.throws(() => new HostResolver({ allowPrivate: false, allowAddresses: ['10.0.0.0/99'] }), { message: /allowAddresses.*10\.0\.0\.0\/99/ });
});

test('the lookup handed to the socket answers with the checked addresses only', async (t) => {
  const r = await new HostResolver({ allowPrivate: true }).resolve('localhost');
  if (!r.ok) return t.fail(r.detail);
  const got = await new Promise<unknown>((resolve, reject) =>
    (r.lookup as unknown as (h: string, o: object, cb: (e: unknown, a: unknown) => void) => void)('elsewhere.example', { all: true }, (e, a) => (e ? reject(e) : resolve(a))),
  );
  t.deepEqual(got, r.addresses.map((a) => ({ address: a.address, family: a.family })), 'whatever name is asked, the checked addresses are the answer');
});

interface Counted {
  origin: string;
  hits: string[];
  close(): Promise<void>;
}

/** A loopback server on `host` that records every request path; `routes` answers by path. */
async function counted(host: string, routes: (path: string, res: http.ServerResponse) => void): Promise<Counted> {
  const hits: string[] = [];
  const server = http.createServer((req, res) => {
    hits.push(req.url ?? '');
    routes(req.url ?? '', res);
  });
  await new Promise<void>((ok) => server.listen(0, host, ok));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://${host}:${port}`,
    hits,
    close: () => new Promise<void>((ok) => {
      server.closeAllConnections();
      server.close(() => ok());
    }),
  };
}

let jpeg: Buffer;
test.before(async () => {
  jpeg = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#888' } }).jpeg().toBuffer();
});

function inner(path: string, res: http.ServerResponse): void {
  if (path === '/robots.txt') return void res.writeHead(404).end();
  if (path.endsWith('.jpg')) return void res.writeHead(200, { 'content-type': 'image/jpeg' }).end(jpeg);
  res.writeHead(200, { 'content-type': 'text/html' }).end('<p>internal admin</p>');
}

/** The public-looking page: embeds an image of the internal server, links to it, and redirects there. */
function outer(target: () => string) {
  return (path: string, res: http.ServerResponse) => {
    if (path === '/robots.txt') return void res.writeHead(404).end();
    if (path === '/go.jpg') return void res.writeHead(302, { location: `${target()}/redirected.jpg` }).end();
    if (path === '/hop') return void res.writeHead(302, { location: `${target()}/admin/delete?all=1` }).end();
    if (path === '/robots-elsewhere/robots.txt') return void res.writeHead(302, { location: `${target()}/robots.txt` }).end();
    res.writeHead(200, { 'content-type': 'text/html' }).end(
      `<img src="${target()}/embedded.jpg"><img src="/go.jpg"><a href="/hop">next</a><a href="${target()}/admin">admin</a>`,
    );
  };
}

test('every hop of a fetch is checked: a redirect to an address not allowed sends no request there', async (t) => {
  const internal = await counted('127.0.0.2', inner);
  const site = await counted('127.0.0.1', outer(() => internal.origin));
  t.teardown(() => Promise.all([internal.close(), site.close()]));
  // 127.0.0.1 is let through by name (as an intranet range would be); 127.0.0.2 keeps the default policy.
  const fetcher = new Fetcher({ ...defaults.fetch, retries: 0, allowAddresses: ['127.0.0.1'] });
  t.teardown(() => fetcher.close());

  const page = await fetcher.fetch(`${site.origin}/`);
  t.true(page.ok, 'the allowed address is fetched');
  for (const url of [`${site.origin}/go.jpg`, `${site.origin}/hop`, `${internal.origin}/embedded.jpg`]) {
    const r = await fetcher.fetch(url);
    t.false(r.ok, url);
    if (!r.ok) {
      t.is(r.reason, 'private_address', url);
      t.is(r.status, 'skipped', url);
      t.regex(r.detail ?? '', /127\.0\.0\.2 \(loopback\)/);
    }
  }
  t.deepEqual(internal.hits, [], 'the internal server received no request, not even for robots.txt');
  t.true(site.hits.includes('/go.jpg') && site.hits.includes('/hop'));

  const open = new Fetcher({ ...defaults.fetch, retries: 0, allowPrivate: true });
  t.teardown(() => open.close());
  t.true((await open.fetch(`${site.origin}/go.jpg`)).ok, 'with allowPrivate the redirect is followed');
  t.true(internal.hits.includes('/redirected.jpg'));
});

test('pros curate: a page embedding and redirecting to a second loopback port reaches it only with --allow-private', async (t) => {
  let secondOrigin = '';
  const second = await counted('127.0.0.1', inner);
  secondOrigin = second.origin;
  const first = await counted('127.0.0.1', outer(() => secondOrigin));
  t.teardown(() => Promise.all([first.close(), second.close()]));
  const dir = mkdtempSync(join(tmpdir(), 'pros-private-'));
  const start = `${first.origin}/index.html`;
  const items = (ws: string) => {
    const db = new Database(join(ws, 'pros.db'), { readonly: true });
    const rows = db.prepare<[], Pick<ItemRow, 'uri' | 'kind' | 'status' | 'reason'>>('SELECT uri, kind, status, reason FROM items ORDER BY uri').all();
    db.close();
    return rows;
  };

  const strict = await pros(['curate', start, '-w', join(dir, 'default'), '--workers', '1', '--no-export', '--json']);
  t.is(strict.code, 0, strict.stderr);
  t.deepEqual(second.hits, [], 'by default the second port receives no request');
  t.deepEqual(first.hits, [], 'nor does the first: loopback is private');
  const refused = items(join(dir, 'default'));
  t.deepEqual(refused.map((r) => [r.uri, r.status, r.reason]), [[start, 'skipped', 'private_address']]);

  const open = await pros(['curate', start, '-w', join(dir, 'open'), '--workers', '1', '--no-export', '--allow-private', '--json']);
  t.is(open.code, 0, open.stderr);
  t.true(second.hits.includes('/embedded.jpg'), 'the embedded image was fetched');
  t.true(second.hits.includes('/redirected.jpg'), 'the redirect was followed');
  t.true(second.hits.includes('/admin/delete?all=1'), 'the page link that redirects there was crawled');
  const fetched = items(join(dir, 'open'));
  t.false(fetched.some((r) => r.reason === 'private_address'));
  t.is(fetched.find((r) => r.uri === `${second.origin}/embedded.jpg`)?.status, 'ok');
});

test('pros curate with one allowed address: the page is crawled, what it embeds elsewhere is refused and recorded', async (t) => {
  const internal = await counted('127.0.0.2', inner);
  const site = await counted('127.0.0.1', outer(() => internal.origin));
  t.teardown(() => Promise.all([internal.close(), site.close()]));
  const dir = mkdtempSync(join(tmpdir(), 'pros-private-'));
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ fetch: { allowAddresses: ['127.0.0.1/32'] } }));
  const r = await pros(['curate', `${site.origin}/`, '-w', join(dir, 'ws'), '-c', config, '--workers', '1', '--no-export', '--json']);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(internal.hits, [], 'the internal address received no request');
  const db = new Database(join(dir, 'ws', 'pros.db'), { readonly: true });
  const reason = db.prepare('SELECT status, reason FROM items WHERE uri = ?');
  t.deepEqual(reason.get(`${internal.origin}/embedded.jpg`), { status: 'skipped', reason: 'private_address' }, 'embedded image');
  t.deepEqual(reason.get(`${site.origin}/go.jpg`), { status: 'skipped', reason: 'private_address' }, 'image redirecting there');
  t.deepEqual(reason.get(`${site.origin}/hop`), { status: 'skipped', reason: 'private_address' }, 'page redirecting there');
  t.deepEqual(reason.get(`${site.origin}/`), { status: 'ok', reason: null }, 'the allowed page itself');
  db.close();

  writeFileSync(config, JSON.stringify({ fetch: { allowAddresses: ['not-a-range'] } }));
  const bad = await pros(['curate', `${site.origin}/`, '-w', join(dir, 'ws2'), '-c', config]);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /allowAddresses.*not-a-range/);
});
