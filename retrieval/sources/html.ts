// Links out of one HTML page: image URLs (<img src|srcset|data-src>, <source srcset>, <a href> to an image file)
// and page links to follow (<a href>, unless rel=nofollow), resolved against the page (and its <base href>).
import { Parser } from 'htmlparser2';
import { IMAGE_LINK_EXT } from '../../src/image-formats.ts';

export interface PageLinks {
  images: string[];
  pages: string[];
  /** <meta name="robots"> says noai or noimageai. */
  noai: boolean;
  /** <meta name="robots"> says nofollow. */
  nofollow: boolean;
}

/** Candidate URLs of a srcset, following the HTML parsing rules closely enough that URLs with commas survive. */
export function parseSrcset(srcset: string): string[] {
  const out: string[] = [];
  let i = 0;
  const s = srcset;
  while (i < s.length) {
    while (i < s.length && /[\s,]/.test(s[i]!)) i++;
    if (i >= s.length) break;
    let j = i;
    while (j < s.length && !/\s/.test(s[j]!)) j++;
    let url = s.slice(i, j);
    i = j;
    if (url.endsWith(',')) {
      url = url.replace(/,+$/, '');
    } else {
      // Skip the descriptors up to the next comma outside parentheses.
      let depth = 0;
      while (i < s.length) {
        const c = s[i]!;
        if (c === '(') depth++;
        else if (c === ')') depth = Math.max(0, depth - 1);
        else if (c === ',' && depth === 0) break;
        i++;
      }
    }
    if (url) out.push(url);
  }
  return out;
}

export function extractLinks(html: string, pageUrl: string): PageLinks {
  let base = pageUrl;
  const images: string[] = [];
  const pages: string[] = [];
  let noai = false;
  let nofollow = false;
  const resolve = (v: string | undefined): string | undefined => {
    if (!v || !v.trim()) return undefined;
    try {
      const u = new URL(v.trim(), base);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
      u.hash = '';
      return u.href;
    } catch {
      return undefined;
    }
  };
  const addImage = (v: string | undefined) => {
    const u = resolve(v);
    if (u) images.push(u);
  };
  const parser = new Parser(
    {
      onopentag(name, a) {
        if (name === 'base' && a.href) {
          const b = resolve(a.href);
          if (b) base = b;
        } else if (name === 'meta' && (a.name ?? '').toLowerCase() === 'robots') {
          const content = (a.content ?? '').toLowerCase();
          if (/\b(noai|noimageai)\b/.test(content)) noai = true;
          if (/\b(nofollow|none)\b/.test(content)) nofollow = true;
        } else if (name === 'img') {
          addImage(a.src);
          addImage(a['data-src']);
          for (const c of parseSrcset(a.srcset ?? a['data-srcset'] ?? '')) addImage(c);
        } else if (name === 'source' && (a.srcset || a.src)) {
          if (a.src) addImage(a.src);
          for (const c of parseSrcset(a.srcset ?? '')) addImage(c);
        } else if (name === 'a' && a.href) {
          const u = resolve(a.href);
          if (!u) return;
          if (IMAGE_LINK_EXT.test(new URL(u).pathname)) images.push(u);
          else if (!/\bnofollow\b/i.test(a.rel ?? '')) pages.push(u);
        }
      },
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
  );
  parser.write(html);
  parser.end();
  return { images, pages: nofollow ? [] : pages, noai, nofollow };
}
