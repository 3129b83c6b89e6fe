// Turning a written URL into an absolute http(s) URL, or a reason why not.
import type { RejectReason } from './types.ts';

/** Longer URLs are refused: no server takes them, and each would be stored and shown as it is. */
export const MAX_URL_LENGTH = 8192;

export function absoluteHttpUrl(text: string, base?: string | URL): { url: string } | { reason: RejectReason } {
  const value = text.trim();
  if (!value) return { reason: 'missing_url' };
  if (value.length > MAX_URL_LENGTH) return { reason: 'too_long' };
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
