// Finding a dataset's files among the places its published archives put them.
import { IMAGE_EXTENSIONS } from '../../../src/image-formats.ts';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../../src/errors.ts';

/** A dataset's files are missing or unreadable: the user's to fix (an input error, exit code 2). */
export class DatasetError extends InputError {}

export function firstExisting(root: string, candidates: string[], what: string): string {
  for (const c of candidates) {
    const p = join(root, c);
    if (existsSync(p)) return p;
  }
  throw new DatasetError(`${what} not found under ${root} (looked for ${candidates.join(', ')})`);
}

export function readText(file: string): string {
  return readFileSync(file, 'utf8');
}

/** Every image extension, lower and upper case (datasets ship both), jpg first. */
const STEM_EXTENSIONS = IMAGE_EXTENSIONS.flatMap((e) => [e, e.toUpperCase()]);

/** An image with the given stem in `dir`, trying the image extensions. */
export function imageWithStem(dir: string, stem: string, exts: readonly string[] = STEM_EXTENSIONS): string | null {
  for (const e of exts) {
    const p = join(dir, stem + e);
    if (existsSync(p)) return p;
  }
  return null;
}
