// Reads a local file into the same outcome shape as a fetch, so folder items and URLs flow through one pipeline.
import { open } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { failed, type FetchOutcome } from './outcome.ts';

export async function readLocalFile(path: string, maxBytes: number): Promise<FetchOutcome> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return failed('not_found', 1, { detail: path });
    if (code === 'EISDIR') return failed('not_a_file', 1, { detail: path });
    return failed('unreadable', 1, { detail: `${code ?? ''} ${path}`.trim() });
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) return failed('not_a_file', 1, { detail: path });
    if (st.size > maxBytes) return failed('too_large', 1, { detail: `${st.size} bytes` });
    // Read at most maxBytes + 1 so a file that grew since stat is still caught.
    const buf = Buffer.alloc(Math.min(st.size, maxBytes) + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, n, buf.length - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n === buf.length) break;
    }
    if (n > maxBytes) return failed('too_large', 1, { detail: `more than ${maxBytes} bytes` });
    return { ok: true, bytes: buf.subarray(0, n), httpStatus: 200, finalUrl: pathToFileURL(path).href, attempts: 1 };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EISDIR') return failed('not_a_file', 1, { detail: path });
    return failed('unreadable', 1, { detail: `${code ?? ''} ${path}`.trim() });
  } finally {
    await handle.close();
  }
}
