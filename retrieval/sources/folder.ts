// A folder: every regular file under it, recursively, in sorted order (so reruns see the same order), hidden
// files and folders skipped. Content is sniffed later; files that are plainly not images are left out here. What
// the walk meets but cannot take (a FIFO, socket or device; a symbolic link that loops or leads back to a folder
// already walked; a dangling link; a folder it may not open) is reported through onReject, so it is recorded.
import { opendir, realpath, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import type { ReadOptions, RejectedEntry, SourceItem } from './types.ts';

const NOT_IMAGES = new Set([
  '.txt', '.md', '.json', '.jsonl', '.csv', '.tsv', '.parquet', '.html', '.htm', '.xml', '.js', '.mjs', '.ts',
  '.css', '.mp4', '.mov', '.avi', '.mkv', '.webm', '.mp3', '.wav', '.pdf', '.zip', '.gz', '.tar', '.db', '.db-wal',
  '.db-shm', '.py', '.sh', '.log', '.yml', '.yaml', '.toml', '.ini',
]);

export async function* readFolder(dir: string, opts: Pick<ReadOptions, 'signal' | 'onReject'>): AsyncGenerator<SourceItem> {
  const root = resolve(dir);
  yield* walk(root, new Set(), opts, true);
}

type Reject = (path: string, status: RejectedEntry['status'], reason: RejectedEntry['reason']) => void;

async function* walk(dir: string, visited: Set<string>, opts: Pick<ReadOptions, 'signal' | 'onReject'>, top = false): AsyncGenerator<SourceItem> {
  const reject: Reject = (path, status, reason) => opts.onReject?.({ value: path, status, reason, where: dir });
  // Symlinked folders are followed, but each real folder once: a link back to one already walked is recorded.
  let real: string;
  const names: string[] = [];
  try {
    real = await realpath(dir);
    if (visited.has(real)) return reject(dir, 'skipped', 'symlink_loop');
    visited.add(real);
    // One directory's names at a time: sorting needs them, but never the whole tree.
    for await (const entry of await opendir(dir)) if (!entry.name.startsWith('.')) names.push(entry.name);
  } catch (err) {
    if (top) throw err;
    return reject(dir, 'failed', fsReason(err));
  }
  names.sort();
  for (const name of names) {
    if (opts.signal?.aborted) return;
    const path = join(dir, name);
    let st;
    try {
      st = await stat(path);
    } catch (err) {
      reject(path, (err as NodeJS.ErrnoException).code === 'ELOOP' ? 'skipped' : 'failed', fsReason(err));
      continue;
    }
    if (st.isDirectory()) yield* walk(path, visited, opts);
    else if (!st.isFile()) reject(path, 'skipped', 'not_a_file');
    else if (!NOT_IMAGES.has(extname(name).toLowerCase())) yield { uri: path, local: true, depth: 0 };
  }
}

function fsReason(err: unknown): RejectedEntry['reason'] {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ELOOP') return 'symlink_loop';
  if (code === 'ENOENT' || code === 'ENOTDIR') return 'not_found';
  return 'unreadable';
}
