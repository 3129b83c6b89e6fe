// The checkpoint swap leaves a loadable checkpoint whatever step a crash hits: the save is killed (SIGKILL, no
// cleanup) after each of its steps, and after a crash that left only checkpoint.old, again at each step of the next.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCheckpoint, saveCheckpoint, SAVE_STEPS, type SaveStep } from '../../training/checkpoint.ts';
import { checkpointNumber } from '../helpers/checkpoint-child.ts';

const child = fileURLToPath(new URL('../helpers/checkpoint-child.ts', import.meta.url));

function killedSave(runDir: string, n: number, at: SaveStep): void {
  const r = spawnSync(process.execPath, ['--import', 'tsx', child, runDir, String(n), at], { encoding: 'utf8' });
  if (r.signal !== 'SIGKILL') throw new Error(`the save was not killed at ${at}: ${r.status} ${r.stderr}`);
}

/** The checkpoint the loader finds, as the number every value of it holds (and checks they all agree). */
function loadedNumber(runDir: string): number {
  const c = loadCheckpoint(runDir);
  const w = c.tensors.get('student.w')!.data;
  const m = c.tensors.get('opt.m')!.data;
  if (!w.every((v) => v === c.state.step) || !m.every((v) => v === -c.state.step)) throw new Error('a mixed checkpoint');
  return c.state.step;
}

function runWithCheckpoint(n: number): string {
  const runDir = mkdtempSync(join(tmpdir(), 'pros-ckpt-'));
  const c = checkpointNumber(n);
  saveCheckpoint(runDir, c.tensors, c.state);
  return runDir;
}

for (const at of SAVE_STEPS) {
  test(`a save killed after ${at} leaves a loadable checkpoint, the old or the new`, (t) => {
    const runDir = runWithCheckpoint(1);
    killedSave(runDir, 2, at);
    const before = SAVE_STEPS.indexOf(at) < SAVE_STEPS.indexOf('new-in-place');
    t.is(loadedNumber(runDir), before ? 1 : 2);
    // And the next save works over whatever the crash left.
    const c = checkpointNumber(3);
    saveCheckpoint(runDir, c.tensors, c.state);
    t.is(loadedNumber(runDir), 3);
  });
}

test('after a crash that left only checkpoint.old, a second crash at any step still leaves one', (t) => {
  for (const at of SAVE_STEPS) {
    const runDir = runWithCheckpoint(1);
    killedSave(runDir, 2, 'old-set-aside'); // checkpoint/ gone, checkpoint.old/ holds 1
    t.is(loadedNumber(runDir), 1);
    killedSave(runDir, 3, at);
    const before = SAVE_STEPS.indexOf(at) < SAVE_STEPS.indexOf('new-in-place');
    t.is(loadedNumber(runDir), before ? 1 : 3, `second crash after ${at}`);
  }
});
