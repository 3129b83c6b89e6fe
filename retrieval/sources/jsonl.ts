// A .jsonl list: one JSON object per line with a `url` field (any case); other scalar fields become metadata.
import { findUrlKey, rowMeta } from './meta.ts';
import { listItem, numberedLines } from './list.ts';
import { clip } from '../../src/input.ts';
import { SourceError, type ReadOptions, type SourceItem } from './types.ts';

export async function* readJsonl(file: string, opts: ReadOptions): AsyncGenerator<SourceItem> {
  for await (const [n, line] of numberedLines(file, opts.signal)) {
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (err) {
      throw new SourceError(`${file}:${n}: not valid JSON (${clip((err as Error).message, 200)})`);
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      throw new SourceError(`${file}:${n}: expected a JSON object with a "url" field`);
    }
    const obj = row as Record<string, unknown>;
    const key = findUrlKey(Object.keys(obj));
    const item = listItem(key ? obj[key] : '', rowMeta(obj, key ?? ''), `${file}:${n}`, opts);
    if (item) yield item;
  }
}
