// The fused ops of a training step on tfjs-backend-wasm's heap, each replacing a chain of tf kernels: GELU and layer
// norm (forward and backward), softmax / log-softmax over the last axis (forward and backward), and the AdamW update,
// the EMA and the gradient norms over all parameters in one call each. Heap contract as ops.cc (ops-common.h).
#include <napi.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>
#include "ops-common.h"
#include "pool.h"

namespace {

using namespace pros;

// Exact GELU, x·0.5·(1 + erf(x·√½)), and its gradient, with the same float32 operations in the same order as the
// tf ops of training/params.ts's gelu and the gradients tfjs's autodiff builds for them (Multiply, Add, Erf).
constexpr float kSqrtHalf = 0.70710678118654752f, kTwoOverSqrtPi = 1.12837916709551257f;
PROS_CLONES void GeluLoop(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = (x[i] * 0.5f) * (FastErf(x[i] * kSqrtHalf) + 1.f);
}
PROS_CLONES void GeluGradLoop(const float* dy, const float* x, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float a = x[i] * 0.5f, b = x[i] * kSqrtHalf;
    const float c = FastErf(b) + 1.f;
    const float d1 = (dy[i] * c) * 0.5f;
    const float d2 = ((dy[i] * a) * (FastExp(-(b * b)) * kTwoOverSqrtPi)) * kSqrtHalf;
    dx[i] = d2 + d1;
  }
}

// gelu(heap, xOffset, outOffset, n) and geluGrad(heap, dyOffset, xOffset, outOffset, n)
Napi::Value GeluOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t heapBytes;
  uint8_t* heap = HeapOf(info[0], &heapBytes);
  const bool grad = info.Length() == 5;
  const int64_t n = I64(info, grad ? 4 : 3);
  const int64_t dyOff = grad ? I64(info, 1) : 0, xOff = I64(info, grad ? 2 : 1), outOff = I64(info, grad ? 3 : 2);
  if (n < 0 || !Inside(xOff, n * 4, heapBytes) || !Inside(outOff, n * 4, heapBytes) || !Inside(dyOff, n * 4, heapBytes)) {
    return Fail(env, "gelu: tensor lies outside the heap");
  }
  const float* x = reinterpret_cast<const float*>(heap + xOff);
  const float* dy = reinterpret_cast<const float*>(heap + dyOff);
  float* y = reinterpret_cast<float*>(heap + outOff);
  pros::Pool::Get().ParallelFor(n, ThreadsFor(n * 16), [&](int64_t b, int64_t e) {
    if (grad) GeluGradLoop(dy + b, x + b, y + b, e - b);
    else GeluLoop(x + b, y + b, e - b);
  });
  return env.Undefined();
}

// ───────────── layer norm over the last axis ─────────────
// Forward with the float32 operations of params.ts's layerNorm on stock kernels (tf.moments: a sequential mean,
// then the mean of (x − mean)²; rsqrt as 1/√; then ·rstd, ·g, +b). The backward is the analytic gradient
// (dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)), dx̂ = dy·g), with dg = Σ dy·x̂ and db = Σ dy summed over rows in order,
// as the stock Sum does; it differs from autodiff's chain of ~20 kernels only by rounding.
inline void RowStats(const float* x, int64_t d, float eps, float* mean, float* rstd) {
  float s = 0.f;
  for (int64_t j = 0; j < d; j++) s += x[j];
  const float m = s / float(d);
  float v = 0.f;
  for (int64_t j = 0; j < d; j++) {
    const float t = x[j] - m;
    v += t * t;
  }
  *mean = m;
  *rstd = 1.f / std::sqrt(v / float(d) + eps);
}

