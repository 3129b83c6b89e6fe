// Each reader on fixture files written here in the dataset's published layout, and malformed files' errors.
import test from 'ava';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { readCelebA } from '../../training/downstream/readers/celeba.ts';
import { readRafDb } from '../../training/downstream/readers/rafdb.ts';
import { readAffectNet } from '../../training/downstream/readers/affectnet.ts';
import { read300W, formatPts } from '../../training/downstream/readers/pts300w.ts';
import { readWflw } from '../../training/downstream/readers/wflw.ts';
import { AnnotationError } from '../../training/downstream/readers/types.ts';
import type { Point } from '../../src/contracts/geometry.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'pros-readers-'));
const png = (file: string) => sharp({ create: { width: 8, height: 8, channels: 3, background: '#888' } }).png().toFile(file);

test('CelebA: attributes as 0/1 and the split from list_eval_partition.txt', (t) => {
  const root = tmp();
  mkdirSync(join(root, 'Anno'));
  mkdirSync(join(root, 'Eval'));
  mkdirSync(join(root, 'img_align_celeba'));
  writeFileSync(join(root, 'Anno/list_attr_celeba.txt'), '3\n5_o_Clock_Shadow Arched_Eyebrows Smiling \n000001.jpg -1  1  1\n000002.jpg  1 -1 -1\n000003.jpg -1 -1  1\n');
  writeFileSync(join(root, 'Eval/list_eval_partition.txt'), '000001.jpg 0\n000002.jpg 1\n000003.jpg 2\n');
  const d = readCelebA(root);
  t.deepEqual(d.names, ['5_o_Clock_Shadow', 'Arched_Eyebrows', 'Smiling']);
  t.deepEqual(d.samples.map((s) => s.labels), [[0, 1, 1], [1, 0, 0], [0, 0, 1]]);
  t.deepEqual(d.samples.map((s) => s.split), ['train', 'val', 'test']);
  t.is(d.samples[2]!.image, join(root, 'img_align_celeba', '000003.jpg'));
});

test('CelebA: a bad value names the file and line', (t) => {
  const root = tmp();
  mkdirSync(join(root, 'img_align_celeba'));
  writeFileSync(join(root, 'list_attr_celeba.txt'), '2\nA B\n1.jpg 1 -1\n2.jpg 1 0\n');
  writeFileSync(join(root, 'list_eval_partition.txt'), '1.jpg 0\n2.jpg 2\n');
  const err = t.throws(() => readCelebA(root), { instanceOf: AnnotationError });
  t.is(err!.line, 4);
  t.regex(err!.message, /list_attr_celeba\.txt:4: attribute B: expected 1 or -1, got "0"/);
});

test('RAF-DB basic: 1-based labels to 0-based, split from the name, aligned image path', async (t) => {
  const root = tmp();
  mkdirSync(join(root, 'EmoLabel'));
  mkdirSync(join(root, 'Image/aligned'), { recursive: true });
  writeFileSync(join(root, 'EmoLabel/list_patition_label.txt'), 'train_00001.jpg 5\ntrain_00002.jpg 1\ntest_0001.jpg 7\n');
  await png(join(root, 'Image/aligned/train_00001_aligned.jpg'));
  const d = readRafDb(root);
  t.deepEqual(d.samples.map((s) => s.label), [4, 0, 6]);
  t.deepEqual(d.samples.map((s) => s.split), ['train', 'train', 'test']);
  t.is(d.samples[0]!.image, join(root, 'Image/aligned/train_00001_aligned.jpg'));
  t.is(d.classes[4], 'Sadness');
  writeFileSync(join(root, 'EmoLabel/list_patition_label.txt'), 'train_00001.jpg 5\n\ntrain_00002.jpg 9\n');
  t.throws(() => readRafDb(root), { message: /list_patition_label\.txt:3: expected "<file> <label 1-7>"/ });
});

