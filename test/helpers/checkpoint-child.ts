// Saves checkpoint number N into a run folder and kills itself (SIGKILL: no cleanup, as a crash) after the named step.
// Usage: node --import tsx checkpoint-child.ts RUN_DIR N KILL_AT
import { saveCheckpoint, type NamedTensor, type CheckpointState, type SaveStep } from '../../training/checkpoint.ts';

/** Checkpoint number `n`: every value is n, so a loaded checkpoint tells which save it came from. */
export function checkpointNumber(n: number): { tensors: Map<string, NamedTensor>; state: CheckpointState } {
  const tensors = new Map<string, NamedTensor>([
    ['student.w', { shape: [64, 64], data: new Float32Array(64 * 64).fill(n) }],
    ['opt.m', { shape: [4096], data: new Float32Array(4096).fill(-n) }],
  ]);
  return { tensors, state: { step: n, totalSteps: 10, rng: { seed: 1, scheme: 'derived-per-step/1' }, backend: 'cpu', savedAt: 'now' } };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const [runDir, n, killAt] = process.argv.slice(2) as [string, string, SaveStep];
  const c = checkpointNumber(Number(n));
  saveCheckpoint(runDir, c.tensors, c.state, { onStep: (s) => s === killAt && process.kill(process.pid, 'SIGKILL') });
}
