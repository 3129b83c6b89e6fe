// 300W / iBUG: one .pts file beside each image:
//   version: 1
//   n_points:  68
//   {
//   x y        (one line per point, image pixels)
//   }
// The split follows the published folders: helen/testset, lfpw/testset, ibug and 300W's 01_Indoor/02_Outdoor are
// test; everything else (afw, */trainset) is train. Files named test_* (the synthetic set) are test too.
import { lstatSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative, basename, dirname } from 'node:path';
import { AnnotationError, numberedLines, numberOrThrow, type LandmarkData, type Split } from './types.ts';
import type { Point } from '../../../src/contracts/geometry.ts';
import { imageWithStem, readText, DatasetError } from './files.ts';

export function parsePts(file: string, text: string): Point[] {
  const lines = numberedLines(text);
  const version = lines[0];
  if (!version || !/^version:\s*\d+/.test(version.text)) throw new AnnotationError(file, version?.n ?? 1, 'expected "version: 1"');
  const header = lines[1];
  const m = header && /^n_points:\s*(\d+)$/.exec(header.text);
  if (!m) throw new AnnotationError(file, header?.n ?? 2, 'expected "n_points: N"');
  const count = Number(m[1]);
  const open = lines[2];
  if (!open || open.text !== '{') throw new AnnotationError(file, open?.n ?? 3, 'expected "{"');
  const pts: Point[] = [];
  let i = 3;
  for (; i < lines.length && lines[i]!.text !== '}'; i++) {
    const { n, text: t } = lines[i]!;
    const parts = t.split(/\s+/);
    if (parts.length !== 2) throw new AnnotationError(file, n, `expected "x y", got "${t}"`);
    pts.push([numberOrThrow(file, n, parts[0], 'x'), numberOrThrow(file, n, parts[1], 'y')]);
  }
  if (i >= lines.length) throw new AnnotationError(file, (lines.at(-1)?.n ?? 0) + 1, 'missing closing "}"');
  if (pts.length !== count) throw new AnnotationError(file, header.n, `n_points says ${count}, the file has ${pts.length}`);
  return pts;
}

export function formatPts(points: Point[]): string {
  return `version: 1\nn_points:  ${points.length}\n{\n${points.map(([x, y]) => `${x.toFixed(3)} ${y.toFixed(3)}`).join('\n')}\n}\n`;
}

export function writePts(file: string, points: Point[]): void {
  writeFileSync(file, formatPts(points));
}

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = lstatSync(p);
    // Links are not followed: a dataset folder may link the same images under a second name (the synthetic set does).
    if (st.isDirectory()) walk(p, out);
    else if (name.endsWith('.pts')) out.push(p);
  }
  return out;
}

export function splitOf300W(relPath: string): Split {
  return /(^|\/)(testset|ibug|01_Indoor|02_Outdoor)(\/|$)|(^|\/)test_[^/]*$/i.test(relPath) ? 'test' : 'train';
}

/**
 * 300W's published test subsets: common (helen and lfpw test sets, 554 faces), challenge (ibug, 135), and the 300-W
 * competition's private set (01_Indoor and 02_Outdoor, 600). "full" (689) is common + challenge; the private set is
 * a different benchmark and is never averaged into it.
 */
export function subsetOf300W(relPath: string): string | undefined {
  if (/(^|\/)(01_Indoor|02_Outdoor)(\/|$)/i.test(relPath)) return 'private';
  if (/(^|\/)ibug(\/|$)/i.test(relPath)) return 'challenge';
  if (/(^|\/)testset(\/|$)/i.test(relPath)) return 'common';
  return undefined;
}

export function read300W(root: string, opts: { dataset?: string } = {}): LandmarkData {
  const files = walk(root);
  if (!files.length) throw new DatasetError(`no .pts files under ${root}`);
  const samples: LandmarkData['samples'] = [];
  let points = -1;
  for (const file of files) {
    const pts = parsePts(file, readText(file));
    if (points < 0) points = pts.length;
    else if (pts.length !== points) throw new AnnotationError(file, 2, `has ${pts.length} points, the others ${points}`);
    const image = imageWithStem(dirname(file), basename(file, '.pts'));
    if (!image) throw new DatasetError(`${file}: no image with the same name beside it`);
    const rel = relative(root, file);
    const split = splitOf300W(rel);
    const subset = split === 'test' ? subsetOf300W(rel) : undefined;
    samples.push({ image, split, points: pts, ...(subset ? { subset } : {}) });
  }
  return { task: 'landmarks', dataset: opts.dataset ?? '300w', points, normaliser: 'inter-ocular', samples };
}
