// The one atomic write: the target holds the old bytes or the new, and no temporary file is left behind.
import test from 'ava';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commitFile, tmpPath, writeFileAtomic, writeFileAtomicAsync } from '../../src/atomic.ts';

test('writeFileAtomic replaces a file whole and leaves nothing beside it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pros-atomic-'));
  const file = join(dir, 'sub', 'a.json');
  writeFileAtomic(file, 'old');
  writeFileAtomic(file, new Uint8Array([110, 101, 119]));
  t.is(readFileSync(file, 'utf8'), 'new');
  await writeFileAtomicAsync(file, 'async');
  t.is(readFileSync(file, 'utf8'), 'async');
  t.deepEqual(readdirSync(join(dir, 'sub')), ['a.json']);
});

test('a temporary file written but not committed leaves the target untouched', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pros-atomic-'));
  const file = join(dir, 'm.jsonl');
  writeFileAtomic(file, 'v1\n');
  const tmp = tmpPath(file);
  writeFileSync(tmp, 'v2\n'); // a crash here: the target is still v1
  t.is(readFileSync(file, 'utf8'), 'v1\n');
  commitFile(tmp, file);
  t.is(readFileSync(file, 'utf8'), 'v2\n');
  t.deepEqual(readdirSync(dir), ['m.jsonl']);
});