// layerNorm(heap, xOffset, gOffset, bOffset, outOffset, rows, d, eps)
Napi::Value LayerNormOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t heapBytes;
  uint8_t* heap = HeapOf(info[0], &heapBytes);
  const int64_t xOff = I64(info, 1), gOff = I64(info, 2), bOff = I64(info, 3), yOff = I64(info, 4), rows = I64(info, 5), d = I64(info, 6);
  const float eps = info[7].As<Napi::Number>().FloatValue();
  if (rows < 0 || d < 1 || !Inside(xOff, rows * d * 4, heapBytes) || !Inside(yOff, rows * d * 4, heapBytes) || !Inside(gOff, d * 4, heapBytes) || !Inside(bOff, d * 4, heapBytes)) {
    return Fail(env, "layerNorm: tensor lies outside the heap");
  }
  const float* x = reinterpret_cast<const float*>(heap + xOff);
  const float* g = reinterpret_cast<const float*>(heap + gOff);
  const float* b = reinterpret_cast<const float*>(heap + bOff);
  float* y = reinterpret_cast<float*>(heap + yOff);
  pros::Pool::Get().ParallelFor(rows, ThreadsFor(rows * d * 4), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const float* xr = x + r * d;
      float* yr = y + r * d;
      float m, rs;
      RowStats(xr, d, eps, &m, &rs);
      for (int64_t j = 0; j < d; j++) yr[j] = ((xr[j] - m) * rs) * g[j] + b[j];
    }
  });
  return env.Undefined();
}

// layerNormGrad(heap, dyOffset, xOffset, gOffset, dxOffset, dgOffset, dbOffset, rows, d, eps)
Napi::Value LayerNormGradOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t heapBytes;
  uint8_t* heap = HeapOf(info[0], &heapBytes);
  const int64_t dyOff = I64(info, 1), xOff = I64(info, 2), gOff = I64(info, 3), dxOff = I64(info, 4), dgOff = I64(info, 5), dbOff = I64(info, 6);
  const int64_t rows = I64(info, 7), d = I64(info, 8);
  const float eps = info[9].As<Napi::Number>().FloatValue();
  const uint64_t big = uint64_t(rows) * d * 4;
  if (rows < 0 || d < 1 || !Inside(dyOff, big, heapBytes) || !Inside(xOff, big, heapBytes) || !Inside(dxOff, big, heapBytes) ||
      !Inside(gOff, d * 4, heapBytes) || !Inside(dgOff, d * 4, heapBytes) || !Inside(dbOff, d * 4, heapBytes)) {
    return Fail(env, "layerNormGrad: tensor lies outside the heap");
  }
  const float* dy = reinterpret_cast<const float*>(heap + dyOff);
  const float* x = reinterpret_cast<const float*>(heap + xOff);
  const float* g = reinterpret_cast<const float*>(heap + gOff);
  float* dx = reinterpret_cast<float*>(heap + dxOff);
  float* dg = reinterpret_cast<float*>(heap + dgOff);
  float* db = reinterpret_cast<float*>(heap + dbOff);
  // dx row by row, keeping each row's mean and rstd for the column sums below.
  std::vector<float> stats(size_t(rows) * 2);
  pros::Pool::Get().ParallelFor(rows, ThreadsFor(rows * d * 8), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const float* xr = x + r * d;
      const float* dyr = dy + r * d;
      float* dxr = dx + r * d;
      float m, rs;
      RowStats(xr, d, eps, &m, &rs);
      stats[2 * r] = m;
      stats[2 * r + 1] = rs;
      float s1 = 0.f, s2 = 0.f;
      for (int64_t j = 0; j < d; j++) {
        const float xh = (xr[j] - m) * rs;
        const float dxh = dyr[j] * g[j];
        s1 += dxh;
        s2 += dxh * xh;
      }
      const float m1 = s1 / float(d), m2 = s2 / float(d);
      for (int64_t j = 0; j < d; j++) {
        const float xh = (xr[j] - m) * rs;
        dxr[j] = rs * ((dyr[j] * g[j] - m1) - xh * m2);
      }
    }
  });
  // dg, db: columns split over threads, rows summed in order.
  pros::Pool::Get().ParallelFor(d, ThreadsFor(rows * d * 2), [&](int64_t c0, int64_t c1) {
    for (int64_t j = c0; j < c1; j++) { dg[j] = 0.f; db[j] = 0.f; }
    for (int64_t r = 0; r < rows; r++) {
      const float* xr = x + r * d;
      const float* dyr = dy + r * d;
      const float m = stats[2 * r], rs = stats[2 * r + 1];
      for (int64_t j = c0; j < c1; j++) {
        dg[j] += dyr[j] * ((xr[j] - m) * rs);
        db[j] += dyr[j];
      }
    }
  });
  return env.Undefined();
}

