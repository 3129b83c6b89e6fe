// The views worker: decodes the set's crops (sharp) and builds each step's multi-crop views, so the thread that
// trains is never starved by data preparation.
import type { ViewsConfig } from './config.ts';
import { decode, makeViews, type Decoded } from './augment.ts';
import { serve, Transfer, workerInput } from '../src/workers.ts';
import { derive } from './rng.ts';

export type ViewsWorkerData = { files: string[]; views: ViewsConfig; seed: number };
const { files, views, seed } = workerInput<ViewsWorkerData>();
const cache = new Map<number, Decoded>();

async function image(i: number): Promise<Decoded> {
  const hit = cache.get(i);
  if (hit) return hit;
  let d: Decoded;
  try {
    d = await decode(files[i]);
  } catch (e) {
    throw new Error(`cannot decode crop ${files[i]}: ${(e as Error).message}`);
  }
  if (cache.size < views.cacheImages) cache.set(i, d);
  return d;
}

const api = {
  async views({ step, indices }: { step: number; indices: number[] }) {
    const images = await Promise.all(indices.map(image));
    const v = makeViews(images, views, derive(seed, 'views', step));
    return new Transfer(v, [v.globals.buffer as ArrayBuffer, v.locals.buffer as ArrayBuffer, v.boxes.buffer as ArrayBuffer]);
  },
};
export type ViewsWorkerApi = typeof api;
serve(api);
