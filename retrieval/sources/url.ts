// Turning a written URL into an absolute http(s) URL, or a reason why not.
import type { RejectReason } from './types.ts';

export function absoluteHttpUrl(text: string, base?: string | URL): { url: string } | { reason: RejectReason } {
  const value = text.trim();
  if (!value) return { reason: 'missing_url' };
  let u: URL;
  try {
    u = base ? new URL(value, base) : new URL(value);
  } catch {
    // Without a base, a path such as "img/a.jpg" or "/a.jpg" fails to parse: it is relative, not garbage.
    if (!base && !/^[a-z][a-z0-9+.-]*:/i.test(value)) return { reason: 'relative_url' };
    return { reason: 'bad_url' };
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return { reason: 'unsupported_scheme' };
  if (!u.hostname) return { reason: 'bad_url' };
  u.hash = '';
  return { url: u.href };
}
