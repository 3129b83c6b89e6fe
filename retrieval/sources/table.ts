// .csv and .tsv lists: a header row with a `url` column (any case); other columns become metadata. Streamed
// through csv-parse, so a list of millions of rows is never in memory.
import { createReadStream } from 'node:fs';
import { parse, CsvError } from 'csv-parse';
import { findUrlKey, rowMeta } from './meta.ts';
import { listItem } from './list.ts';
import { clip } from '../../src/input.ts';
import { SourceError, type ReadOptions, type SourceItem } from './types.ts';

/** Longest row accepted, bytes. */
export const MAX_ROW_BYTES = 1 << 20;

export async function* readTable(file: string, delimiter: ',' | '\t', opts: ReadOptions): AsyncGenerator<SourceItem> {
  // Rows come as arrays and are named here: column names are data, and a null-prototype row keeps a column named
  // "__proto__" a column (csv-parse's own row objects would drop it on the prototype setter).
  // A row over 1 MiB is malformed: csv-parse slows down sharply on huge fields (14 s for one 5 MB field).
  const parser = parse({ delimiter, bom: true, skip_empty_lines: true, relax_quotes: true, info: true, max_record_size: MAX_ROW_BYTES });
  const input = createReadStream(file);
  input.on('error', (err) => parser.destroy(err));
  input.pipe(parser);
  let header: string[] | undefined;
  let urlKey = '';
  try {
    for await (const rec of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      if (opts.signal?.aborted) return;
      if (!header) {
        header = rec.record.map((h) => h.trim());
        urlKey = findUrlKey(header) ?? '';
        if (!urlKey) {
          // The header is echoed clipped: a 5 MB first line must not become a 5 MB error message.
          const names = header.slice(0, 8).map((h) => JSON.stringify(clip(h, 30))).join(', ') + (header.length > 8 ? ', …' : '');
          const found = header.length > 8 ? `${header.length} columns: ${names}` : names || 'nothing';
          throw new SourceError(`${file}:${rec.info.lines}: no "url" column in the header (found: ${found})`);
        }
        continue;
      }
      const row: Record<string, string> = Object.create(null);
      header.forEach((name, i) => {
        if (!Object.hasOwn(row, name)) row[name] = rec.record[i] ?? '';
      });
      const item = listItem(row[urlKey], rowMeta(row, urlKey), `${file}:${rec.info.lines}`, opts);
      if (item) yield item;
    }
  } catch (err) {
    if (err instanceof SourceError) throw err;
    if (err instanceof CsvError) {
      const line = (err as CsvError & { lines?: number }).lines;
      throw new SourceError(`${file}${line ? `:${line}` : ''}: malformed ${delimiter === ',' ? 'CSV' : 'TSV'} (${clip(err.message, 200)})`);
    }
    throw new SourceError(`${file}: cannot read (${clip((err as Error).message, 200)})`);
  } finally {
    input.destroy();
    parser.destroy();
  }
}
