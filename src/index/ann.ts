// AnnIndex: the one small interface over the approximate-nearest-neighbour engines (usearch, hnswlib-node).
// Ids are the faces table's ids. Similarity is cosine. An index file sits beside an ids file written with it;
// if the two disagree after a crash the index is dropped and rebuilt from the VectorStore (reconcileIndex, exact.ts).
// The engines import this file; openIndex (index.ts) picks one, so no engine imports its chooser.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { IndexConfig } from '../config.ts';
import { commitFile, tmpPath, writeFileAtomic } from '../atomic.ts';

export interface SearchResult {
  /** Per query, ids best first. */
  ids: number[][];
  /** Per query, cosine similarities matching `ids`. */
  sims: number[][];
}

export interface AnnIndex {
  readonly engine: 'usearch' | 'hnswlib';
  readonly dim: number;
  /** Adds vectors (ids.length × dim floats); ids already present are replaced. */
  add(ids: number[], vectors: Float32Array): void;
  search(queries: Float32Array, k: number): SearchResult;
  remove(ids: number[]): void;
  has(id: number): boolean;
  count(): number;
  /** Every id in the index, for consistency checks. */
  ids(): number[];
  /** Writes the index atomically (temporary file, then rename). */
  save(): void;
  /** Search-time breadth; larger is slower and more exact. */
  setEf(ef: number): void;
}

export interface EngineFiles {
  index: string;
  ids: string;
}

export function engineFiles(dir: string, name: string, engine: string): EngineFiles {
  return { index: join(dir, `${name}.${engine}`), ids: join(dir, `${name}.${engine}.ids`) };
}

/** Ids file: little-endian float64 ids (exact for any SQLite rowid we will see), written atomically. */
export function writeIds(file: string, ids: Iterable<number>): void {
  const arr = Float64Array.from(ids);
  writeFileAtomic(file, new Uint8Array(arr.buffer));
}

/** Saves an engine's index file atomically (written to .tmp, then renamed) and then its ids file. */
export function saveEngineFiles(files: EngineFiles, writeIndex: (path: string) => void, ids: Iterable<number>): void {
  mkdirSync(dirname(files.index), { recursive: true });
  const tmp = tmpPath(files.index);
  writeIndex(tmp);
  commitFile(tmp, files.index);
  writeIds(files.ids, ids);
}

export function readIds(file: string): number[] | null {
  if (!existsSync(file)) return null;
  const b = readFileSync(file);
  if (b.length % 8) return null;
  return Array.from(new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)));
}