// ───────────── optimiser: all parameters in one call ─────────────
struct Span { uint64_t off; int64_t n; };

bool Spans(const Napi::Uint32Array& offs, const Napi::Uint32Array& sizes, int per, size_t heapBytes) {
  const size_t count = sizes.ElementLength();
  if (offs.ElementLength() != count * per) return false;
  for (size_t i = 0; i < count; i++) {
    for (int j = 0; j < per; j++) if (!Inside(offs[i * per + j], uint64_t(sizes[i]) * 4, heapBytes)) return false;
  }
  return true;
}

// adamw(heap, offsets: Uint32Array [p, g, m, v, pOut, mOut, vOut] per parameter, sizes: Uint32Array,
//       coefs: Float32Array [gradScale, decay, stepSize, sqrtBc2] per parameter, beta1, 1 − beta1, beta2, 1 − beta2, eps)
// The same float32 operations, in the same order, as AdamW.step's tf ops (training/optimizer.ts):
//   g ← g·gradScale (when gradScale ≠ 1: the clip); m ← m·β1 + g·(1−β1); v ← v·β2 + g²·(1−β2);
//   p ← p·decay (when decay ≠ 1) − (m / (√v / √bc2 + eps))·stepSize.
Napi::Value AdamWOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t heapBytes;
  uint8_t* heap = HeapOf(info[0], &heapBytes);
  Napi::Uint32Array offs = info[1].As<Napi::Uint32Array>();
  Napi::Uint32Array sizes = info[2].As<Napi::Uint32Array>();
  Napi::Float32Array coefs = info[3].As<Napi::Float32Array>();
  const float b1 = info[4].As<Napi::Number>().FloatValue(), b1c = info[5].As<Napi::Number>().FloatValue();
  const float b2 = info[6].As<Napi::Number>().FloatValue(), b2c = info[7].As<Napi::Number>().FloatValue();
  const float eps = info[8].As<Napi::Number>().FloatValue();
  const size_t count = sizes.ElementLength();
  if (!Spans(offs, sizes, 7, heapBytes) || coefs.ElementLength() != count * 4) return Fail(env, "adamw: bad offsets or sizes");
  for (size_t i = 0; i < count; i++) {
    const int64_t n = sizes[i];
    auto F = [&](int j) { return reinterpret_cast<float*>(heap + offs[i * 7 + j]); };
    const float *p = F(0), *g = F(1), *m = F(2), *v = F(3);
    float *pOut = F(4), *mOut = F(5), *vOut = F(6);
    const float scale = coefs[i * 4], decay = coefs[i * 4 + 1], stepSize = coefs[i * 4 + 2], sqrtBc2 = coefs[i * 4 + 3];
    const bool scaled = scale != 1.f, decays = decay != 1.f;
    pros::Pool::Get().ParallelFor(n, ThreadsFor(n * 4), [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; k++) {
        const float gk = scaled ? g[k] * scale : g[k];
        const float m1 = m[k] * b1 + gk * b1c;
        const float v1 = v[k] * b2 + (gk * gk) * b2c;
        const float base = decays ? p[k] * decay : p[k];
        const float denom = std::sqrt(v1) / sqrtBc2 + eps;
        pOut[k] = base - (m1 / denom) * stepSize;
        mOut[k] = m1;
        vOut[k] = v1;
      }
    });
  }
  return env.Undefined();
}

