// Per-channel standardisation of frozen features for the linear probe, fitted on the training rows only.
//
// Two things make a naive z-score unsafe on few training images. A channel that is constant in training (human's
// descriptor is ReLU-sparse: with 13–20 training faces some of its 1,024 channels are 0 on every one) has std 0;
// dividing by std + ε turns a test value of 0.1 into 1e5, and the head's output follows it (a landmark head then
// lands hundreds of per cent off). Such a channel carries nothing the head could have learnt, so it is mapped to 0.
// And rows where the source produced no feature (human found no face) are not data: they are left out of the
// statistics and map to the training mean (0 after standardisation), so the head answers with its intercept
// (the mean shape, the majority logit) instead of extrapolating from a zero vector.

export interface Standardiser {
  /** Standardised copy of `x` (images of `per` rows of `dim`); images listed in `absent` become all-zero. */
  apply(x: Float32Array, absent?: ReadonlySet<number>): Float32Array;
  /** Channels constant over the training rows (mapped to 0). */
  constant: number;
}

/** A channel whose training spread is below this share of the typical channel's is treated as constant. */
const RELATIVE_FLOOR = 1e-3;

/** `train`: images of `per` rows (1: a global vector; tokens: patch tokens) of `dim` channels; `absent`: image indices. */
export function fitStandardiser(train: Float32Array, dim: number, absent: ReadonlySet<number> = new Set(), per = 1): Standardiser {
  const rows = train.length / dim;
  const mean = new Float64Array(dim), sq = new Float64Array(dim);
  let n = 0;
  for (let r = 0; r < rows; r++) {
    if (absent.has(Math.floor(r / per))) continue;
    n++;
    for (let j = 0; j < dim; j++) {
      const v = train[r * dim + j]!;
      mean[j]! += v;
      sq[j]! += v * v;
    }
  }
  const std = new Float64Array(dim);
  for (let j = 0; j < dim; j++) {
    mean[j] = n ? mean[j]! / n : 0;
    std[j] = n ? Math.sqrt(Math.max(sq[j]! / n - mean[j]! ** 2, 0)) : 0;
  }
  const sorted = Float64Array.from(std).sort();
  const typical = sorted[Math.floor(dim / 2)]!;
  const floor = Math.max(typical * RELATIVE_FLOOR, 1e-8);
  const scale = new Float64Array(dim);
  let constant = 0;
  for (let j = 0; j < dim; j++) {
    if (std[j]! > floor) scale[j] = 1 / std[j]!;
    else constant++;
  }
  return {
    constant,
    apply(x, skip) {
      const out = new Float32Array(x.length);
      const m = x.length / dim;
      for (let r = 0; r < m; r++) {
        if (skip?.has(Math.floor(r / per))) continue;
        for (let j = 0; j < dim; j++) out[r * dim + j] = (x[r * dim + j]! - mean[j]!) * scale[j]!;
      }
      return out;
    },
  };
}
