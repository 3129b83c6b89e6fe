// What every source reader yields, and how it reports what it cannot yield.
import type { CrawlConfig } from '../../src/config.ts';
import { InputError } from '../../src/errors.ts';
import type { Fetcher, FetchOutcome } from '../fetch/index.ts';

export type SourceKind = 'folder' | 'txt' | 'csv' | 'tsv' | 'jsonl' | 'parquet' | 'page';

export const SOURCE_KINDS: readonly SourceKind[] = ['folder', 'txt', 'csv', 'tsv', 'jsonl', 'parquet', 'page'];

export interface SourceItem {
  /** Absolute file path for local files, absolute http(s) URL (without fragment) otherwise. */
  uri: string;
  local: boolean;
  /** Row metadata: caption, licence, width, height, … (lists); the page it was found on (crawl). */
  meta?: Record<string, unknown>;
  /** Link depth from the start page (0 for list rows and folder files). */
  depth: number;
}

export interface SourceRef {
  kind: SourceKind;
  uri: string;
}

/** An entry a reader could not turn into an item: the orchestrator records it with this status and reason. */
export interface RejectedEntry {
  /** The raw value (URL text as written, or the image URL for a page-level opt-out). */
  value: string;
  status: 'failed' | 'skipped';
  reason: RejectReason;
  /** Where it came from: `file:line` for lists (`file:row N` for parquet), the page URL for a crawl. */
  where: string;
}

export const REJECT_REASONS = {
  bad_url: 'not a parsable URL',
  relative_url: 'a relative URL in a list (lists need absolute http(s) URLs)',
  unsupported_scheme: 'a scheme other than http or https (data:, ftp:, file:, …)',
  missing_url: 'a row whose url field is empty or absent',
  too_long: 'a URL longer than 8,192 characters (recorded cut to that length)',
  noai: 'the page opts its images out of AI use (<meta name="robots" content="noai|noimageai">)',
  opted_out: 'in the workspace opt-out registry (pros optout, pros forget)',
  not_a_file: 'folder: not a regular file or folder (a FIFO, socket or device; skipped)',
  symlink_loop: 'folder: a symbolic link that loops, or leads back to a folder already walked (skipped)',
  not_found: 'folder: a dangling symbolic link, or a file gone while the folder was walked',
  unreadable: 'folder: a file or sub-folder that cannot be read (permissions or I/O error)',
} as const;
export type RejectReason = keyof typeof REJECT_REASONS;

export interface ReadOptions {
  crawl: CrawlConfig;
  fetcher: Fetcher;
  /** Called once per crawled page with its fetch outcome and link depth (so pages get recorded like any fetch). */
  onPage?: (url: string, outcome: FetchOutcome, depth: number) => void;
  /** Called for each entry that yields no item (invalid URL, empty url cell, page-level noai, a FIFO in a folder). */
  onReject?: (entry: RejectedEntry) => void;
  /** Stops reading at the next item; the iteration then ends without error. */
  signal?: AbortSignal;
  /** Honour a page's <meta name="robots" content="noai|noimageai"> (default true). */
  respectNoAI?: boolean;
  /** URLs in the opt-out registry: a crawl neither fetches such a page nor yields such an image. */
  optedOut?: (url: string) => boolean;
}

/** Bad input in a source (malformed CSV, unparsable JSONL line, broken parquet): names the file and line or row. */
export class SourceError extends InputError {}
