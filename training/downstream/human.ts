// The `human` baseline: @vladmandic/human's 1024-d face descriptor as a fixed feature. One Human per process (its
// wasm runtime is heavy), shared with the pseudo-labeller.
import { createHuman, type Human } from '../../src/human.ts';
import type { FeatureSource } from './features.ts';

let shared: Promise<Human> | null = null;
export function getHuman(): Promise<Human> {
  shared ??= createHuman(1, 0.2);
  return shared;
}

/** Decoded size handed to human: the crop goes in as it is (the detector boxes the whole crop, the mesh fits the face). */
const SIZE = 128;

export interface HumanFace {
  embedding: number[] | null;
  mesh: Array<[number, number]>;
  emotion: Array<{ emotion: string; score: number }>;
  score: number;
}

/** Runs human on one size × size × 3 image in [0, 1]; coordinates come back in the image's own pixels. */
export async function analyse(human: Human, pixels: Float32Array, size: number, config?: object): Promise<HumanFace | null> {
  const t = human.tf.tensor3d(Int32Array.from(pixels, (v) => Math.round(v * 255)), [size, size, 3], 'int32');
  try {
    const res = await human.detect(t as never, config as never);
    if (res.error) throw new Error(`human: ${res.error}`);
    const f = res.face[0];
    if (!f) return null;
    return {
      embedding: f.embedding && f.embedding.length ? Array.from(f.embedding) : null,
      mesh: f.mesh.map((p) => [p[0], p[1]] as [number, number]),
      emotion: (f.emotion ?? []).map((e) => ({ emotion: e.emotion, score: e.score })),
      score: f.score,
    };
  } finally {
    human.tf.dispose(t);
  }
}

// human.detect() merges a call's config into the instance's for good: every caller states what it needs.
const DESCRIBE = { face: { description: { enabled: true }, emotion: { enabled: false } } };
export const EMOTION_AND_MESH = { face: { description: { enabled: false }, emotion: { enabled: true, minConfidence: 0 } } };

export async function humanSource(): Promise<FeatureSource> {
  const human = await getHuman();
  return {
    // v2: the cached features list which images had no face (`absent`).
    id: 'human:3.3.6:descriptor:v2',
    spatial: false,
    inputSize: SIZE,
    async extract(images, size) {
      const dim = 1024;
      const cls = new Float32Array(images.length * dim);
      const absent: number[] = [];
      for (const [i, im] of images.entries()) {
        const face = await analyse(human, im, size, DESCRIBE);
        if (face?.embedding) cls.set(face.embedding.slice(0, dim), i * dim);
        else absent.push(i);
      }
      return { n: images.length, cls, dim, missing: absent.length, absent };
    },
    dispose: () => {},
  };
}
