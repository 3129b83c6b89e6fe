// The one way pros puts a file on disk: write a temporary file beside it, fsync it, rename it over the target, fsync
// the folder. A kill or a power cut at any instant leaves either the old file or the new one, never half of one.
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { open, mkdir, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** A temporary name beside `file`, unique to this process (two processes may write the same target). */
export function tmpPath(file: string): string {
  return join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
}

/** Makes a rename (or a new entry) in `dir` durable. Some platforms cannot fsync a folder: that is not an error. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // EISDIR/EPERM on platforms without folder fsync: the rename itself is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** fsyncs an already written file. */
export function fsyncFile(file: string): void {
  const fd = openSync(file, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Moves a finished temporary file into place durably: fsync it, rename it, fsync the folder. */
export function commitFile(tmp: string, file: string): void {
  fsyncFile(tmp);
  renameSync(tmp, file);
  fsyncDir(dirname(file));
}

/** Writes `data` to `file` atomically and durably. */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = tmpPath(file);
  const fd = openSync(tmp, 'w');
  try {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  fsyncDir(dirname(file));
}

/** writeFileAtomic for code that must not block the event loop (the web server). */
export async function writeFileAtomicAsync(file: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = tmpPath(file);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  fsyncDir(dirname(file));
}
