// Picks the reader for a dataset folder from the files it holds (or --format), per task.
import { existsSync, readFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { readCelebA } from './readers/celeba.ts';
import { readRafDb } from './readers/rafdb.ts';
import { readAffectNet } from './readers/affectnet.ts';
import { read300W } from './readers/pts300w.ts';
import { readWflw } from './readers/wflw.ts';
import { DatasetError } from './readers/files.ts';
import { parseSetInfo } from '../../src/contracts/manifest.ts';
import type { TaskData } from './readers/types.ts';

export type TaskName = 'attributes' | 'expression' | 'landmarks';
export const FORMATS = ['celeba', 'rafdb', 'affectnet', 'affectnet8', '300w', 'wflw'] as const;
export type Format = (typeof FORMATS)[number];

const TASK_OF: Record<Format, TaskName> = {
  celeba: 'attributes', rafdb: 'expression', affectnet: 'expression', affectnet8: 'expression', '300w': 'landmarks', wflw: 'landmarks',
};

export function detectFormat(root: string, task: TaskName): Format {
  const has = (...p: string[]) => p.some((x) => existsSync(join(root, x)));
  if (!existsSync(root)) throw new DatasetError(`dataset folder ${root} does not exist`);
  if (task === 'attributes' && has('list_attr_celeba.txt', 'Anno/list_attr_celeba.txt')) return 'celeba';
  if (task === 'expression' && has('EmoLabel/list_patition_label.txt', 'list_patition_label.txt')) return 'rafdb';
  if (task === 'expression' && has('Manually_Annotated_file_lists/training.csv', 'training.csv')) return 'affectnet';
  if (task === 'landmarks' && has('WFLW_annotations', 'list_98pt_rect_attr_train.txt')) return 'wflw';
  if (task === 'landmarks') return '300w';
  throw new DatasetError(`${root}: no ${task} dataset layout found (CelebA, RAF-DB, AffectNet, 300W or WFLW; see docs/evaluation.md)`);
}

export function readDataset(root: string, task: TaskName, format?: Format): TaskData {
  const f = format ?? detectFormat(root, task);
  if (TASK_OF[f] !== task) throw new DatasetError(`--format ${f} holds ${TASK_OF[f]} labels, not ${task}`);
  const d = (() => {
    switch (f) {
      case 'celeba': return readCelebA(root);
      case 'rafdb': return readRafDb(root);
      case 'affectnet': return readAffectNet(root, { classes: 7 });
      case 'affectnet8': return readAffectNet(root, { classes: 8 });
      case '300w': return read300W(root);
      case 'wflw': return readWflw(root);
    }
  })();
  // A synthetic or pseudo-labelled set says so in its set.json; the dataset name carries it into every result row.
  if (existsSync(join(root, 'set.json'))) {
    const info = parseSetInfo(readFileSyncSafe(join(root, 'set.json')));
    if (typeof info === 'string') throw new DatasetError(`${join(root, 'set.json')}: ${info}`);
    const kind = info.kind;
    // Two synthetic folders are two datasets: the folder's name keeps their rows apart in the report.
    if (kind === 'synthetic' || kind === 'pseudo') d.dataset = `${kind}-${d.dataset}:${basename(resolve(root))}`;
    if (kind === 'pseudo') d.pseudo = true;
  }
  return d;
}

function readFileSyncSafe(f: string): string {
  try {
    return readFileSync(f, 'utf8');
  } catch {
    return '{}';
  }
}
