// The run-embedding header: index/runs/<run>.json beside index/runs/<run>.f32, written by `pros embed` before its
// first row and read by every reader of the run's space (the web), so nobody guesses the width from the file size.
import { z } from 'zod';

export const RunEmbeddingHeader = z.object({
  format: z.literal('pros-run-embeddings/1'),
  run: z.string().min(1),
  /** float32 values per row of the .f32 file. */
  dim: z.number().int().positive(),
  /** The checkpoint step whose teacher made the embeddings. */
  checkpointStep: z.number().int().nonnegative(),
  createdAt: z.string(),
});
export type RunEmbeddingHeader = z.infer<typeof RunEmbeddingHeader>;
