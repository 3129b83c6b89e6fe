// Shared by the URL-list readers: one written URL (+ row metadata) → an item, or a rejected entry.
import type { ReadOptions, SourceItem } from './types.ts';
import { absoluteHttpUrl } from './url.ts';

export function listItem(
  text: unknown,
  meta: Record<string, unknown> | undefined,
  where: string,
  opts: Pick<ReadOptions, 'onReject'>,
): SourceItem | undefined {
  const value = text === null || text === undefined ? '' : String(text);
  const r = absoluteHttpUrl(value);
  if ('reason' in r) {
    opts.onReject?.({ value, status: 'failed', reason: r.reason, where });
    return undefined;
  }
  return meta ? { uri: r.url, local: false, meta, depth: 0 } : { uri: r.url, local: false, depth: 0 };
}
