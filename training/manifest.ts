// Reads a curated set (DESIGN.md's manifest.jsonl contract) for training, with clear errors on bad input.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InputError } from '../src/errors.ts';
import { parseManifestLine, parseSetInfo, type ManifestLine, type SetInfo } from '../src/contracts/manifest.ts';

export type { ManifestLine } from '../src/contracts/manifest.ts';

export interface CuratedSet {
  dir: string;
  items: Array<ManifestLine & { file: string }>;
  /** set.json beside the manifest, when present. */
  info?: SetInfo;
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
  const seen = new Set<number>();
  for (const [n, raw] of lines.entries()) {
    const line = raw.trim();
    if (!line) continue;
    // Validated here, once, at the edge: ~4-8 µs a line (docs/formats.md), beside JSON.parse's own cost.
    const parsed = parseManifestLine(line);
    if (typeof parsed === 'string') throw new InputError(`${file}:${n + 1}: ${parsed} (a line is {"id": integer, "path": crop relative to the manifest, ...})`);
    if (seen.has(parsed.id)) throw new InputError(`${file}:${n + 1}: duplicate id ${parsed.id}`);
    seen.add(parsed.id);
    items.push({ ...parsed, file: resolve(dir, parsed.path) });
  }
  if (items.length === 0) throw new InputError(`${file}: the manifest is empty (no crops to train on)`);
  const missing = items.filter((i) => !existsSync(i.file));
  if (missing.length) {
    const shown = missing.slice(0, 3).map((m) => m.path).join(', ');
    throw new InputError(`${file}: ${missing.length} of ${items.length} crops are missing on disk (${shown}${missing.length > 3 ? ', ...' : ''})`);
  }
  let info: SetInfo | undefined;
  const infoFile = join(dir, 'set.json');
  if (existsSync(infoFile)) {
    const parsed = parseSetInfo(readFileSync(infoFile, 'utf8'));
    if (typeof parsed === 'string') throw new InputError(`${infoFile}: ${parsed}`);
    info = parsed;
  }
  return { dir, items, info };
}
