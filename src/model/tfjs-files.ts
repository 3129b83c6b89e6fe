// A tfjs IOHandler over files on disk (model.json + weight shards), so tf.loadGraphModel / tf.loadLayersModel work
// from a folder without tfjs-node's file:// handler (an optional dependency that may be absent).
import { readFile } from 'node:fs/promises';
import { dirname, join, normalize, isAbsolute } from 'node:path';
import type { io } from '@tensorflow/tfjs';
import type { Tf } from '../backend.ts';

export function fileHandler(tf: Tf, modelJson: string): io.IOHandler {
  const dir = dirname(modelJson);
  return {
    async load() {
      const json = JSON.parse(await readFile(modelJson, 'utf8')) as io.ModelJSON;
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const specs: io.WeightsManifestEntry[] = [];
        const buffers: Buffer[] = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const p of group.paths) {
            // Shards live beside model.json; a path that leaves the folder is refused.
            if (isAbsolute(p) || normalize(p).startsWith('..')) throw new Error(`${modelJson}: weight path ${p} leaves the model folder`);
            buffers.push(await readFile(join(dir, p)));
          }
        }
        const all = Buffer.concat(buffers);
        return [specs, all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer];
      });
    },
  };
}
