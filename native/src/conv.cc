// Conv2D and depthwise Conv2D (NHWC, float32) on tfjs-backend-wasm's heap, with the fused kernels' epilogue (bias,
// then linear / relu / relu6 / prelu / leakyrelu / sigmoid / elu). Regular convolutions: 1×1 stride-1 unpadded ones
// are one sgemm on the input as it lies; the rest im2col (in blocks of output rows, so the scratch stays small) +
// sgemm. Depthwise (channel multiplier 1): a direct loop, vectorised over channels. Single-threaded: the face pool
// already runs one worker per core. Same heap contract as gemm.cc and ops.cc: byte offsets into the view passed,
// every operand bounds-checked, nothing allocated in the wasm heap.
#include <napi.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>
#include "ops-common.h"

namespace pros {
bool SgemmRowMajor(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc);  // gemm.cc
}

namespace {

#if defined(__x86_64__) && !defined(__clang__)
#define CONV_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CONV_CLONES
#endif

// tfjs-backend-wasm's FusableActivation codes.
enum Act { Linear = 0, Relu = 1, Relu6 = 2, Prelu = 3, LeakyRelu = 4, Sigmoid = 5, Elu = 6 };

Napi::Value Fail(Napi::Env env, const char* what) {
  Napi::RangeError::New(env, what).ThrowAsJavaScriptException();
  return env.Undefined();
}

struct Geometry {
  int64_t batch, inH, inW, inC, outH, outW, outC, fH, fW, sH, sW, dH, dW, padTop, padLeft;
};

// Bias (length 1 or C, absent: null) then the activation, over `rows` rows of C channels.
CONV_CLONES void Epilogue(float* y, int64_t rows, int64_t C, const float* bias, int64_t biasLen, int act,
                          const float* prelu, int64_t preluLen, float alpha) {
  for (int64_t r = 0; r < rows; r++) {
    float* o = y + r * C;
    if (bias) {
      if (biasLen == 1) for (int64_t c = 0; c < C; c++) o[c] += bias[0];
      else for (int64_t c = 0; c < C; c++) o[c] += bias[c];
    }
    switch (act) {
      case Relu: for (int64_t c = 0; c < C; c++) o[c] = o[c] > 0.f ? o[c] : 0.f; break;
      case Relu6: for (int64_t c = 0; c < C; c++) o[c] = o[c] < 0.f ? 0.f : (o[c] > 6.f ? 6.f : o[c]); break;
      case Prelu:
        if (preluLen == 1) for (int64_t c = 0; c < C; c++) o[c] = o[c] < 0.f ? prelu[0] * o[c] : o[c];
        else for (int64_t c = 0; c < C; c++) o[c] = o[c] < 0.f ? prelu[c] * o[c] : o[c];
        break;
      case LeakyRelu: for (int64_t c = 0; c < C; c++) o[c] = o[c] < 0.f ? alpha * o[c] : o[c]; break;
      case Sigmoid: for (int64_t c = 0; c < C; c++) o[c] = 1.f / (1.f + std::exp(-o[c])); break;
      case Elu: for (int64_t c = 0; c < C; c++) o[c] = o[c] > 0.f ? o[c] : std::expm1(o[c]); break;
      default: break;
    }
  }
}

// im2col of output rows [oy0, oy1) of one image: col[(oy - oy0) * outW + ox][(ky * fW + kx) * inC + ci].
void Im2col(const float* x, const Geometry& g, int64_t oy0, int64_t oy1, float* col) {
  const int64_t K = g.fH * g.fW * g.inC;
  for (int64_t oy = oy0; oy < oy1; oy++) {
    for (int64_t ox = 0; ox < g.outW; ox++) {
      float* c = col + ((oy - oy0) * g.outW + ox) * K;
      for (int64_t ky = 0; ky < g.fH; ky++) {
        const int64_t iy = oy * g.sH - g.padTop + ky * g.dH;
        for (int64_t kx = 0; kx < g.fW; kx++) {
          const int64_t ix = ox * g.sW - g.padLeft + kx * g.dW;
          float* dst = c + (ky * g.fW + kx) * g.inC;
          if (iy < 0 || iy >= g.inH || ix < 0 || ix >= g.inW) std::memset(dst, 0, g.inC * sizeof(float));
          else std::memcpy(dst, x + (iy * g.inW + ix) * g.inC, g.inC * sizeof(float));
        }
      }
    }
  }
}

typedef float V8 __attribute__((vector_size(32)));

inline V8 Load8(const float* p) {
  V8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Per output pixel: the in-bounds taps listed once, then for each block of 8 channels an accumulator in registers
// summed over the taps in (ky, kx) order.
CONV_CLONES void Depthwise(const float* x, const float* f, float* y, const Geometry& g) {
  const int64_t C = g.inC;
  static thread_local std::vector<int64_t> xo, fo;
  xo.resize(size_t(g.fH * g.fW));
  fo.resize(size_t(g.fH * g.fW));
  int64_t* const XO = xo.data();
  int64_t* const FO = fo.data();
  for (int64_t b = 0; b < g.batch; b++) {
    const float* xb = x + b * g.inH * g.inW * C;
    for (int64_t oy = 0; oy < g.outH; oy++) {
      for (int64_t ox = 0; ox < g.outW; ox++) {
        float* o = y + ((b * g.outH + oy) * g.outW + ox) * C;
        int64_t taps = 0;
        for (int64_t ky = 0; ky < g.fH; ky++) {
          const int64_t iy = oy * g.sH - g.padTop + ky * g.dH;
          if (iy < 0 || iy >= g.inH) continue;
          for (int64_t kx = 0; kx < g.fW; kx++) {
            const int64_t ix = ox * g.sW - g.padLeft + kx * g.dW;
            if (ix < 0 || ix >= g.inW) continue;
            XO[taps] = (iy * g.inW + ix) * C;
            FO[taps] = (ky * g.fW + kx) * C;
            taps++;
          }
        }
        int64_t c = 0;
        for (; c + 8 <= C; c += 8) {
          V8 acc = {0, 0, 0, 0, 0, 0, 0, 0};
          for (int64_t t = 0; t < taps; t++) acc += Load8(xb + XO[t] + c) * Load8(f + FO[t] + c);
          std::memcpy(o + c, &acc, sizeof acc);
        }
        for (; c < C; c++) {
          float acc = 0.f;
          for (int64_t t = 0; t < taps; t++) acc += xb[XO[t] + c] * f[FO[t] + c];
          o[c] = acc;
        }
      }
    }
  }
}

// conv2d(heap, xOffset, filterOffset, outOffset, biasOffset (-1: none), biasLength, preluOffset (-1: none),
//        preluLength, dims: Int32Array [batch, inH, inW, inC, outH, outW, outC, fH, fW, sH, sW, dH, dW, padTop,
//        padLeft], depthwise, activation, leakyAlpha)
// Filter layout as tfjs: [fH, fW, inC, outC] (regular) or [fH, fW, C, 1] (depthwise, outC = inC).
Napi::Value Conv2d(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t heapBytes = 0;
  uint8_t* heap = pros::HeapOf(info[0], &heapBytes);
  const int64_t xOff = info[1].As<Napi::Number>().Int64Value();
  const int64_t fOff = info[2].As<Napi::Number>().Int64Value();
  const int64_t yOff = info[3].As<Napi::Number>().Int64Value();
  const int64_t bOff = info[4].As<Napi::Number>().Int64Value();
  const int64_t bLen = info[5].As<Napi::Number>().Int64Value();
  const int64_t pOff = info[6].As<Napi::Number>().Int64Value();
  const int64_t pLen = info[7].As<Napi::Number>().Int64Value();
  Napi::Int32Array d = info[8].As<Napi::Int32Array>();
  const bool depthwise = info[9].As<Napi::Boolean>().Value();
  const int act = info[10].As<Napi::Number>().Int32Value();
  const float alpha = info[11].As<Napi::Number>().FloatValue();
  if (d.ElementLength() != 15) return Fail(env, "conv2d: dims must have 15 entries");
  Geometry g{d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13], d[14]};
  for (int i = 0; i < 15; i++) {
    if (d[i] < 0 || (i < 13 && i != 0 && d[i] == 0)) return Fail(env, "conv2d: bad dims");
  }
  if (depthwise && g.outC != g.inC) return Fail(env, "conv2d: depthwise needs channel multiplier 1");
  if (act < Linear || act > Elu || (act == Prelu && pOff < 0)) return Fail(env, "conv2d: bad activation");
  const uint64_t xN = uint64_t(g.batch) * g.inH * g.inW * g.inC;
  const uint64_t fN = uint64_t(g.fH) * g.fW * g.inC * (depthwise ? 1 : g.outC);
  const uint64_t yN = uint64_t(g.batch) * g.outH * g.outW * g.outC;
  auto inside = [&](int64_t off, uint64_t n) { return off >= 0 && off % 4 == 0 && uint64_t(off) + n * 4 <= heapBytes; };
  if (!inside(xOff, xN) || !inside(fOff, fN) || !inside(yOff, yN)) return Fail(env, "conv2d: operand outside the heap");
  if (bOff >= 0 && (!(bLen == 1 || bLen == g.outC) || !inside(bOff, bLen))) return Fail(env, "conv2d: bad bias");
  if (pOff >= 0 && (!(pLen == 1 || pLen == g.outC) || !inside(pOff, pLen))) return Fail(env, "conv2d: bad prelu weights");
  if (yN == 0) return env.Undefined();
  const float* x = reinterpret_cast<const float*>(heap + xOff);
  const float* f = reinterpret_cast<const float*>(heap + fOff);
  float* y = reinterpret_cast<float*>(heap + yOff);
  const float* bias = bOff >= 0 ? reinterpret_cast<const float*>(heap + bOff) : nullptr;
  const float* prelu = pOff >= 0 ? reinterpret_cast<const float*>(heap + pOff) : nullptr;
  const int64_t pixels = g.batch * g.outH * g.outW;

  if (depthwise) {
    Depthwise(x, f, y, g);
  } else {
    const int64_t K = g.fH * g.fW * g.inC;
    const bool direct = g.fH == 1 && g.fW == 1 && g.sH == 1 && g.sW == 1 && g.padTop == 0 && g.padLeft == 0 &&
                        g.outH == g.inH && g.outW == g.inW;
    if (direct) {
      if (!pros::SgemmRowMajor(int(pixels), int(g.outC), int(K), x, int(K), f, int(g.outC), y, int(g.outC))) return Fail(env, "OpenBLAS is not loaded");
    } else {
      // Blocks of output rows whose im2col stays under ~4 MB.
      const int64_t rowFloats = g.outW * K;
      const int64_t block = std::max<int64_t>(1, std::min<int64_t>(g.outH, (int64_t(1) << 20) / std::max<int64_t>(1, rowFloats)));
      static thread_local std::vector<float> col;
      col.resize(size_t(block * rowFloats));
      for (int64_t b = 0; b < g.batch; b++) {
        const float* xb = x + b * g.inH * g.inW * g.inC;
        for (int64_t oy0 = 0; oy0 < g.outH; oy0 += block) {
          const int64_t oy1 = std::min(g.outH, oy0 + block);
          Im2col(xb, g, oy0, oy1, col.data());
          float* yb = y + ((b * g.outH + oy0) * g.outW) * g.outC;
          if (!pros::SgemmRowMajor(int((oy1 - oy0) * g.outW), int(g.outC), int(K), col.data(), int(K), f, int(g.outC), yb, int(g.outC))) {
            return Fail(env, "OpenBLAS is not loaded");
          }
        }
      }
    }
  }
  Epilogue(y, pixels, g.outC, bias, bLen, act, prelu, pLen, alpha);
  return env.Undefined();
}

}  // namespace

namespace pros {
void RegisterConv(Napi::Env env, Napi::Object exports) { exports.Set("conv2d", Napi::Function::New(env, Conv2d)); }
}  // namespace pros
