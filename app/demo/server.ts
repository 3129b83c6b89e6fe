// Serves the demo corpus on loopback as a small website: two gallery pages (img src and srcset, a link between
// them), a robots.txt and the images, so the demo exercises the real crawler and fetcher.
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, basename } from 'node:path';
import type { Corpus } from './corpus.ts';

export interface CorpusServer {
  origin: string;
  pageUrl: string;
  close(): Promise<void>;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export async function serveCorpus(corpus: Corpus, port = 0): Promise<CorpusServer> {
  const onPages = corpus.files.filter((f) => f.via === 'page').map((f) => f.name);
  const half = Math.ceil(onPages.length / 2);
  const gallery = (title: string, names: string[], link?: string) =>
    `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1>` +
    names
      .map((n, i) =>
        // Every third image is given through srcset only, as responsive pages do.
        i % 3 === 2
          ? `<img srcset="/images/${encodeURIComponent(n)} 1x" alt="${escapeHtml(n)}">`
          : `<img src="/images/${encodeURIComponent(n)}" alt="${escapeHtml(n)}">`,
      )
      .join('\n') +
    (link ? `<p><a href="${link}">more</a> <a href="/private/secret.html">private</a></p>` : '') +
    '</body></html>';
  const pages: Record<string, string> = {
    '/': gallery('pros demo gallery', onPages.slice(0, half), '/more.html'),
    '/more.html': gallery('pros demo gallery, page 2', onPages.slice(half)),
    '/robots.txt': 'User-agent: *\nDisallow: /private/\n',
  };
  const server: Server = createServer(async (req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]);
    if (pages[path] !== undefined) {
      res.writeHead(200, { 'content-type': path.endsWith('.txt') ? 'text/plain' : 'text/html; charset=utf-8' });
      res.end(pages[path]);
      return;
    }
    if (path.startsWith('/images/')) {
      const name = basename(path);
      if (corpus.files.some((f) => f.name === name)) {
        const bytes = await readFile(join(corpus.dir, name));
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': bytes.length });
        res.end(bytes);
        return;
      }
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      // The wanted port is taken: any free one will do (the demo's URLs then differ from the last run's).
      if (err.code === 'EADDRINUSE' && port !== 0) server.listen(0, '127.0.0.1', resolve);
      else reject(err);
    });
    server.listen(port, '127.0.0.1', resolve);
  });
  const addr = server.address() as { port: number };
  const origin = `http://127.0.0.1:${addr.port}`;
  return {
    origin,
    pageUrl: `${origin}/`,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** The URL list for the files the demo gives by list rather than by page, plus one URL that does not exist. */
export function urlList(corpus: Corpus, origin: string): string {
  const lines = corpus.files.filter((f) => f.via === 'list').map((f) => `${origin}/images/${encodeURIComponent(f.name)}`);
  lines.push(`${origin}/images/missing.jpg`);
  return lines.join('\n') + '\n';
}
