// What the heads see: features of a backbone (a run's teacher, or the same ViT at random init) or of human's 1024-d
// face descriptor. Frozen features for the linear probe are computed once and cached on disk by content key.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Tensor4D } from '@tensorflow/tfjs';
import type { Tf } from '../../src/backend.ts';
import type { Backbone } from '../backbone.ts';
import { writeFileAtomic } from '../../src/atomic.ts';

export interface Features {
  n: number;
  /** Global vector per image (CLS token or descriptor): n × dim. */
  cls: Float32Array;
  dim: number;
  /** Patch tokens, n × tokens × dim, where the source has them. */
  patches?: Float32Array;
  tokens?: number;
  /** Images for which the source produced no feature (human found no face): zero rows. */
  missing: number;
  /** Their indices (the standardiser maps them to the training mean; training leaves them out). */
  absent?: number[];
}

export interface FeatureSource {
  /** Stable id for the cache key: run name + checkpoint step, random:<preset>:<seed>, human. */
  id: string;
  /** Whether the features keep the image's layout (patch tokens): only then do mirrored training copies help. */
  spatial: boolean;
  /** Input side the source wants (decoded images are this size). */
  inputSize: number;
  extract(images: Float32Array[], size: number): Promise<Features>;
  dispose(): void;
}

/** Runs the backbone in eval mode over batches of decoded images (size × size × 3 in [0, 1]). */
export function backboneSource(tf: Tf, backbone: Backbone, id: string, batch = 32): FeatureSource {
  return {
    id,
    spatial: true,
    inputSize: backbone.inputSize,
    async extract(images, size) {
      const n = images.length;
      const d = backbone.dim;
      const tokens = (backbone.inputSize / backbone.patch) ** 2;
      const cls = new Float32Array(n * d);
      const patches = new Float32Array(n * tokens * d);
      for (let i = 0; i < n; i += batch) {
        const part = images.slice(i, i + batch);
        const [c, p] = tf.tidy(() => {
          const x = stackImages(tf, part, size);
          const out = backbone.forward(backbone.normalise(x), false);
          return [out.cls, out.patches];
        });
        cls.set(await c!.data(), i * d);
        patches.set(await p!.data(), i * tokens * d);
        tf.dispose([c!, p!]);
      }
      return { n, cls, dim: d, patches, tokens, missing: 0 };
    },
    dispose: () => backbone.dispose(),
  };
}

export function stackImages(tf: Tf, images: Float32Array[], size: number): Tensor4D {
  const buf = new Float32Array(images.length * size * size * 3);
  images.forEach((im, j) => buf.set(im, j * size * size * 3));
  return tf.tensor4d(buf, [images.length, size, size, 3]);
}

/** Disk cache of frozen features: workspace/cache/features/<key>.{json,f32}. */
export class FeatureCache {
  constructor(private readonly dir: string) {}

  static key(sourceId: string, images: string[], size: number, variant: string): string {
    const h = createHash('sha256');
    h.update(`${sourceId}\n${size}\n${variant}\n`);
    for (const im of images) h.update(im + '\n');
    return h.digest('hex').slice(0, 24);
  }

  get(key: string): Features | null {
    const meta = join(this.dir, `${key}.json`), data = join(this.dir, `${key}.f32`);
    if (!existsSync(meta) || !existsSync(data)) return null;
    const m = JSON.parse(readFileSync(meta, 'utf8')) as Omit<Features, 'cls' | 'patches'>;
    const buf = readFileSync(data);
    const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    const clsLen = m.n * m.dim;
    return { ...m, cls: all.slice(0, clsLen), patches: m.tokens ? all.slice(clsLen) : undefined };
  }

  put(key: string, f: Features): void {
    mkdirSync(this.dir, { recursive: true });
    const { cls, patches, ...meta } = f;
    const all = new Float32Array(cls.length + (patches?.length ?? 0));
    all.set(cls);
    if (patches) all.set(patches, cls.length);
    // The .json is the cache entry's commit mark: written last, so a crash leaves no entry without its values.
    writeFileAtomic(join(this.dir, `${key}.f32`), new Uint8Array(all.buffer));
    writeFileAtomic(join(this.dir, `${key}.json`), JSON.stringify(meta));
  }
}