test('AffectNet: CSV columns, box, contempt and non-emotions dropped for AffectNet-7', (t) => {
  const root = tmp();
  mkdirSync(join(root, 'Manually_Annotated_file_lists'));
  mkdirSync(join(root, 'Manually_Annotated_Images'));
  const head = 'subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal\n';
  writeFileSync(join(root, 'Manually_Annotated_file_lists/training.csv'),
    head + '689/a.jpg,134,134,899,899,"1;2;3",1,0.78,-0.05\n392/b.png,20,30,100,110,"1;2",7,-0.1,0.2\n1/c.jpg,0,0,50,50,"",8,0,0\n');
  writeFileSync(join(root, 'Manually_Annotated_file_lists/validation.csv'), head + '5/d.jpg,1,2,3,4,"",6,0,0\n');
  const d7 = readAffectNet(root);
  t.is(d7.dataset, 'affectnet7');
  t.deepEqual(d7.samples.map((s) => [s.label, s.split]), [[1, 'train'], [6, 'test']]);
  t.deepEqual(d7.samples[0]!.box, [134, 134, 899, 899]);
  t.is(d7.samples[0]!.image, join(root, 'Manually_Annotated_Images/689/a.jpg'));
  t.is(readAffectNet(root, { classes: 8 }).samples.length, 3);
  writeFileSync(join(root, 'Manually_Annotated_file_lists/validation.csv'), head + '5/d.jpg,1,two,3,4,"",6,0,0\n');
  t.throws(() => readAffectNet(root), { message: /validation\.csv:2: expected a number for face_y, got "two"/ });
});

const pts68 = (k: number): Point[] => Array.from({ length: 68 }, (_, i) => [i + k, 2 * i + 0.5]);

test('300W: .pts beside images, split from the published folders', async (t) => {
  const root = tmp();
  for (const dir of ['afw', 'helen/trainset', 'helen/testset', 'ibug']) mkdirSync(join(root, dir), { recursive: true });
  const files = ['afw/1.jpg', 'helen/trainset/2.png', 'helen/testset/3.jpg', 'ibug/image_004.jpg'];
  for (const [i, f] of files.entries()) {
    await png(join(root, f));
    writeFileSync(join(root, f.replace(/\.(jpg|png)$/, '.pts')), formatPts(pts68(i)));
  }
  const d = read300W(root);
  t.is(d.points, 68);
  const bySplit = Object.fromEntries(d.samples.map((s) => [s.image.slice(root.length + 1), s.split]));
  t.deepEqual(bySplit, { 'afw/1.jpg': 'train', 'helen/testset/3.jpg': 'test', 'helen/trainset/2.png': 'train', 'ibug/image_004.jpg': 'test' });
  const afw = d.samples.find((s) => s.image.endsWith('afw/1.jpg'))!;
  t.deepEqual(afw.points[67], [67, 134.5]);
});

test('300W: a truncated .pts file names the file and line', (t) => {
  const root = tmp();
  writeFileSync(join(root, 'x.pts'), 'version: 1\nn_points:  68\n{\n1 2\n3 four\n}\n');
  t.throws(() => read300W(root), { message: /x\.pts:5: expected a number for y, got "four"/ });
  writeFileSync(join(root, 'x.pts'), 'version: 1\nn_points:  3\n{\n1 2\n3 4\n}\n');
  t.throws(() => read300W(root), { message: /x\.pts:2: n_points says 3, the file has 2/ });
});

test('WFLW: 98 points, box, image path; a short line names the file and line', (t) => {
  const root = tmp();
  const dir = join(root, 'WFLW_annotations/list_98pt_rect_attr_train_test');
  mkdirSync(dir, { recursive: true });
  mkdirSync(join(root, 'WFLW_images'));
  const coords = Array.from({ length: 196 }, (_, i) => (i % 2 ? 100 + i : 10 + i).toFixed(3));
  const line = (img: string) => [...coords, '10', '20', '110', '140', '0', '1', '0', '0', '1', '0', img].join(' ');
  writeFileSync(join(dir, 'list_98pt_rect_attr_train.txt'), line('51--Dresses/51_5.jpg') + '\n');
  writeFileSync(join(dir, 'list_98pt_rect_attr_test.txt'), line('0--Parade/0_1.jpg') + '\n' + line('x.jpg') + '\n');
  const d = readWflw(root);
  t.is(d.samples.length, 3);
  t.deepEqual(d.samples[0]!.points[1], [12, 103]);
  t.deepEqual(d.samples[0]!.box, [10, 20, 100, 120]);
  t.is(d.samples[1]!.split, 'test');
  t.is(d.samples[0]!.image, join(root, 'WFLW_images/51--Dresses/51_5.jpg'));
  writeFileSync(join(dir, 'list_98pt_rect_attr_test.txt'), line('a.jpg') + '\n' + line('b.jpg').split(' ').slice(1).join(' ') + '\n');
  t.throws(() => readWflw(root), { message: /list_98pt_rect_attr_test\.txt:2: expected 207 fields/ });
});
