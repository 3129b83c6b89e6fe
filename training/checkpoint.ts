// Checkpoints: tfjs-style weights (a JSON manifest of named float32 tensors + one binary file) and a JSON state.
// Written to a fresh folder (each file fsynced, state.json last) and swapped in by rename; at every instant of a save
// either checkpoint/ or checkpoint.old/ holds a complete checkpoint, and the loader falls back to .old, so a kill at
// any step (test/training/checkpoint.test.ts kills it between each pair) or a NaN stop leaves the last good one.
//   runs/<run>/checkpoint/weights.json  {"format":"pros-weights/1","tensors":[{"name","shape","offset","length"}]}
//   runs/<run>/checkpoint/weights.bin   the tensors' float32 values (little-endian), at offset (in values)
//   runs/<run>/checkpoint/state.json    step, schedules' length, RNG scheme and seed, backend, time
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fsyncDir, fsyncFile } from '../src/atomic.ts';

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

export interface CheckpointState {
  /** Steps completed: training resumes at this step. */
  step: number;
  totalSteps: number;
  /** Every random draw is derived from (seed, purpose, step): this is the whole RNG state. */
  rng: { seed: number; scheme: 'derived-per-step/1' };
  backend: string;
  savedAt: string;
  lastLoss?: number;
}

export interface Checkpoint {
  tensors: Map<string, NamedTensor>;
  state: CheckpointState;
}

export const CHECKPOINT_DIR = 'checkpoint';

/** The steps of a save, in order; `onStep` is called after each (the crash tests kill the process there). */
export const SAVE_STEPS = ['tmp-weights', 'tmp-state', 'old-set-aside', 'new-in-place', 'old-removed'] as const;
export type SaveStep = (typeof SAVE_STEPS)[number];

export function saveCheckpoint(
  runDir: string,
  tensors: Map<string, NamedTensor>,
  state: CheckpointState,
  opts: { onStep?: (step: SaveStep) => void } = {},
): string {
  const step = opts.onStep ?? (() => {});
  const final = join(runDir, CHECKPOINT_DIR);
  const tmp = `${final}.tmp`;
  const old = `${final}.old`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const entries: Array<{ name: string; shape: number[]; offset: number; length: number }> = [];
  let total = 0;
  for (const [name, t] of tensors) {
    entries.push({ name, shape: t.shape, offset: total, length: t.data.length });
    total += t.data.length;
  }
  const bin = new Float32Array(total);
  for (const e of entries) bin.set(tensors.get(e.name)!.data, e.offset);
  const put = (name: string, data: string | Uint8Array) => {
    writeFileSync(join(tmp, name), data);
    fsyncFile(join(tmp, name));
  };
  put('weights.bin', new Uint8Array(bin.buffer, bin.byteOffset, bin.byteLength));
  put('weights.json', JSON.stringify({ format: 'pros-weights/1', tensors: entries }, null, 1));
  step('tmp-weights');
  put('state.json', JSON.stringify(state, null, 2)); // last: a folder with state.json is complete
  fsyncDir(tmp);
  step('tmp-state');
  // checkpoint.old is removed only while checkpoint/ is complete: after a crash that left only .old, it stays until
  // the new one is in place.
  if (existsSync(final)) {
    rmSync(old, { recursive: true, force: true });
    renameSync(final, old);
    fsyncDir(runDir);
  }
  step('old-set-aside');
  renameSync(tmp, final);
  fsyncDir(runDir);
  step('new-in-place');
  rmSync(old, { recursive: true, force: true });
  step('old-removed');
  return final;
}

/** The folders a checkpoint is loaded from, newest first: the current one, then the one a save set aside. */
function candidates(runDir: string): string[] {
  return [join(runDir, CHECKPOINT_DIR), join(runDir, `${CHECKPOINT_DIR}.old`)].filter((d) => existsSync(join(d, 'state.json')));
}

export function hasCheckpoint(runDir: string): boolean {
  return candidates(runDir).length > 0;
}

/** The state of the checkpoint the loader would read first, without its weights. */
export function checkpointState(runDir: string): CheckpointState {
  const [dir] = candidates(runDir);
  if (!dir) throw new Error(`no checkpoint in ${runDir}`);
  return JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as CheckpointState;
}

export function loadCheckpoint(runDir: string): Checkpoint {
  const dirs = candidates(runDir);
  if (dirs.length === 0) throw new Error(`no checkpoint in ${runDir}`);
  const errors: string[] = [];
  for (const dir of dirs) {
    try {
      return readCheckpointDir(dir);
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  throw new Error(`no loadable checkpoint in ${runDir}: ${errors.join('; ')}`);
}

function readCheckpointDir(dir: string): Checkpoint {
  const manifest = JSON.parse(readFileSync(join(dir, 'weights.json'), 'utf8')) as {
    format: string;
    tensors: Array<{ name: string; shape: number[]; offset: number; length: number }>;
  };
  if (manifest.format !== 'pros-weights/1') throw new Error(`${dir}: unknown weights format ${manifest.format}`);
  const buf = readFileSync(join(dir, 'weights.bin'));
  if (buf.byteLength % 4) throw new Error(`${dir}: weights.bin is truncated`);
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const tensors = new Map<string, NamedTensor>();
  for (const e of manifest.tensors) {
    if (e.offset + e.length > all.length) throw new Error(`${dir}: weights.bin is truncated at ${e.name}`);
    tensors.set(e.name, { shape: e.shape, data: all.slice(e.offset, e.offset + e.length) });
  }
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as CheckpointState;
  return { tensors, state };
}

/** Tensors under `prefix`, with the prefix removed: e.g. the teacher's backbone for loadBackbone. */
export function withPrefix(tensors: Map<string, NamedTensor>, prefix: string): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [name, t] of tensors) if (name.startsWith(prefix)) out.set(name.slice(prefix.length), t.data);
  return out;
}
