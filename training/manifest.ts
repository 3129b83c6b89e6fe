// Reads a curated set (DESIGN.md's manifest.jsonl contract) for training, with clear errors on bad input.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InputError } from '../src/errors.ts';

/** One line of curated/<set>/manifest.jsonl. Training needs only id and path; the rest is carried along. */
export interface ManifestLine {
  id: string;
  path: string;
  image?: string;
  source?: string;
  box?: [number, number, number, number];
  score?: number;
  landmarks?: Array<[number, number]>;
  yaw?: number;
  pitch?: number;
  roll?: number;
  faceRatio?: number;
  sharpness?: number;
  licence?: string;
}

export interface CuratedSet {
  dir: string;
  items: Array<ManifestLine & { file: string }>;
  /** set.json beside the manifest, when present. */
  info?: Record<string, unknown>;
}

/** `data`: the set's folder, its manifest.jsonl, or a set name under `<workspace>/curated/`. */
export function resolveSetDir(data: string, curatedRoot?: string): string {
  if (existsSync(data)) return statSync(data).isDirectory() ? resolve(data) : dirname(resolve(data));
  if (curatedRoot && /^[\w.-]+$/.test(data) && existsSync(join(curatedRoot, data))) return join(curatedRoot, data);
  throw new InputError(`--data ${data}: no such curated set (expected a folder with manifest.jsonl${curatedRoot ? ` or a set name in ${curatedRoot}` : ''})`);
}

export function readManifest(data: string, curatedRoot?: string): CuratedSet {
  const dir = resolveSetDir(data, curatedRoot);
  const file = join(dir, 'manifest.jsonl');
  if (!existsSync(file)) throw new InputError(`${dir}: no manifest.jsonl (not a curated set; make one with pros curate)`);
  const items: CuratedSet['items'] = [];
  const lines = readFileSync(file, 'utf8').split('\n');
  const seen = new Set<string>();
  for (const [n, raw] of lines.entries()) {
    const line = raw.trim();
    if (!line) continue;
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch {
      throw new InputError(`${file}:${n + 1}: not valid JSON`);
    }
    const o = obj as Partial<ManifestLine>;
    if (typeof o !== 'object' || o === null || typeof o.path !== 'string' || !o.path) {
      throw new InputError(`${file}:${n + 1}: expected an object with a "path" (the crop, relative to the manifest)`);
    }
    const id = o.id === undefined ? String(n + 1) : String(o.id);
    if (seen.has(id)) throw new InputError(`${file}:${n + 1}: duplicate id ${id}`);
    seen.add(id);
    items.push({ ...(o as ManifestLine), id, file: resolve(dir, o.path) });
  }
  if (items.length === 0) throw new InputError(`${file}: the manifest is empty (no crops to train on)`);
  const missing = items.filter((i) => !existsSync(i.file));
  if (missing.length) {
    const shown = missing.slice(0, 3).map((m) => m.path).join(', ');
    throw new InputError(`${file}: ${missing.length} of ${items.length} crops are missing on disk (${shown}${missing.length > 3 ? ', ...' : ''})`);
  }
  let info: Record<string, unknown> | undefined;
  if (existsSync(join(dir, 'set.json'))) {
    try {
      info = JSON.parse(readFileSync(join(dir, 'set.json'), 'utf8'));
    } catch {
      throw new InputError(`${join(dir, 'set.json')}: not valid JSON`);
    }
  }
  return { dir, items, info };
}