// ema(heap, offsets: Uint32Array [teacher, student, out] per parameter, sizes, momentum, 1 − momentum):
// out = teacher·momentum + student·(1 − momentum), as emaUpdate's tf ops.
Napi::Value EmaOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t heapBytes;
  uint8_t* heap = HeapOf(info[0], &heapBytes);
  Napi::Uint32Array offs = info[1].As<Napi::Uint32Array>();
  Napi::Uint32Array sizes = info[2].As<Napi::Uint32Array>();
  const float mom = info[3].As<Napi::Number>().FloatValue(), rest = info[4].As<Napi::Number>().FloatValue();
  if (!Spans(offs, sizes, 3, heapBytes)) return Fail(env, "ema: bad offsets or sizes");
  for (size_t i = 0; i < sizes.ElementLength(); i++) {
    const float* t = reinterpret_cast<const float*>(heap + offs[i * 3]);
    const float* s = reinterpret_cast<const float*>(heap + offs[i * 3 + 1]);
    float* out = reinterpret_cast<float*>(heap + offs[i * 3 + 2]);
    const int64_t n = sizes[i];
    pros::Pool::Get().ParallelFor(n, ThreadsFor(n), [&](int64_t b, int64_t e) {
      for (int64_t k = b; k < e; k++) out[k] = t[k] * mom + s[k] * rest;
    });
  }
  return env.Undefined();
}

// sumSquares(heap, offsets: Uint32Array, sizes: Uint32Array) → Float64Array: Σx² of each tensor.
Napi::Value SumSquaresOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t heapBytes;
  uint8_t* heap = HeapOf(info[0], &heapBytes);
  Napi::Uint32Array offs = info[1].As<Napi::Uint32Array>();
  Napi::Uint32Array sizes = info[2].As<Napi::Uint32Array>();
  if (!Spans(offs, sizes, 1, heapBytes)) return Fail(env, "sumSquares: bad offsets or sizes");
  const size_t count = sizes.ElementLength();
  Napi::Float64Array out = Napi::Float64Array::New(env, count);
  for (size_t i = 0; i < count; i++) {
    const float* x = reinterpret_cast<const float*>(heap + offs[i]);
    const int64_t n = sizes[i];
    // float32 squares summed in order, as tf.sum(tf.square(g)) on the stock kernels: a double sum is more accurate
    // but moves the clip norm of a 1 M-element gradient by ~4e-5 relative, and the native path changes no result.
    float acc = 0.f;
    for (int64_t k = 0; k < n; k++) acc += x[k] * x[k];
    out[i] = acc;
  }
  return out;
}

