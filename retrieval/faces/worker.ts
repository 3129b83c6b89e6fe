// A face-analysis worker thread: one FaceAnalyser (its own human runtime: tfjs-node or single-threaded wasm, with the
// native convolution kernels unless on the reference path) serving FacePool through the worker seam (src/workers.ts).
import type { ProsConfig } from '../../src/config.ts';
import { serve, Transfer, workerInput } from '../../src/workers.ts';
import { FaceAnalyser } from './analyser.ts';
import type { AnalysisInput } from './types.ts';

export type FaceWorkerData = Pick<ProsConfig, 'faces' | 'policy' | 'backend'> & { profile: boolean; reference: boolean; nativeConv: boolean };
/** A raster on its way to the worker: the pixels as a transferred ArrayBuffer. */
export type FaceWorkerInput = Omit<AnalysisInput, 'rgb'> & { rgb: ArrayBuffer };

const data = workerInput<FaceWorkerData>();
// A failed load ends the thread with its error, which the pool's first call ('ready') rejects with.
const analyser = await FaceAnalyser.load(data, { profile: data.profile, reference: data.reference, nativeConv: data.nativeConv });

const api = {
  /** What the worker runs on (human's build, backend, graphs). */
  ready(): string {
    return analyser.runtime.description;
  },
  async analyse(input: FaceWorkerInput) {
    const analysis = await analyser.analyse({ ...input, rgb: Buffer.from(input.rgb) });
    const descriptors = analysis.faces.flatMap((f) => (f.descriptor ? [f.descriptor.buffer as ArrayBuffer] : []));
    return new Transfer(analysis, descriptors);
  },
};
export type FaceWorkerApi = typeof api;
serve(api);
