// A .parquet list in the LAION metadata layout (URL, TEXT, LICENSE, WIDTH, HEIGHT, …; any `url` column works),
// read one row group at a time, so only one group is in memory. hyparquet decodes snappy (LAION's codec) natively.
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { findUrlKey, rowMeta } from './meta.ts';
import { listItem } from './list.ts';
import { clip } from '../../src/input.ts';
import { SourceError, type ReadOptions, type SourceItem } from './types.ts';

export async function* readParquet(file: string, opts: ReadOptions): AsyncGenerator<SourceItem> {
  let buffer, metadata;
  try {
    buffer = await asyncBufferFromFile(file);
    metadata = await parquetMetadataAsync(buffer);
  } catch (err) {
    throw new SourceError(`${file}: not a readable parquet file (${clip((err as Error).message, 200)})`);
  }
  const names = metadata.schema.slice(1).map((e) => e.name);
  const urlKey = findUrlKey(names);
  if (!urlKey) throw new SourceError(`${file}: no "url" column (columns: ${clip(names.join(', '), 300) || 'none'})`);
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    let rows: Record<string, unknown>[];
    try {
      rows = await parquetReadObjects({ file: buffer, metadata, rowStart, rowEnd });
    } catch (err) {
      throw new SourceError(`${file}: rows ${rowStart}–${rowEnd - 1} do not parse (${clip((err as Error).message, 200)})`);
    }
    for (let i = 0; i < rows.length; i++) {
      if (opts.signal?.aborted) return;
      const row = rows[i]!;
      const item = listItem(row[urlKey], rowMeta(row, urlKey), `${file}:row ${rowStart + i + 1}`, opts);
      if (item) yield item;
    }
    rowStart = rowEnd;
  }
}
