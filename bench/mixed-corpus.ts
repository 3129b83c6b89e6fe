// The mixed loopback corpus of bench:curate and bench:scale: half faces, half non-faces, every file distinct.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { nonFaceImage, syntheticFace } from '../app/demo/corpus.ts';
import { packagePhotos } from '../app/package-media.ts';

/** Half faces (package photos and drawn faces, varied so every file is distinct), half non-faces, ~640 px JPEG. */
export async function buildMixedCorpus(dir: string, count: number): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const photos = packagePhotos().filter((p) => !p.endsWith('samples.jpg'));
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `img-${String(i).padStart(4, '0')}.jpg`;
    let img: sharp.Sharp;
    if (i % 2 === 0) {
      const k = i / 2;
      const src = k % 5 === 4 ? await syntheticFace(k) : photos[k % photos.length];
      // Vary crop, flip and tone so the copies are distinct images (they still exercise dedup as near-duplicates).
      const meta = await sharp(src).metadata();
      const w = meta.width!, h = meta.height!;
      const cut = 0.04 * ((k * 7) % 5);
      img = sharp(src)
        .extract({ left: Math.round(w * cut), top: Math.round(h * cut / 2), width: Math.round(w * (1 - cut)), height: Math.round(h * (1 - cut)) })
        .resize(640, 640, { fit: 'inside' })
        .modulate({ brightness: 0.9 + ((k * 13) % 7) * 0.03 });
      if (k % 2) img = img.flop();
    } else {
      img = sharp(await nonFaceImage(i, 640, 480));
    }
    writeFileSync(join(dir, name), await img.jpeg({ quality: 85 }).toBuffer());
    names.push(name);
  }
  return names;
}
