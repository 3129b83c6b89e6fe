// A .txt list: one URL per line; blank lines and lines starting with # are skipped. Read line by line.
import { listItem, numberedLines } from './list.ts';
import type { ReadOptions, SourceItem } from './types.ts';

export async function* readTxt(file: string, opts: ReadOptions): AsyncGenerator<SourceItem> {
  for await (const [n, line] of numberedLines(file, opts.signal)) {
    if (line.startsWith('#')) continue;
    const item = listItem(line, undefined, `${file}:${n}`, opts);
    if (item) yield item;
  }
}
