"""An independent check of model.safetensors: timm's VisionTransformer forward (eval, CLS token after the final
norm), written with numpy over the torch layouts (Linear weight [out, in], patch Conv2d [out, 3, p, p], NCHW input).
Usage: timm_vit_reference.py MODEL_DIR INPUT.f32 N  → prints the CLS rows as JSON. INPUT is N×S×S×3 float32 (NHWC,
normalised), as the tfjs graph takes it."""
import json, struct, sys
import numpy as np
from math import erf

model_dir, input_file, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
cfg = json.load(open(f"{model_dir}/config.json"))
kw = cfg["pytorch"]["kwargs"]
S, p, d, depth, heads = kw["img_size"], kw["patch_size"], kw["embed_dim"], kw["depth"], kw["num_heads"]

raw = open(f"{model_dir}/model.safetensors", "rb").read()
hlen = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + hlen])
body = raw[8 + hlen:]
W = {}
for name, e in header.items():
    if name == "__metadata__":
        continue
    b, end = e["data_offsets"]
    dt = {"F16": np.float16, "F32": np.float32}[e["dtype"]]
    W[name] = np.frombuffer(body[b:end], dtype=dt).astype(np.float64).reshape(e["shape"])

x = np.fromfile(input_file, dtype=np.float32).astype(np.float64).reshape(n, S, S, 3).transpose(0, 3, 1, 2)  # NCHW
g = S // p
# Conv2d(3, d, kernel p, stride p) as patches · weight
patches = x.reshape(n, 3, g, p, g, p).transpose(0, 2, 4, 1, 3, 5).reshape(n, g * g, 3 * p * p)
tok = patches @ W["patch_embed.proj.weight"].reshape(d, 3 * p * p).T + W["patch_embed.proj.bias"]
z = np.concatenate([np.repeat(W["cls_token"], n, axis=0), tok], axis=1) + W["pos_embed"]

def ln(v, pre):
    mu = v.mean(-1, keepdims=True)
    var = ((v - mu) ** 2).mean(-1, keepdims=True)
    return (v - mu) / np.sqrt(var + 1e-6) * W[pre + ".weight"] + W[pre + ".bias"]

def lin(v, pre):
    return v @ W[pre + ".weight"].T + W[pre + ".bias"]

verf = np.vectorize(erf)
t = z.shape[1]
hd = d // heads
for i in range(depth):
    b = f"blocks.{i}."
    qkv = lin(ln(z, b + "norm1"), b + "attn.qkv").reshape(n, t, 3, heads, hd).transpose(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    a = q @ k.transpose(0, 1, 3, 2) * hd ** -0.5
    a = np.exp(a - a.max(-1, keepdims=True))
    a /= a.sum(-1, keepdims=True)
    z = z + lin((a @ v).transpose(0, 2, 1, 3).reshape(n, t, d), b + "attn.proj")
    h = lin(ln(z, b + "norm2"), b + "mlp.fc1")
    z = z + lin(0.5 * h * (1 + verf(h / np.sqrt(2))), b + "mlp.fc2")
print(json.dumps(ln(z, "norm")[:, 0].tolist()))
