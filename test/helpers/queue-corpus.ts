// A loopback corpus for the scale-out tests and bench: package face photos, a crowd, non-faces, an exact and a
// resized copy, served over real HTTP, plus 404s; `hold` makes one path wait until released (a worker caught
// mid-shard, without timing).
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { nonFaceImage } from '../../app/demo/corpus.ts';
import { packagePhotos } from '../../app/package-media.ts';

const photo = (name: string) => packagePhotos().find((p) => p.endsWith(`/${name}`))!;

export interface LoopbackCorpus {
  dir: string;
  /** URL list file (one URL a line) covering every path, in a fixed order. */
  list: string;
  urls: string[];
  /** Requests seen per path. */
  hits: Map<string, number>;
  /** The first request for `path` waits until `release()`; resolves when it arrives. */
  hold(path: string): Promise<void>;
  release(): void;
  close(): Promise<void>;
}

export async function serveCorpus(opts: { copies?: number } = {}): Promise<LoopbackCorpus> {
  const dir = mkdtempSync(join(tmpdir(), 'pros-qcorpus-'));
  const names: string[] = [];
  const put = (name: string, bytes: Buffer) => {
    writeFileSync(join(dir, name), bytes);
    names.push(name);
  };
  for (const n of ['audrey.jpg', 'franck_01829.jpg', 'franck_03909.jpg', 'cage.jpg', 'SeanConnery.jpg', 'kim1_crop.jpg']) {
    copyFileSync(photo(n), join(dir, n));
    names.push(n);
  }
  put('three-faces.jpg', readFileSync(photo('faces.jpg')));
  for (let i = 0; i < 2; i++) put(`nonface-${i}.jpg`, await nonFaceImage(i));
  put('audrey-again.jpg', readFileSync(photo('audrey.jpg')));
  const meta = await sharp(photo('cage.jpg')).metadata();
  put('cage-smaller.jpg', await sharp(photo('cage.jpg')).resize(Math.round(meta.width! * 0.75)).jpeg({ quality: 75 }).toFile(join(dir, 'tmp.jpg')).then(() => readFileSync(join(dir, 'tmp.jpg'))));
  // Renamed copies make a bigger corpus for the bench without new content (exact duplicates after the first).
  for (let c = 0; c < (opts.copies ?? 0); c++) for (const n of names.slice(0, 11)) names.push(`c${c}/${n}`);

  const hits = new Map<string, number>();
  let held: { path: string; arrived: () => void; waiting: Array<() => void> } | undefined;
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url!, 'http://x').pathname);
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const send = () => {
      const name = path.replace(/^\/img\/(c\d+\/)?/, '');
      if (!path.startsWith('/img/') || name.includes('..')) {
        res.writeHead(404).end();
        return;
      }
      try {
        const body = readFileSync(join(dir, name));
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': body.length }).end(body);
      } catch {
        res.writeHead(404).end();
      }
    };
    if (held && held.path === path) {
      held.waiting.push(send);
      held.arrived();
      return;
    }
    send();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const urls = [...names.map((n) => `${base}/img/${n}`), `${base}/img/missing-1.jpg`, `${base}/img/missing-2.jpg`];
  const list = join(dir, 'urls.txt');
  writeFileSync(list, urls.join('\n') + '\n');
  return {
    dir,
    list,
    urls,
    hits,
    hold(path) {
      return new Promise((arrived) => {
        held = { path, arrived: () => arrived(), waiting: [] };
      });
    },
    release() {
      const w = held?.waiting ?? [];
      held = undefined;
      for (const send of w) send();
    },
    close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
