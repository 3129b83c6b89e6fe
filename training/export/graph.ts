// The teacher ViT as a tfjs GraphModel: model.json holds a TensorFlow GraphDef in tfjs's JSON form (the format
// tfjs-converter writes) and the weights manifest; tf.loadGraphModel runs it on any tfjs backend. The graph is
// vit.ts's forward at eval (no drop-path) at the model's own input size, op for op, so its CLS matches vitForward's.
//   input  "pixels"  [N, S, S, 3] float32, normalised as config.json says
//   output "cls"     [N, width]            the face embedding (pros L2-normalises it for search)
//   output "patches" [N, (S/patch)², width] patch tokens (landmark heads read these)
// Weights keep the checkpoint's names (vit.blocks.0.qkv.w, ...) and [in, out] layouts; the patch embedding is the
// same matrix shaped [p, p, 3, width] for Conv2D. Float weights may be stored as float16 (tfjs decodes them).
import type { ModelVit } from '../../src/model/folder.ts';
import { encodeFloat16 } from '../../src/model/float16.ts';

type Attr = Record<string, unknown>;
interface Node {
  name: string;
  op: string;
  input?: string[];
  attr?: Attr;
}
interface Weight {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  data: Float32Array | Int32Array;
  half: boolean;
}

export interface GraphFiles {
  /** model.json's content. */
  modelJson: Record<string, unknown>;
  /** Weight shards by file name, as model.json's weightsManifest lists them. */
  shards: Map<string, Buffer>;
}

const FLOAT = { type: 'DT_FLOAT' };
const INT = { type: 'DT_INT32' };
const b64 = (s: string) => Buffer.from(s).toString('base64');
const SHARD_BYTES = 4 << 20; // tfjs-converter's default shard size

class Graph {
  readonly nodes: Node[] = [];
  readonly weights: Weight[] = [];
  private n = 0;

  constant(name: string, data: Float32Array | Int32Array, shape: number[], half = false): string {
    const dtype = data instanceof Int32Array ? 'int32' : 'float32';
    const type = dtype === 'int32' ? INT : FLOAT;
    const dim = shape.map((s) => ({ size: String(s) }));
    this.nodes.push({ name, op: 'Const', attr: { value: { tensor: { dtype: type.type, tensorShape: { dim } } }, dtype: type } });
    this.weights.push({ name, shape, dtype, data, half: half && dtype === 'float32' });
    return name;
  }
  ints(values: number[]): string {
    return this.constant(`const/i${this.n++}`, Int32Array.from(values), [values.length]);
  }
  scalar(value: number): string {
    return this.constant(`const/f${this.n++}`, Float32Array.of(value), []);
  }
  op(op: string, input: string[], attr: Attr = {}, name = `${op.toLowerCase()}_${this.n++}`): string {
    this.nodes.push(input.length ? { name, op, input, attr } : { name, op, attr });
    return name;
  }
  f(op: string, input: string[], attr: Attr = {}, name?: string): string {
    return this.op(op, input, { T: FLOAT, ...attr }, name);
  }
}

