// .csv and .tsv lists: a header row with a `url` column (any case); other columns become metadata. Streamed
// through csv-parse, so a list of millions of rows is never in memory.
import { createReadStream } from 'node:fs';
import { parse, CsvError } from 'csv-parse';
import { findUrlKey, rowMeta } from './meta.ts';
import { listItem } from './list.ts';
import { SourceError, type ReadOptions, type SourceItem } from './types.ts';

export async function* readTable(file: string, delimiter: ',' | '\t', opts: ReadOptions): AsyncGenerator<SourceItem> {
  let urlKey: string | undefined;
  const parser = parse({
    delimiter,
    bom: true,
    skip_empty_lines: true,
    relax_quotes: true,
    info: true,
    columns: (header: string[]) => {
      urlKey = findUrlKey(header);
      if (!urlKey) {
        throw new SourceError(`${file}:1: no "url" column in the header (found: ${header.map((h) => JSON.stringify(h)).join(', ') || 'nothing'})`);
      }
      return header.map((h) => h.trim());
    },
  });
  const input = createReadStream(file);
  input.on('error', (err) => parser.destroy(err));
  input.pipe(parser);
  try {
    for await (const rec of parser as AsyncIterable<{ record: Record<string, string>; info: { lines: number } }>) {
      if (opts.signal?.aborted) return;
      const key = urlKey!.trim();
      const item = listItem(rec.record[key], rowMeta(rec.record, key), `${file}:${rec.info.lines}`, opts);
      if (item) yield item;
    }
  } catch (err) {
    if (err instanceof SourceError) throw err;
    // csv-parse wraps an error thrown from `columns`; unwrap ours.
    const cause = (err as { cause?: unknown }).cause;
    if (cause instanceof SourceError) throw cause;
    if (err instanceof CsvError) {
      const line = (err as CsvError & { lines?: number }).lines;
      throw new SourceError(`${file}${line ? `:${line}` : ''}: malformed ${delimiter === ',' ? 'CSV' : 'TSV'} (${err.message})`);
    }
    throw new SourceError(`${file}: cannot read (${(err as Error).message})`);
  } finally {
    input.destroy();
    parser.destroy();
  }
}
