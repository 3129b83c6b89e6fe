// Writing the corpus's sets as the curated-set contract (manifest.jsonl + set.json): a subset of a curated set with
// its crops copied, and the mixed set that names the real and synthetic crops by relative paths. Each set is written
// to `<name>.partial` and renamed into place, so a set folder that exists is whole.
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { VERSION } from '../../src/config.ts';
import type { CuratedSet } from '../../training/manifest.ts';
import type { MixedSetInfo } from '../../src/contracts/manifest.ts';

type Line = CuratedSet['items'][number];

/** The manifest line as written (without the reader's absolute `file`). */
function strip(l: Line): Record<string, unknown> {
  const { file: _file, ...rest } = l;
  return rest;
}

/** Writes `dir` through `dir.partial`: `fill` gets the scratch folder; the finished folder replaces any old one. */
export function writeWhole(dir: string, fill: (tmp: string) => void): void {
  const tmp = `${dir}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  fill(tmp);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
}

export async function writeWholeAsync(dir: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  const tmp = `${dir}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  await fill(tmp);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
}

/** A curated subset: the given lines' crops copied under `dir` at their manifest paths, and a set.json for it. */
export function writeSubset(dir: string, lines: Line[], info: Record<string, unknown>): void {
  writeWhole(dir, (tmp) => {
    for (const l of lines) {
      const to = join(tmp, l.path);
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(l.file, to);
    }
    writeFileSync(join(tmp, 'manifest.jsonl'), lines.map((l) => JSON.stringify(strip(l))).join('\n') + (lines.length ? '\n' : ''));
    const images = new Set(lines.map((l) => l.image)).size;
    writeFileSync(join(tmp, 'set.json'), JSON.stringify({ ...info, counts: { faces: lines.length, images }, version: VERSION }, null, 2) + '\n');
  });
}

/** Synthetic lines' ids in the mixed set start here, so they never name a workspace face (lineage, forget). */
export const SYNTHETIC_ID_BASE = 1e12;

/**
 * The mixed set: one manifest over the real and the synthetic crops, by paths relative to `dir` (`../real/...`,
 * `../synth/...`), so `pros train --data DIR/mixed` reads both without a copy. Real lines keep their face ids.
 */
export function writeMixed(dir: string, real: { rel: string; lines: Line[] }, synth: { rel: string; lines: Line[] }): { faces: number; real: number; synthetic: number } {
  const counts = { faces: real.lines.length + synth.lines.length, real: real.lines.length, synthetic: synth.lines.length };
  writeWhole(dir, (tmp) => {
    const out: string[] = [];
    for (const l of real.lines) out.push(JSON.stringify({ ...strip(l), path: `${real.rel}/${l.path}` }));
    synth.lines.forEach((l, n) => out.push(JSON.stringify({ ...strip(l), id: SYNTHETIC_ID_BASE + n, path: `${synth.rel}/${l.path}` })));
    writeFileSync(join(tmp, 'manifest.jsonl'), out.join('\n') + '\n');
    const info: MixedSetInfo = {
      kind: 'mixed', name: 'mixed',
      note: `real crops (ids: workspace face ids) and drawn synthetic faces (ids from ${SYNTHETIC_ID_BASE}), by relative path`,
      parts: [{ dir: real.rel, faces: counts.real }, { dir: synth.rel, faces: counts.synthetic }],
      counts, createdAt: new Date().toISOString(), version: VERSION,
    };
    writeFileSync(join(tmp, 'set.json'), JSON.stringify(info, null, 2) + '\n');
  });
  return counts;
}

export function exists(dir: string): boolean {
  return existsSync(join(dir, 'manifest.jsonl')) || existsSync(join(dir, 'set.json'));
}