export function vitGraph(vit: ModelVit, params: Map<string, Float32Array>, opts: { float16: boolean; prefix?: string }): GraphFiles {
  const prefix = opts.prefix ?? 'vit.';
  const g = new Graph();
  const d = vit.width;
  const heads = vit.heads;
  const hd = d / heads;
  const grid = vit.imageSize / vit.patch;
  const t = 1 + grid * grid;
  const hidden = Math.round(d * vit.mlpRatio);
  const w = (name: string, shape: number[]): string => {
    const data = params.get(prefix + name);
    const size = shape.reduce((a, b) => a * b, 1);
    if (!data || data.length !== size) throw new Error(`export: weight ${prefix + name} missing or not of shape [${shape}]`);
    return g.constant(prefix + name, data, shape, opts.float16);
  };
  const axisLast = g.ints([-1]);
  const eps = g.scalar(vit.layerNormEps);
  const reshape = (x: string, shape: number[]) => g.f('Reshape', [x, g.ints(shape)], { Tshape: INT });
  const linear = (x: string, tokens: number, din: number, dout: number, name: string) => {
    const y = g.f('MatMul', [reshape(x, [-1, din]), w(`${name}.w`, [din, dout])], { transpose_a: { b: false }, transpose_b: { b: false } });
    return reshape(g.f('AddV2', [y, w(`${name}.b`, [dout])]), [-1, tokens, dout]);
  };
  const layerNorm = (x: string, name: string) => {
    const mean = g.f('Mean', [x, axisLast], { Tidx: INT, keep_dims: { b: true } });
    const diff = g.f('Sub', [x, mean]);
    const variance = g.f('Mean', [g.f('Square', [diff]), axisLast], { Tidx: INT, keep_dims: { b: true } });
    const normed = g.f('Mul', [diff, g.f('Rsqrt', [g.f('AddV2', [variance, eps])])]);
    return g.f('AddV2', [g.f('Mul', [normed, w(`${name}.g`, [d])]), w(`${name}.b`, [d])]);
  };

  const S = vit.imageSize;
  const pixels = g.op('Placeholder', [], { dtype: FLOAT, shape: { shape: { dim: [-1, S, S, 3].map((s) => ({ size: String(s) })) } } }, 'pixels');
  // Patch embedding: the [p·p·3, d] matrix over non-overlapping patches is a stride-p convolution.
  const conv = g.f('Conv2D', [pixels, w('patch.w', [vit.patch, vit.patch, 3, d])], {
    strides: { list: { i: ['1', String(vit.patch), String(vit.patch), '1'] } },
    padding: { s: b64('VALID') },
    data_format: { s: b64('NHWC') },
    dilations: { list: { i: ['1', '1', '1', '1'] } },
    use_cudnn_on_gpu: { b: true },
    explicit_paddings: { list: {} },
  });
  const tokens = reshape(g.f('AddV2', [conv, w('patch.b', [d])]), [-1, grid * grid, d]);
  // The CLS token repeated over the batch: Tile by [N, 1, 1] with N read from the input's shape.
  const n = g.op('StridedSlice', [g.op('Shape', [pixels], { T: FLOAT, out_type: INT }), g.ints([0]), g.ints([1]), g.ints([1])], {
    T: INT, Index: INT, begin_mask: { i: '0' }, end_mask: { i: '0' }, ellipsis_mask: { i: '0' }, new_axis_mask: { i: '0' }, shrink_axis_mask: { i: '0' },
  });
  const reps = g.op('ConcatV2', [n, g.ints([1, 1]), g.constant('const/axis0', Int32Array.of(0), [])], { T: INT, Tidx: INT, N: { i: '2' } });
  const cls = g.f('Tile', [w('cls', [1, 1, d]), reps], { Tmultiples: INT });
  const axis1 = g.constant('const/axis1', Int32Array.of(1), []);
  let z = g.f('AddV2', [g.f('ConcatV2', [cls, tokens, axis1], { Tidx: INT, N: { i: '2' } }), w('pos', [1, t, d])]);

  const scale = g.scalar(1 / Math.sqrt(hd));
  const half = g.scalar(0.5);
  const one = g.scalar(1);
  const rsqrt2 = g.scalar(Math.SQRT1_2);
  for (let i = 0; i < vit.depth; i++) {
    const b = `blocks.${i}.`;
    const a = layerNorm(z, `${b}norm1`);
    const qkv = g.f('Transpose', [reshape(linear(a, t, d, 3 * d, `${b}qkv`), [-1, t, 3, heads, hd]), g.ints([2, 0, 3, 1, 4])], { Tperm: INT });
    const unpack = g.f('Unpack', [qkv], { num: { i: '3' }, axis: { i: '0' } });
    const scores = g.f('Mul', [g.f('BatchMatMulV2', [`${unpack}:0`, `${unpack}:1`], { adj_x: { b: false }, adj_y: { b: true } }), scale]);
    const o = g.f('BatchMatMulV2', [g.f('Softmax', [scores]), `${unpack}:2`], { adj_x: { b: false }, adj_y: { b: false } });
    const merged = reshape(g.f('Transpose', [o, g.ints([0, 2, 1, 3])], { Tperm: INT }), [-1, t, d]);
    z = g.f('AddV2', [z, linear(merged, t, d, d, `${b}proj`)]);
    const h = linear(layerNorm(z, `${b}norm2`), t, d, hidden, `${b}fc1`);
    const gelu = g.f('Mul', [g.f('Mul', [h, half]), g.f('AddV2', [g.f('Erf', [g.f('Mul', [h, rsqrt2])]), one])]);
    z = g.f('AddV2', [z, linear(gelu, t, hidden, d, `${b}fc2`)]);
  }
  z = layerNorm(z, 'norm');
  const slice = (begin: number[], size: number[]) => g.f('Slice', [z, g.ints(begin), g.ints(size)], { Index: INT });
  g.f('Identity', [reshape(slice([0, 0, 0], [-1, 1, -1]), [-1, d])], {}, 'cls');
  g.f('Identity', [slice([0, 1, 0], [-1, t - 1, -1])], {}, 'patches');

  return pack(g);
}

/** Weights into ≤ 4 MiB shards (a tensor may span two, as tfjs-converter writes them) and the model.json. */
function pack(g: Graph): GraphFiles {
  const entries: Array<Record<string, unknown>> = [];
  const bytes: Buffer[] = [];
  for (const wt of g.weights) {
    const raw = wt.half ? encodeFloat16(wt.data as Float32Array) : wt.data;
    bytes.push(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength));
    entries.push({ name: wt.name, shape: wt.shape, dtype: wt.dtype, ...(wt.half ? { quantization: { dtype: 'float16', original_dtype: 'float32' } } : {}) });
  }
  const all = Buffer.concat(bytes);
  const count = Math.max(1, Math.ceil(all.length / SHARD_BYTES));
  const shards = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) shards.set(`group1-shard${i + 1}of${count}.bin`, all.subarray(i * SHARD_BYTES, (i + 1) * SHARD_BYTES));
  const modelJson = {
    format: 'graph-model',
    generatedBy: 'pros export-model',
    convertedBy: null,
    modelTopology: { node: g.nodes, library: {}, versions: { producer: 1286 } },
    weightsManifest: [{ paths: [...shards.keys()], weights: entries }],
  };
  return { modelJson, shards };
}
