// The perceptual hash of a face crop (dHash) and the grey resampling under it: the curation's near-duplicate check
// (retrieval) and the evaluation's pre-training overlap check (training/downstream/leakage.ts) share them.

/** Grey (Rec. 601 luma) box of an RGB raster, bilinear-resampled to size×size. The box is clipped to the raster. */
export function greyCrop(
  rgb: Uint8Array,
  w: number,
  h: number,
  box: [number, number, number, number],
  outW: number,
  outH = outW,
): Float32Array {
  const x0 = Math.max(0, box[0]);
  const y0 = Math.max(0, box[1]);
  const x1 = Math.min(w, box[0] + box[2]);
  const y1 = Math.min(h, box[1] + box[3]);
  const out = new Float32Array(outW * outH);
  if (x1 - x0 < 1 || y1 - y0 < 1) return out;
  const sx = (x1 - x0) / outW;
  const sy = (y1 - y0) / outH;
  const lum = (x: number, y: number) => {
    const i = (y * w + x) * 3;
    return 0.299 * rgb[i]! + 0.587 * rgb[i + 1]! + 0.114 * rgb[i + 2]!;
  };
  for (let oy = 0; oy < outH; oy++) {
    const fy = Math.min(Math.max(y0 + (oy + 0.5) * sy - 0.5, 0), h - 1);
    const ya = Math.floor(fy), yb = Math.min(ya + 1, h - 1), ty = fy - ya;
    for (let ox = 0; ox < outW; ox++) {
      const fx = Math.min(Math.max(x0 + (ox + 0.5) * sx - 0.5, 0), w - 1);
      const xa = Math.floor(fx), xb = Math.min(xa + 1, w - 1), tx = fx - xa;
      const top = lum(xa, ya) * (1 - tx) + lum(xb, ya) * tx;
      const bottom = lum(xa, yb) * (1 - tx) + lum(xb, yb) * tx;
      out[oy * outW + ox] = top * (1 - ty) + bottom * ty;
    }
  }
  return out;
}

/** 64-bit dHash: each of 8 rows of a 9×8 area-averaged grey box, bit set where a pixel is brighter than its right neighbour. */
export function dhash(rgb: Uint8Array, w: number, h: number, box: [number, number, number, number]): string {
  // Area averaging: sample a 36×32 bilinear grid and pool 4×4, so the hash does not alias on large boxes.
  const fine = greyCrop(rgb, w, h, box, 36, 32);
  const g = new Float32Array(9 * 8);
  for (let y = 0; y < 32; y++) for (let x = 0; x < 36; x++) g[(y >> 2) * 9 + (x >> 2)]! += fine[y * 36 + x]!;
  let hex = '';
  for (let y = 0; y < 8; y++) {
    let byte = 0;
    for (let x = 0; x < 8; x++) byte = (byte << 1) | (g[y * 9 + x]! > g[y * 9 + x + 1]! ? 1 : 0);
    hex += byte.toString(16).padStart(2, '0');
  }
  return hex;
}

/** Hamming distance of two dHashes (hex strings of equal length). */
export function hammingHex(a: string, b: string): number {
  let d = 0;
  for (let i = 0; i < a.length; i += 8) {
    let x = (parseInt(a.slice(i, i + 8), 16) ^ parseInt(b.slice(i, i + 8), 16)) >>> 0;
    while (x) {
      x &= x - 1;
      d++;
    }
  }
  return d;
}
