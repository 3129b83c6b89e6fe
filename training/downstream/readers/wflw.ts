// WFLW: WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_{train,test}.txt, one face per line:
// 196 coordinates (x0 y0 … x97 y97), the box x_min y_min x_max y_max, 6 attribute flags (pose, expression,
// illumination, make-up, occlusion, blur) and the image path relative to WFLW_images/.
import { join } from 'node:path';
import { AnnotationError, numberedLines, numberOrThrow, type LandmarkData, type Split } from './types.ts';
import type { Point } from '../../../src/contracts/geometry.ts';
import { firstExisting, readText } from './files.ts';

const FIELDS = 196 + 4 + 6 + 1;

export function readWflw(root: string): LandmarkData {
  const imageDir = firstExisting(root, ['WFLW_images', 'images'], 'WFLW image folder');
  const samples: LandmarkData['samples'] = [];
  for (const split of ['train', 'test'] as Split[]) {
    const file = firstExisting(root, [
      `WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_${split}.txt`,
      `list_98pt_rect_attr_${split}.txt`,
    ], `WFLW list_98pt_rect_attr_${split}.txt`);
    for (const { n, text } of numberedLines(readText(file))) {
      const t = text.split(/\s+/);
      if (t.length !== FIELDS) throw new AnnotationError(file, n, `expected ${FIELDS} fields (196 coordinates, 4 box, 6 attributes, image), got ${t.length}`);
      const v = t.slice(0, 200).map((s, i) => numberOrThrow(file, n, s, i < 196 ? `coordinate ${i}` : `box value ${i - 196}`));
      const points: Point[] = [];
      for (let i = 0; i < 98; i++) points.push([v[2 * i]!, v[2 * i + 1]!]);
      const [x0, y0, x1, y1] = v.slice(196, 200) as [number, number, number, number];
      samples.push({ image: join(imageDir, t[206]!), split, points, box: [x0, y0, x1 - x0, y1 - y0] });
    }
  }
  return { task: 'landmarks', dataset: 'wflw', points: 98, normaliser: 'inter-ocular', samples };
}
