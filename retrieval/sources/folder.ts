// A folder: every regular file under it, recursively, in sorted order (so reruns see the same order), hidden
// files and folders skipped. Content is sniffed later; files that are plainly not images are left out here.
import { opendir, realpath, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import type { ReadOptions, SourceItem } from './types.ts';

const NOT_IMAGES = new Set([
  '.txt', '.md', '.json', '.jsonl', '.csv', '.tsv', '.parquet', '.html', '.htm', '.xml', '.js', '.mjs', '.ts',
  '.css', '.mp4', '.mov', '.avi', '.mkv', '.webm', '.mp3', '.wav', '.pdf', '.zip', '.gz', '.tar', '.db', '.db-wal',
  '.db-shm', '.py', '.sh', '.log', '.yml', '.yaml', '.toml', '.ini',
]);

export async function* readFolder(dir: string, opts: Pick<ReadOptions, 'signal'>): AsyncGenerator<SourceItem> {
  yield* walk(resolve(dir), new Set(), opts.signal);
}

async function* walk(dir: string, visited: Set<string>, signal?: AbortSignal): AsyncGenerator<SourceItem> {
  // Symlinked folders are followed, but each real folder once: a link to an ancestor is not a loop.
  const real = await realpath(dir);
  if (visited.has(real)) return;
  visited.add(real);
  // One directory's names at a time: sorting needs them, but never the whole tree.
  const names: string[] = [];
  for await (const entry of await opendir(dir)) if (!entry.name.startsWith('.')) names.push(entry.name);
  names.sort();
  for (const name of names) {
    if (signal?.aborted) return;
    const path = join(dir, name);
    let st;
    try {
      st = await stat(path);
    } catch {
      continue; // vanished or a dangling link
    }
    if (st.isDirectory()) yield* walk(path, visited, signal);
    else if (st.isFile() && !NOT_IMAGES.has(extname(name).toLowerCase())) yield { uri: path, local: true, depth: 0 };
  }
}
