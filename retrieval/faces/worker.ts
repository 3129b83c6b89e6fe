// A face-analysis worker thread: one FaceAnalyser (its own human runtime: tfjs-node or single-threaded wasm, with the
// native convolution kernels unless on the reference path) serving FacePool.
import { parentPort, workerData } from 'node:worker_threads';
import type { ProsConfig } from '../../src/config.ts';
import { FaceAnalyser } from './analyser.ts';
import type { AnalysisInput } from './types.ts';

export type WorkerData = Pick<ProsConfig, 'faces' | 'policy' | 'backend'> & { profile: boolean; reference: boolean; nativeConv: boolean };
export type WorkerRequest = { id: number; input: Omit<AnalysisInput, 'rgb'> & { rgb: ArrayBuffer } };
export type WorkerReply =
  | { type: 'ready'; runtime: string }
  | { type: 'fatal'; error: string }
  | { type: 'result'; id: number; analysis: import('./types.ts').ImageAnalysis }
  | { type: 'error'; id: number; error: string };

const port = parentPort!;
const data = workerData as WorkerData;

try {
  const analyser = await FaceAnalyser.load(data, { profile: data.profile, reference: data.reference, nativeConv: data.nativeConv });
  port.on('message', async ({ id, input }: WorkerRequest) => {
    try {
      const analysis = await analyser.analyse({ ...input, rgb: Buffer.from(input.rgb) });
      const transfer = analysis.faces.flatMap((f) => (f.descriptor ? [f.descriptor.buffer as ArrayBuffer] : []));
      port.postMessage({ type: 'result', id, analysis } satisfies WorkerReply, transfer);
    } catch (err) {
      port.postMessage({ type: 'error', id, error: (err as Error).stack ?? String(err) } satisfies WorkerReply);
    }
  });
  port.postMessage({ type: 'ready', runtime: analyser.runtime.description } satisfies WorkerReply);
} catch (err) {
  port.postMessage({ type: 'fatal', error: (err as Error).stack ?? String(err) } satisfies WorkerReply);
}
