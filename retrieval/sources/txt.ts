// A .txt list: one URL per line; blank lines and lines starting with # are skipped. Read line by line.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { listItem } from './list.ts';
import { SourceError, type ReadOptions, type SourceItem } from './types.ts';

export async function* readTxt(file: string, opts: ReadOptions): AsyncGenerator<SourceItem> {
  const input = createReadStream(file, { encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const raw of lines) {
      n++;
      if (opts.signal?.aborted) return;
      const line = (n === 1 ? raw.replace(/^\uFEFF/, '') : raw).trim();
      if (!line || line.startsWith('#')) continue;
      const item = listItem(line, undefined, `${file}:${n}`, opts);
      if (item) yield item;
    }
  } catch (err) {
    throw new SourceError(`${file}: cannot read (${(err as Error).message})`);
  } finally {
    lines.close();
    input.destroy();
  }
}
