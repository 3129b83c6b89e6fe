// Shared by the URL-list readers: reading a list line by line, and one written URL (+ row metadata) → an item, or a
// rejected entry.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { SourceError, type ReadOptions, type SourceItem } from './types.ts';
import { absoluteHttpUrl, MAX_URL_LENGTH } from './url.ts';

/**
 * The lines of a text file, streamed, numbered from 1, trimmed (a leading BOM dropped), blank ones skipped; ends
 * quietly when `signal` aborts. A read failure is a SourceError naming the file.
 */
export async function* numberedLines(file: string, signal?: AbortSignal): AsyncGenerator<[number, string]> {
  const input = createReadStream(file, { encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const raw of lines) {
      n++;
      if (signal?.aborted) return;
      const line = (n === 1 ? raw.replace(/^\uFEFF/, '') : raw).trim();
      if (line) yield [n, line];
    }
  } catch (err) {
    throw new SourceError(`${file}: cannot read (${(err as Error).message})`);
  } finally {
    lines.close();
    input.destroy();
  }
}

export function listItem(
  text: unknown,
  meta: Record<string, unknown> | undefined,
  where: string,
  opts: Pick<ReadOptions, 'onReject'>,
): SourceItem | undefined {
  const value = text === null || text === undefined ? '' : String(text);
  const r = absoluteHttpUrl(value);
  if ('reason' in r) {
    // What is recorded of a rejected value is bounded like a URL: a 5 MB line is not stored whole.
    opts.onReject?.({ value: value.slice(0, MAX_URL_LENGTH), status: 'failed', reason: r.reason, where });
    return undefined;
  }
  return meta ? { uri: r.url, local: false, meta, depth: 0 } : { uri: r.url, local: false, depth: 0 };
}
