// VectorStore: an append-only file of float32 rows, the truth from which ANN indexes are built and re-ranked.
// A row is written with one positional write at the end of the file; a crash can only tear the last row, and a torn
// row is cut off when the file is next opened (its database row was never committed, or is re-added on resume).
import { closeSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export class VectorStore {
  private rows: number;
  private readonly rowBytes: number;

  private constructor(
    private readonly fd: number,
    readonly file: string,
    readonly dim: number,
    /** Bytes cut from a torn last row when the file was opened (0 normally). */
    readonly truncatedBytes: number,
  ) {
    this.rowBytes = dim * 4;
    this.rows = fstatSync(fd).size / this.rowBytes;
  }

  static open(file: string, dim: number): VectorStore {
    mkdirSync(dirname(file), { recursive: true });
    const fd = openSync(file, 'a+');
    const size = fstatSync(fd).size;
    const torn = size % (dim * 4);
    if (torn) ftruncateSync(fd, size - torn);
    return new VectorStore(fd, file, dim, torn);
  }

  count(): number {
    return this.rows;
  }

  /** Appends rows (vectors.length a multiple of dim); returns the first new row number. */
  append(vectors: Float32Array): number {
    if (vectors.length % this.dim) throw new Error(`append: ${vectors.length} floats is not a multiple of ${this.dim}`);
    const first = this.rows;
    const bytes = new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength);
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done, first * this.rowBytes + done);
    this.rows += vectors.length / this.dim;
    return first;
  }

  /**
   * Overwrites rows in place with zeros and syncs: a forgotten face's descriptor must leave the file, not only the
   * index (an unlinked row would still be readable). Rows past the end are ignored (never written).
   */
  zero(rows: Iterable<number>): number {
    const blank = new Uint8Array(this.rowBytes);
    let n = 0;
    // Our own descriptor is opened for appending, and on Linux a positional write to an O_APPEND file lands at the
    // end whatever the position: overwriting takes a second descriptor opened for update.
    const fd = openSync(this.file, 'r+');
    try {
      for (const r of rows) {
        if (!(Number.isInteger(r) && r >= 0 && r < this.rows)) continue;
        let done = 0;
        while (done < blank.length) done += writeSync(fd, blank, done, blank.length - done, r * this.rowBytes + done);
        n++;
      }
      if (n) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return n;
  }

  read(row: number): Float32Array {
    return this.readRows([row]);
  }

  /** The given rows, concatenated in the order asked. */
  readRows(rows: ArrayLike<number>): Float32Array {
    const out = new Float32Array(rows.length * this.dim);
    const bytes = new Uint8Array(out.buffer);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      if (!(r >= 0 && r < this.rows && Number.isInteger(r))) throw new RangeError(`row ${r} not in 0..${this.rows - 1}`);
      readSync(this.fd, bytes, i * this.rowBytes, this.rowBytes, r * this.rowBytes);
    }
    return out;
  }

  /** Rows [start, start+n) in one read. */
  readRange(start: number, n: number): Float32Array {
    const out = new Float32Array(n * this.dim);
    if (start < 0 || start + n > this.rows) throw new RangeError(`rows ${start}..${start + n - 1} not in 0..${this.rows - 1}`);
    readSync(this.fd, new Uint8Array(out.buffer), 0, out.byteLength, start * this.rowBytes);
    return out;
  }

  sync(): void {
    fsyncSync(this.fd);
  }

  close(): void {
    closeSync(this.fd);
  }
}
