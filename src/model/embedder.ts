// Face embeddings from an exported model folder through tfjs's own GraphModel loader: what the web's run spaces use
// to embed an uploaded face, and the same path a JavaScript user of models/pros-tiny takes.
import sharp from 'sharp';
import type { GraphModel, Tensor, Tensor2D } from '@tensorflow/tfjs';
import type { Tf } from '../backend.ts';
import { readModelConfig, TFJS_MODEL, type ModelConfig } from './folder.ts';
import { fileHandler } from './tfjs-files.ts';
import { join } from 'node:path';

export interface Embedder {
  config: ModelConfig;
  inputSize: number;
  dim: number;
  /** RGB bytes of n images at inputSize (row-major [n, S, S, 3]) → L2-normalised CLS embeddings [n, dim]. */
  embed(pixels: Uint8Array, n: number): Promise<Float32Array>;
  dispose(): void;
}

/**
 * A face crop (file or encoded bytes) as the backbone's input pixels: resized to `size` × `size` with sharp, covering
 * the square. `pros embed` and search by upload both go through here, so a face embeds the same either way.
 */
export async function inputPixels(image: string | Buffer, size: number): Promise<Buffer> {
  return sharp(image).removeAlpha().resize(size, size, { fit: 'cover' }).raw().toBuffer();
}

export async function loadGraphEmbedder(dir: string, tf: Tf): Promise<Embedder> {
  const config = readModelConfig(dir);
  const model: GraphModel = await tf.loadGraphModel(fileHandler(tf, join(dir, config.files.tfjs ?? TFJS_MODEL)));
  const size = config.input.size;
  const mean = tf.keep(tf.tensor1d(config.input.mean));
  const std = tf.keep(tf.tensor1d(config.input.std));
  return {
    config,
    inputSize: size,
    dim: config.vit.width,
    async embed(pixels, n) {
      const out = tf.tidy(() => {
        const x = tf.div(tf.sub(tf.div(tf.tensor4d(Int32Array.from(pixels), [n, size, size, 3], 'int32').toFloat(), 255), mean), std);
        const cls = model.execute({ pixels: x }, 'cls') as Tensor2D;
        return tf.mul(cls, tf.rsqrt(tf.maximum(tf.sum(tf.square(cls), -1, true), 1e-24))) as Tensor;
      });
      const data = (await out.data()) as Float32Array;
      out.dispose();
      return data;
    },
    dispose() {
      model.dispose();
      mean.dispose();
      std.dispose();
    },
  };
}
