// Sources: turning `pros curate` arguments into a stream of items (local files or image URLs).
import { crawl } from './crawl.ts';
import { readFolder } from './folder.ts';
import { readJsonl } from './jsonl.ts';
import { readParquet } from './parquet.ts';
import { readTable } from './table.ts';
import { readTxt } from './txt.ts';
import type { ReadOptions, SourceItem, SourceRef } from './types.ts';

export { detectSource } from './detect.ts';
export { extractLinks, parseSrcset } from './html.ts';
export {
  REJECT_REASONS,
  SOURCE_KINDS,
  SourceError,
  type ReadOptions,
  type RejectReason,
  type RejectedEntry,
  type SourceItem,
  type SourceKind,
  type SourceRef,
} from './types.ts';

/** Streams the items of one source. Malformed input throws SourceError (a InputError) naming the file and line. */
export function readSource(src: SourceRef, opts: ReadOptions): AsyncIterable<SourceItem> {
  switch (src.kind) {
    case 'folder':
      return readFolder(src.uri, opts);
    case 'txt':
      return readTxt(src.uri, opts);
    case 'csv':
      return readTable(src.uri, ',', opts);
    case 'tsv':
      return readTable(src.uri, '\t', opts);
    case 'jsonl':
      return readJsonl(src.uri, opts);
    case 'parquet':
      return readParquet(src.uri, opts);
    case 'page':
      return crawl(src.uri, opts);
  }
}
