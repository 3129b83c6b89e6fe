// The teacher's weights in timm's VisionTransformer names and layouts (also DINO's vision_transformer.py), so the
// safetensors copy loads with `model.load_state_dict(safetensors.torch.load_file(...))` into
//   timm.models.vision_transformer.VisionTransformer(img_size=S, patch_size=p, embed_dim=d, depth, num_heads,
//     mlp_ratio, qkv_bias=True, num_classes=0)   (its LayerNorm eps is 1e-6 and its GELU exact, as here)
// Ours are x·W + b with W [in, out] and the patch matrix rows ordered (y, x, channel); torch's Linear is [out, in]
// and the patch Conv2d [out, channel, y, x].
import type { ModelVit } from '../../src/model/folder.ts';
import type { SafeTensor } from '../../src/model/safetensors.ts';

type Mapping = { ours: string; timm: string; kind: 'copy' | 'linear' | 'patch'; shape: number[] };

function mappings(vit: ModelVit): Mapping[] {
  const d = vit.width;
  const p = vit.patch;
  const hidden = Math.round(d * vit.mlpRatio);
  const t = 1 + (vit.imageSize / p) ** 2;
  const m: Mapping[] = [
    { ours: 'patch.w', timm: 'patch_embed.proj.weight', kind: 'patch', shape: [d, 3, p, p] },
    { ours: 'patch.b', timm: 'patch_embed.proj.bias', kind: 'copy', shape: [d] },
    { ours: 'cls', timm: 'cls_token', kind: 'copy', shape: [1, 1, d] },
    { ours: 'pos', timm: 'pos_embed', kind: 'copy', shape: [1, t, d] },
  ];
  const linear = (ours: string, timm: string, din: number, dout: number) =>
    m.push({ ours: `${ours}.w`, timm: `${timm}.weight`, kind: 'linear', shape: [dout, din] }, { ours: `${ours}.b`, timm: `${timm}.bias`, kind: 'copy', shape: [dout] });
  const norm = (ours: string, timm: string) =>
    m.push({ ours: `${ours}.g`, timm: `${timm}.weight`, kind: 'copy', shape: [d] }, { ours: `${ours}.b`, timm: `${timm}.bias`, kind: 'copy', shape: [d] });
  for (let i = 0; i < vit.depth; i++) {
    const b = `blocks.${i}.`;
    norm(`${b}norm1`, `${b}norm1`);
    linear(`${b}qkv`, `${b}attn.qkv`, d, 3 * d);
    linear(`${b}proj`, `${b}attn.proj`, d, d);
    norm(`${b}norm2`, `${b}norm2`);
    linear(`${b}fc1`, `${b}mlp.fc1`, d, hidden);
    linear(`${b}fc2`, `${b}mlp.fc2`, hidden, d);
  }
  norm('norm', 'norm');
  return m;
}

/** [rows, cols] → [cols, rows]. */
function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  return out;
}

/** ours [(y·p + x)·3 + c, o] ↔ torch [o, c, y, x]. */
function patchToTorch(a: Float32Array, p: number, d: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let y = 0; y < p; y++) for (let x = 0; x < p; x++) for (let c = 0; c < 3; c++) for (let o = 0; o < d; o++) {
    out[((o * 3 + c) * p + y) * p + x] = a[((y * p + x) * 3 + c) * d + o]!;
  }
  return out;
}

function patchFromTorch(a: Float32Array, p: number, d: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let y = 0; y < p; y++) for (let x = 0; x < p; x++) for (let c = 0; c < 3; c++) for (let o = 0; o < d; o++) {
    out[((y * p + x) * 3 + c) * d + o] = a[((o * 3 + c) * p + y) * p + x]!;
  }
  return out;
}

/** Our parameters (names under `prefix`) → timm's state dict. */
export function toTimm(vit: ModelVit, params: Map<string, Float32Array>, prefix = 'vit.'): Map<string, SafeTensor> {
  const out = new Map<string, SafeTensor>();
  for (const m of mappings(vit)) {
    const a = params.get(prefix + m.ours);
    if (!a) throw new Error(`export: no weight ${prefix + m.ours}`);
    const data = m.kind === 'copy' ? a : m.kind === 'linear' ? transpose(a, m.shape[1]!, m.shape[0]!) : patchToTorch(a, vit.patch, vit.width);
    out.set(m.timm, { shape: m.shape, data });
  }
  return out;
}

/** timm's state dict → our parameters (names under `prefix`), checking every name and shape. */
export function fromTimm(vit: ModelVit, tensors: Map<string, SafeTensor>, prefix = 'vit.'): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const m of mappings(vit)) {
    const t = tensors.get(m.timm);
    if (!t) throw new Error(`safetensors: no tensor ${m.timm}`);
    if (t.shape.join(',') !== m.shape.join(',')) throw new Error(`safetensors: ${m.timm} has shape [${t.shape}], expected [${m.shape}]`);
    const data = m.kind === 'copy' ? t.data : m.kind === 'linear' ? transpose(t.data, m.shape[0]!, m.shape[1]!) : patchFromTorch(t.data, vit.patch, vit.width);
    out.set(prefix + m.ours, data);
  }
  return out;
}
