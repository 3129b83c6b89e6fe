// AffectNet: Manually_Annotated_file_lists/{training,validation}.csv with columns subDirectory_filePath, face_x,
// face_y, face_width, face_height, facial_landmarks, expression, valence, arousal; images under
// Manually_Annotated_Images/. Expressions 0–7 are emotions; 8–10 (none, uncertain, no face) are dropped.
// AffectNet-7 drops contempt (7) as well, as published results on "AffectNet-7" do.
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { AnnotationError, numberOrThrow, type ExpressionData, type Split } from './types.ts';
import { firstExisting, readText } from './files.ts';

export const AFFECTNET_CLASSES = ['Neutral', 'Happy', 'Sad', 'Surprise', 'Fear', 'Disgust', 'Anger', 'Contempt'];
const REQUIRED = ['subDirectory_filePath', 'face_x', 'face_y', 'face_width', 'face_height', 'expression'];

export function readAffectNet(root: string, opts: { classes?: 7 | 8 } = {}): ExpressionData {
  const nClasses = opts.classes ?? 7;
  const imageDir = firstExisting(root, ['Manually_Annotated_Images', 'Manually_Annotated/Manually_Annotated_Images', 'images'], 'AffectNet image folder');
  const samples: ExpressionData['samples'] = [];
  const lists: Array<[string[], Split]> = [
    [['Manually_Annotated_file_lists/training.csv', 'training.csv'], 'train'],
    [['Manually_Annotated_file_lists/validation.csv', 'validation.csv'], 'test'],
  ];
  for (const [candidates, split] of lists) {
    const file = firstExisting(root, candidates, `AffectNet ${candidates.at(-1)}`);
    let rows: string[][];
    try {
      rows = parse(readText(file), { relax_column_count: false, skip_empty_lines: true }) as string[][];
    } catch (err) {
      const line = (err as { lines?: number }).lines ?? 1;
      throw new AnnotationError(file, line, `not valid CSV (${(err as Error).message})`);
    }
    const header = rows[0] ?? [];
    const col = Object.fromEntries(header.map((h, i) => [h.trim(), i]));
    for (const r of REQUIRED) if (!(r in col)) throw new AnnotationError(file, 1, `missing column "${r}"`);
    rows.slice(1).forEach((row, i) => {
      const n = i + 2;
      const expr = numberOrThrow(file, n, row[col.expression!], 'expression');
      if (!Number.isInteger(expr) || expr < 0 || expr > 10) throw new AnnotationError(file, n, `expression must be 0–10, got ${expr}`);
      if (expr >= nClasses) return;
      const box: [number, number, number, number] = [
        numberOrThrow(file, n, row[col.face_x!], 'face_x'),
        numberOrThrow(file, n, row[col.face_y!], 'face_y'),
        numberOrThrow(file, n, row[col.face_width!], 'face_width'),
        numberOrThrow(file, n, row[col.face_height!], 'face_height'),
      ];
      samples.push({ image: join(imageDir, row[col.subDirectory_filePath!]!), split, box, label: expr });
    });
  }
  return { task: 'expression', dataset: `affectnet${nClasses}`, classes: AFFECTNET_CLASSES.slice(0, nClasses), samples };
}
