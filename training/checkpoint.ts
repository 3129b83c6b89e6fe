// Checkpoints: tfjs-style weights (a JSON manifest of named float32 tensors + one binary file) and a JSON state.
// Written to a fresh folder and swapped in by rename, so a crash or a NaN stop always leaves the last good one.
//   runs/<run>/checkpoint/weights.json  {"format":"pros-weights/1","tensors":[{"name","shape","offset","length"}]}
//   runs/<run>/checkpoint/weights.bin   the tensors' float32 values (little-endian), at offset (in values)
//   runs/<run>/checkpoint/state.json    step, schedules' length, RNG scheme and seed, backend, time
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

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

export function saveCheckpoint(runDir: string, tensors: Map<string, NamedTensor>, state: CheckpointState): string {
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
  writeFileSync(join(tmp, 'weights.bin'), Buffer.from(bin.buffer, bin.byteOffset, bin.byteLength));
  writeFileSync(join(tmp, 'weights.json'), JSON.stringify({ format: 'pros-weights/1', tensors: entries }, null, 1));
  writeFileSync(join(tmp, 'state.json'), JSON.stringify(state, null, 2));
  rmSync(old, { recursive: true, force: true });
  if (existsSync(final)) renameSync(final, old);
  renameSync(tmp, final);
  rmSync(old, { recursive: true, force: true });
  return final;
}

export function hasCheckpoint(runDir: string): boolean {
  return existsSync(join(runDir, CHECKPOINT_DIR, 'state.json'));
}

export function loadCheckpoint(runDir: string): Checkpoint {
  const dir = join(runDir, CHECKPOINT_DIR);
  if (!existsSync(join(dir, 'state.json'))) throw new Error(`no checkpoint in ${runDir}`);
  const manifest = JSON.parse(readFileSync(join(dir, 'weights.json'), 'utf8')) as {
    format: string;
    tensors: Array<{ name: string; shape: number[]; offset: number; length: number }>;
  };
  if (manifest.format !== 'pros-weights/1') throw new Error(`${dir}: unknown weights format ${manifest.format}`);
  const buf = readFileSync(join(dir, 'weights.bin'));
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
