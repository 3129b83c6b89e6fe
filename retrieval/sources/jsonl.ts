// A .jsonl list: one JSON object per line with a `url` field (any case); other scalar fields become metadata.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { findUrlKey, rowMeta } from './meta.ts';
import { listItem } from './list.ts';
import { SourceError, type ReadOptions, type SourceItem } from './types.ts';

export async function* readJsonl(file: string, opts: ReadOptions): AsyncGenerator<SourceItem> {
  const input = createReadStream(file, { encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const raw of lines) {
      n++;
      if (opts.signal?.aborted) return;
      const line = (n === 1 ? raw.replace(/^\uFEFF/, '') : raw).trim();
      if (!line) continue;
      let row: unknown;
      try {
        row = JSON.parse(line);
      } catch (err) {
        throw new SourceError(`${file}:${n}: not valid JSON (${(err as Error).message})`);
      }
      if (typeof row !== 'object' || row === null || Array.isArray(row)) {
        throw new SourceError(`${file}:${n}: expected a JSON object with a "url" field`);
      }
      const obj = row as Record<string, unknown>;
      const key = findUrlKey(Object.keys(obj));
      const item = listItem(key ? obj[key] : '', rowMeta(obj, key ?? ''), `${file}:${n}`, opts);
      if (item) yield item;
    }
  } catch (err) {
    if (err instanceof SourceError) throw err;
    throw new SourceError(`${file}: cannot read (${(err as Error).message})`);
  } finally {
    lines.close();
    input.destroy();
  }
}
