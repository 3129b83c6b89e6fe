// CelebA: Anno/list_attr_celeba.txt (count, attribute names, then "file v1 … vN" with v ∈ {1, -1}),
// Eval/list_eval_partition.txt ("file 0|1|2": train, val, test) and the image folder img_align_celeba/.
import { join } from 'node:path';
import { AnnotationError, numberedLines, type AttributeData, type Split } from './types.ts';
import { firstExisting, readText } from './files.ts';

const SPLITS: Record<string, Split> = { '0': 'train', '1': 'val', '2': 'test' };

export function readCelebA(root: string, opts: { images?: string } = {}): AttributeData {
  const attrFile = firstExisting(root, ['list_attr_celeba.txt', 'Anno/list_attr_celeba.txt'], 'CelebA list_attr_celeba.txt');
  const partFile = firstExisting(root, ['list_eval_partition.txt', 'Eval/list_eval_partition.txt'], 'CelebA list_eval_partition.txt');
  const imageDir = opts.images ?? firstExisting(root, ['img_align_celeba', 'Img/img_align_celeba', 'images'], 'CelebA image folder');

  const split = new Map<string, Split>();
  for (const { n, text } of numberedLines(readText(partFile))) {
    const [file, code, extra] = text.split(/\s+/);
    const s = SPLITS[code ?? ''];
    if (!file || !s || extra !== undefined) throw new AnnotationError(partFile, n, `expected "<file> 0|1|2", got "${text}"`);
    split.set(file, s);
  }

  const lines = numberedLines(readText(attrFile));
  if (lines.length < 2) throw new AnnotationError(attrFile, lines.length + 1, 'expected a count line and a names line');
  const count = Number(lines[0]!.text);
  if (!Number.isInteger(count) || count < 0) throw new AnnotationError(attrFile, lines[0]!.n, `expected the image count, got "${lines[0]!.text}"`);
  const names = lines[1]!.text.split(/\s+/);
  const samples: AttributeData['samples'] = [];
  for (const { n, text } of lines.slice(2)) {
    const tokens = text.split(/\s+/);
    const file = tokens[0]!;
    if (tokens.length !== names.length + 1) {
      throw new AnnotationError(attrFile, n, `expected ${names.length} attribute values after the file name, got ${tokens.length - 1}`);
    }
    const labels = tokens.slice(1).map((t, i) => {
      if (t !== '1' && t !== '-1') throw new AnnotationError(attrFile, n, `attribute ${names[i]}: expected 1 or -1, got "${t}"`);
      return t === '1' ? 1 : 0;
    });
    const s = split.get(file);
    if (!s) throw new AnnotationError(attrFile, n, `${file} has no entry in ${partFile}`);
    samples.push({ image: join(imageDir, file), split: s, labels });
  }
  if (samples.length !== count) {
    throw new AnnotationError(attrFile, 1, `the header says ${count} images, the file lists ${samples.length}`);
  }
  return { task: 'attributes', dataset: 'celeba', names, samples };
}
