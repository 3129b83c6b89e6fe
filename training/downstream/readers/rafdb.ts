// RAF-DB basic: EmoLabel/list_patition_label.txt ("train_00001.jpg 5", labels 1–7, the split in the name prefix;
// RAF's own spelling of "patition") and the aligned crops Image/aligned/train_00001_aligned.jpg.
import { join, extname, basename } from 'node:path';
import { AnnotationError, numberedLines, type ExpressionData } from './types.ts';
import { firstExisting, imageWithStem, readText } from './files.ts';

export const RAF_CLASSES = ['Surprise', 'Fear', 'Disgust', 'Happiness', 'Sadness', 'Anger', 'Neutral'];

export function readRafDb(root: string): ExpressionData {
  const listFile = firstExisting(root, ['EmoLabel/list_patition_label.txt', 'list_patition_label.txt'], 'RAF-DB list_patition_label.txt');
  const imageDir = firstExisting(root, ['Image/aligned', 'aligned'], 'RAF-DB aligned image folder');
  const samples: ExpressionData['samples'] = [];
  for (const { n, text } of numberedLines(readText(listFile))) {
    const [file, code, extra] = text.split(/\s+/);
    const label = Number(code);
    if (!file || !Number.isInteger(label) || label < 1 || label > 7 || extra !== undefined) {
      throw new AnnotationError(listFile, n, `expected "<file> <label 1-7>", got "${text}"`);
    }
    const split = file.startsWith('train') ? 'train' : file.startsWith('test') ? 'test' : null;
    if (!split) throw new AnnotationError(listFile, n, `file name "${file}" starts with neither train nor test`);
    const stem = basename(file, extname(file)) + '_aligned';
    const image = imageWithStem(imageDir, stem, [extname(file), '.jpg', '.png']) ?? join(imageDir, stem + extname(file));
    samples.push({ image, split, label: label - 1 });
  }
  return { task: 'expression', dataset: 'rafdb', classes: RAF_CLASSES, samples };
}
