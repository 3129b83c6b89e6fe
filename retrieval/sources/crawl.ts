// Crawling from a start page: breadth first, up to crawl.depth links away and crawl.maxPages pages, on the start
// host only unless crawl.sameHost is false. Every page goes through the Fetcher (robots.txt, limits, reasons) and
// is reported to onPage; every image URL found is yielded once.
import { extractLinks } from './html.ts';
import { IMAGE_LINK_EXT } from '../../src/image-formats.ts';
import type { ReadOptions, SourceItem } from './types.ts';

const NOT_PAGES = /\.(pdf|zip|gz|tar|mp4|mov|webm|mp3|wav|css|js|json|xml|svg|ico|woff2?|ttf|exe|dmg|apk)$/i;

export async function* crawl(startUrl: string, opts: ReadOptions): AsyncGenerator<SourceItem> {
  const start = new URL(startUrl);
  start.hash = '';
  const queue: Array<{ url: string; depth: number }> = [{ url: start.href, depth: 0 }];
  const queued = new Set<string>([start.href]);
  const seenImages = new Set<string>();
  let fetched = 0;
  const respectNoAI = opts.respectNoAI ?? true;

  while (queue.length && fetched < opts.crawl.maxPages) {
    if (opts.signal?.aborted) return;
    const { url, depth } = queue.shift()!;
    if (opts.optedOut?.(url)) {
      opts.onReject?.({ value: url, status: 'skipped', reason: 'opted_out', where: url });
      continue;
    }
    fetched++;
    const outcome = await opts.fetcher.fetch(url, { signal: opts.signal });
    opts.onPage?.(url, outcome, depth);
    if (!outcome.ok) continue;
    const type = (outcome.contentType ?? '').toLowerCase();
    // A start "page" that is an image is an image to take, not a page to parse.
    if (type.startsWith('image/')) {
      if (!seenImages.has(outcome.finalUrl)) {
        seenImages.add(outcome.finalUrl);
        yield { uri: outcome.finalUrl, local: false, depth };
      }
      continue;
    }
    if (type && !type.includes('html') && !type.includes('xml')) continue;
    // Links resolve against where the page really is, after redirects.
    const links = extractLinks(outcome.bytes.toString('utf8'), outcome.finalUrl);
    for (const img of links.images) {
      if (seenImages.has(img)) continue;
      seenImages.add(img);
      if (links.noai && respectNoAI) {
        opts.onReject?.({ value: img, status: 'skipped', reason: 'noai', where: url });
        continue;
      }
      yield { uri: img, local: false, depth, meta: { page: outcome.finalUrl } };
    }
    if (depth >= opts.crawl.depth) continue;
    for (const next of links.pages) {
      if (queued.has(next)) continue;
      const u = new URL(next);
      if (opts.crawl.sameHost && u.host !== start.host) continue;
      if (NOT_PAGES.test(u.pathname) || IMAGE_LINK_EXT.test(u.pathname)) continue;
      queued.add(next);
      queue.push({ url: next, depth: depth + 1 });
    }
  }
}
