// An exact rewrite of human's descriptor graph (faceres) for the wasm backend, measured in docs/profile-curation.md.
// faceres was exported from Keras with ReLU6 spelled as Relu → Minimum(·, 6) → Maximum(·, 0) (clip_by_value) after
// each of its 27 convolutions. On tfjs-backend-wasm the scalar-broadcast Maximum and Minimum run as slow generic
// binary kernels: 60 % of the model's time. min(max(x, 0), 6) and max(min(relu(x), 6), 0) are the same number for
// every float (NaN and -0 aside, neither of which leaves a Relu), so the rewrite changes no output.

interface GraphNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, unknown>;
}

export interface ModelJson {
  modelTopology: { node: GraphNode[] } & Record<string, unknown>;
  weightsManifest: unknown[];
  [key: string]: unknown;
}

interface WeightEntry {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number };
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

/**
 * The values of the scalar weights among `names`, read from the model's weight bytes (the manifest's files
 * concatenated, in order), dequantised as tfjs does (float16; uint8/uint16 with scale and min). Null: not readable.
 */
export function scalarWeights(model: ModelJson, bin: Buffer, names: Set<string>): Map<string, number> | null {
  const out = new Map<string, number>();
  let offset = 0;
  for (const group of model.weightsManifest as { weights: WeightEntry[] }[]) {
    for (const w of group.weights) {
      const stored = w.quantization?.dtype ?? w.dtype;
      const size = BYTES[stored];
      if (size === undefined) return null;
      const count = w.shape.reduce((a, b) => a * b, 1);
      if (names.has(w.name) && count === 1) {
        if (offset + size > bin.length) return null;
        const q = w.quantization;
        let v: number;
        if (stored === 'float32') v = bin.readFloatLE(offset);
        else if (stored === 'int32') v = bin.readInt32LE(offset);
        else if (stored === 'float16') v = float16(bin.readUInt16LE(offset));
        else if (stored === 'uint8' || stored === 'uint16') v = (stored === 'uint8' ? bin[offset]! : bin.readUInt16LE(offset)) * (q?.scale ?? 1) + (q?.min ?? 0);
        else return null;
        out.set(w.name, v);
      }
      offset += count * size;
    }
  }
  return offset === bin.length ? out : null;
}

function float16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1, exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/**
 * Replaces every Maximum(Minimum(Relu(x), 6), 0) whose Relu and Minimum feed nothing else by Relu6(x) under the
 * Maximum's name (its consumers are untouched); `value` gives a constant node's scalar value (undefined: unknown,
 * not fused). The bypassed nodes are pruned. Returns the names of the fused nodes.
 */
export function fuseClipToRelu6(model: ModelJson, value: (constName: string) => number | undefined): { model: ModelJson; fused: string[] } {
  const nodes = model.modelTopology.node;
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const consumers = new Map<string, number>();
  for (const n of nodes) for (const i of n.input ?? []) consumers.set(base(i), (consumers.get(base(i)) ?? 0) + 1);
  const fused: string[] = [];
  const out = nodes.map((n) => {
    if (n.op !== 'Maximum' || n.input?.length !== 2) return n;
    const min = byName.get(base(n.input[0]!));
    if (!min || min.op !== 'Minimum' || min.input?.length !== 2 || consumers.get(min.name) !== 1) return n;
    const relu = byName.get(base(min.input[0]!));
    if (!relu || relu.op !== 'Relu' || relu.input?.length !== 1 || consumers.get(relu.name) !== 1) return n;
    const upper = byName.get(base(min.input[1]!)), lower = byName.get(base(n.input[1]!));
    if (upper?.op !== 'Const' || lower?.op !== 'Const' || value(upper.name) !== 6 || value(lower.name) !== 0) return n;
    fused.push(n.name);
    return { name: n.name, op: 'Relu6', input: [relu.input[0]!], attr: n.attr?.T ? { T: n.attr.T } : {} };
  });
  return { model: { ...model, modelTopology: { ...model.modelTopology, node: prune(out, nodes) } }, fused };
}

/**
 * Drops the nodes the rewrite left without consumers (the bypassed Relu, Minimum and their constants), so that a
 * graph loaded without its signature does not take them for outputs and run them. Their weights stay in the
 * manifest, unused. The original graph's leaves are kept.
 */
function prune(nodes: GraphNode[], original: GraphNode[]): GraphNode[] {
  const leaves = new Set(original.map((n) => n.name));
  for (const n of original) for (const i of n.input ?? []) leaves.delete(base(i));
  let kept = nodes;
  for (;;) {
    const used = new Set(kept.flatMap((n) => (n.input ?? []).map(base)));
    const next = kept.filter((n) => used.has(n.name) || leaves.has(n.name));
    if (next.length === kept.length) return kept;
    kept = next;
  }
}

function base(input: string): string {
  const name = input.startsWith('^') ? input.slice(1) : input;
  const colon = name.indexOf(':');
  return colon >= 0 ? name.slice(0, colon) : name;
}
