// Video frames for the corpus, cut with ffmpeg (Debian's ffmpeg package): every `stride`-th frame of a clip as a
// JPEG named by its frame number. A clip's frames appear all at once (written to a scratch folder, then renamed),
// so a folder that exists is complete and a rerun does not cut it again.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { InputError } from '../../src/errors.ts';

/** ffmpeg's path, or an input error that names the package to install. */
export function requireFfmpeg(bin = process.env.PROS_FFMPEG ?? 'ffmpeg'): string {
  const r = spawnSync(bin, ['-version'], { stdio: 'ignore' });
  if (r.error || r.status !== 0) {
    throw new InputError(
      `${bin} not found: video frames are cut with ffmpeg; install it (Debian/Ubuntu: apt-get install ffmpeg) or set PROS_FFMPEG to its path`,
    );
  }
  return bin;
}

export interface FrameOptions {
  /** Keep frames 0, stride, 2·stride, ... */
  stride: number;
  /** At most this many frames (0: all). */
  max: number;
  ffmpeg: string;
  signal?: AbortSignal;
}

/** The folder a clip's frames go to: `<dir>/<clip stem>`. */
export function framesDir(dir: string, video: string): string {
  return join(dir, basename(video, extname(video)));
}

/** Cuts the frames of `video` into framesDir(dir, video) unless it is already there; returns the frame files. */
export async function extractFrames(video: string, dir: string, o: FrameOptions): Promise<{ dir: string; files: string[]; cut: boolean }> {
  const out = framesDir(dir, video);
  const list = () => readdirSync(out).filter((f) => f.endsWith('.jpg')).sort().map((f) => join(out, f));
  if (existsSync(out)) return { dir: out, files: list(), cut: false };
  const tmp = `${out}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const stem = basename(video, extname(video));
  const args = [
    '-nostdin', '-loglevel', 'error', '-i', video,
    // select keeps every stride-th decoded frame; vfr writes only the kept ones.
    '-vf', `select=not(mod(n\\,${o.stride}))`, '-vsync', 'vfr', '-q:v', '2',
    ...(o.max > 0 ? ['-frames:v', String(o.max)] : []),
    join(tmp, `${stem}_%06d.jpg`),
  ];
  await new Promise<void>((resolve, reject) => {
    const p = spawn(o.ffmpeg, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    const abort = () => p.kill('SIGTERM');
    o.signal?.addEventListener('abort', abort, { once: true });
    p.on('error', reject);
    p.on('close', (code) => {
      o.signal?.removeEventListener('abort', abort);
      if (o.signal?.aborted) reject(new Error('interrupted'));
      else if (code !== 0) reject(new InputError(`ffmpeg could not read ${video} (exit ${code}): ${err.trim().split('\n').at(-1) ?? ''}`));
      else resolve();
    });
  });
  // ffmpeg numbers its outputs 1, 2, ...; rename each to the clip's own frame number so a name says where it came from.
  const written = readdirSync(tmp).filter((f) => f.endsWith('.jpg')).sort();
  if (written.length === 0) throw new InputError(`ffmpeg cut no frames from ${video}`);
  for (const f of written) {
    const k = Number(/_(\d+)\.jpg$/.exec(f)![1]);
    renameSync(join(tmp, f), join(tmp, `${stem}_f${String((k - 1) * o.stride).padStart(5, '0')}.jpg`));
  }
  renameSync(tmp, out);
  return { dir: out, files: list(), cut: true };
}