// ───────────── softmax / log-softmax over the last axis ─────────────
// Forward as tfjs-core's ops (shift by the row max, exp, sum in order, divide or subtract the log); backward the
// gradients tfjs registers for them: softmax dx = dy·y − Σ(dy·y)·y, log-softmax dx = dy − Σdy·exp(y).
// Each loop either maps (vectorised) or sums; a loop doing both would not vectorise. Row sums use 8 partial sums
// (an in-order float sum is one add latency per element, the row's whole cost): they differ from the stock Sum's
// order by rounding only (≤ ~1e-7 relative), like the polynomial exp.
inline float RowSum(const float* v, int64_t d) {
  float p[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  int64_t j = 0;
  for (; j + 8 <= d; j += 8)
    for (int k = 0; k < 8; k++) p[k] += v[j + k];
  float s = ((p[0] + p[4]) + (p[1] + p[5])) + ((p[2] + p[6]) + (p[3] + p[7]));
  for (; j < d; j++) s += v[j];
  return s;
}

PROS_CLONES void SoftmaxRow(const float* x, float* y, int64_t d, bool log) {
  float m = x[0];
  for (int64_t j = 1; j < d; j++) m = x[j] > m ? x[j] : m;
  for (int64_t j = 0; j < d; j++) y[j] = FastExp(x[j] - m);
  const float s = RowSum(y, d);
  if (log) {
    const float ls = std::log(s);
    for (int64_t j = 0; j < d; j++) y[j] = (x[j] - m) - ls;
  } else {
    for (int64_t j = 0; j < d; j++) y[j] = y[j] / s;
  }
}

PROS_CLONES void SoftmaxGradRow(const float* dy, const float* y, float* dx, int64_t d, bool log) {
  if (log) {
    for (int64_t j = 0; j < d; j++) dx[j] = FastExp(y[j]);
    const float s = RowSum(dy, d);
    for (int64_t j = 0; j < d; j++) dx[j] = dy[j] - s * dx[j];
  } else {
    for (int64_t j = 0; j < d; j++) dx[j] = dy[j] * y[j];
    const float s = RowSum(dx, d);
    for (int64_t j = 0; j < d; j++) dx[j] = dx[j] - s * y[j];
  }
}

// softmax(heap, log, xOffset, outOffset, rows, d) and softmaxGrad(heap, log, dyOffset, yOffset, dxOffset, rows, d),
// y being the forward's output (softmax or log-softmax).
Napi::Value SoftmaxOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t heapBytes;
  uint8_t* heap = HeapOf(info[0], &heapBytes);
  const bool log = info[1].As<Napi::Boolean>().Value();
  const int64_t xOff = I64(info, 2), yOff = I64(info, 3), rows = I64(info, 4), d = I64(info, 5);
  if (rows < 0 || d < 1 || !Inside(xOff, uint64_t(rows) * d * 4, heapBytes) || !Inside(yOff, uint64_t(rows) * d * 4, heapBytes)) {
    return Fail(env, "softmax: tensor lies outside the heap");
  }
  const float* x = reinterpret_cast<const float*>(heap + xOff);
  float* y = reinterpret_cast<float*>(heap + yOff);
  pros::Pool::Get().ParallelFor(rows, ThreadsFor(rows * d * 8), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) SoftmaxRow(x + r * d, y + r * d, d, log);
  });
  return env.Undefined();
}

Napi::Value SoftmaxGradOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t heapBytes;
  uint8_t* heap = HeapOf(info[0], &heapBytes);
  const bool log = info[1].As<Napi::Boolean>().Value();
  const int64_t dyOff = I64(info, 2), yOff = I64(info, 3), dxOff = I64(info, 4), rows = I64(info, 5), d = I64(info, 6);
  const uint64_t bytes = uint64_t(rows) * d * 4;
  if (rows < 0 || d < 1 || !Inside(dyOff, bytes, heapBytes) || !Inside(yOff, bytes, heapBytes) || !Inside(dxOff, bytes, heapBytes)) {
    return Fail(env, "softmaxGrad: tensor lies outside the heap");
  }
  const float* dy = reinterpret_cast<const float*>(heap + dyOff);
  const float* y = reinterpret_cast<const float*>(heap + yOff);
  float* dx = reinterpret_cast<float*>(heap + dxOff);
  pros::Pool::Get().ParallelFor(rows, ThreadsFor(rows * d * (log ? 8 : 2)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) SoftmaxGradRow(dy + r * d, y + r * d, dx + r * d, d, log);
  });
  return env.Undefined();
}

}  // namespace

namespace pros {
void RegisterFused(Napi::Env env, Napi::Object exports) {
  exports.Set("gelu", Napi::Function::New(env, GeluOp));
  exports.Set("geluGrad", Napi::Function::New(env, GeluOp));
  exports.Set("layerNorm", Napi::Function::New(env, LayerNormOp));
  exports.Set("layerNormGrad", Napi::Function::New(env, LayerNormGradOp));
  exports.Set("softmax", Napi::Function::New(env, SoftmaxOp));
  exports.Set("softmaxGrad", Napi::Function::New(env, SoftmaxGradOp));
  exports.Set("adamw", Napi::Function::New(env, AdamWOp));
  exports.Set("ema", Napi::Function::New(env, EmaOp));
  exports.Set("sumSquares", Napi::Function::New(env, SumSquaresOp));
}
}  // namespace pros
