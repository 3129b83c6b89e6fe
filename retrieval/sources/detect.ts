// What kind of source a command-line argument names.
import { statSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { InputError } from '../../src/errors.ts';
import type { SourceKind } from './types.ts';

const BY_EXT: Record<string, SourceKind> = {
  '.txt': 'txt',
  '.csv': 'csv',
  '.tsv': 'tsv',
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.parquet': 'parquet',
};

const SUPPORTED =
  'supported sources: a folder, a URL list (.txt, .csv, .tsv, .jsonl/.ndjson with a "url" column, .parquet in the LAION layout), or an http(s) page to crawl';

export function detectSource(arg: string): { kind: SourceKind; uri: string } {
  if (/^https?:\/\//i.test(arg)) {
    let u: URL;
    try {
      u = new URL(arg);
    } catch {
      throw new InputError(`source ${arg}: not a valid URL`);
    }
    u.hash = '';
    return { kind: 'page', uri: u.href };
  }
  if (/^[a-z][a-z0-9+.-]+:\/\//i.test(arg)) throw new InputError(`source ${arg}: unsupported scheme; ${SUPPORTED}`);
  const path = resolve(arg);
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new InputError(`source ${arg}: no such file or folder; ${SUPPORTED}`);
  }
  if (st.isDirectory()) return { kind: 'folder', uri: path };
  if (!st.isFile()) throw new InputError(`source ${arg}: not a regular file or folder; ${SUPPORTED}`);
  const kind = BY_EXT[extname(path).toLowerCase()];
  if (!kind) throw new InputError(`source ${arg}: unknown extension "${extname(path) || '(none)'}"; ${SUPPORTED}`);
  return { kind, uri: path };
}
