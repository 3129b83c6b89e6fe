// The non-matmul kernels of a training step on tfjs-backend-wasm's heap: float32 unary and broadcasting binary
// elementwise ops, reductions over a contiguous block of axes, Unpack, and the AdamW update, the EMA and the
// gradient norms over all parameters in one call each. Same heap contract as gemm.cc: byte offsets into the view
// the caller passes, every operand bounds-checked, nothing allocated in the wasm heap. Each op splits its work over
// the pool's threads (pool.h) when the tensor is large enough to pay for it.
#include <napi.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>
#include "pool.h"

namespace {

int opThreads = 1;
// Below this many elements per thread a job runs on the calling thread alone (waking a thread costs ~10 µs).
constexpr int64_t kGrain = 1 << 15;

int ThreadsFor(int64_t work) {
  const int64_t t = work / kGrain;
  return int(std::max<int64_t>(1, std::min<int64_t>(opThreads, t)));
}

uint8_t* HeapOf(const Napi::Value& v, size_t* length) {
  Napi::TypedArray t = v.As<Napi::TypedArray>();
  napi_typedarray_type type;
  size_t len;
  void* data;
  napi_value ab;
  size_t byteOffset;
  napi_get_typedarray_info(v.Env(), t, &type, &len, &data, &ab, &byteOffset);
  *length = len * t.ElementSize();
  return static_cast<uint8_t*>(data);
}

bool Inside(uint64_t off, uint64_t bytes, size_t heapBytes) { return off + bytes <= heapBytes; }

Napi::Value Fail(Napi::Env env, const char* what) {
  Napi::RangeError::New(env, what).ThrowAsJavaScriptException();
  return env.Undefined();
}

int64_t I64(const Napi::CallbackInfo& info, int i) { return info[i].As<Napi::Number>().Int64Value(); }

// ───────────── unary ─────────────
// exp and erf written branch-free so the compiler vectorises the loops (glibc's scalar erff is slower than the
// wasm kernel it replaces). exp: Cody-Waite reduction by ln 2, degree-7 Taylor polynomial on |r| ≤ ln2/2
// (truncation 5e-9 relative), 2^n applied as two factors so gradual underflow and exp(88.7) stay right.
inline float FastExp(float x) {
  const float xc = std::min(std::max(x, -104.f), 88.7228394f);
  const float n = (xc * 1.44269504f + 12582912.f) - 12582912.f;  // round to nearest through 1.5·2^23
  const float r = (xc - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.f / 5040.f;
  p = p * r + 1.f / 720.f;
  p = p * r + 1.f / 120.f;
  p = p * r + 1.f / 24.f;
  p = p * r + 1.f / 6.f;
  p = p * r + 0.5f;
  p = p * r + 1.f;
  p = p * r + 1.f;
  const int32_t ni = int32_t(n);
  const int32_t h = ni >> 1;
  float s1, s2;
  const int32_t b1 = (h + 127) << 23, b2 = (ni - h + 127) << 23;
  std::memcpy(&s1, &b1, 4);
  std::memcpy(&s2, &b2, 4);
  float y = p * s1 * s2;
  y = x > 88.7228394f ? INFINITY : y;
  y = x < -104.f ? 0.f : y;
  return x != x ? x : y;
}

// erf: the odd Taylor series to x¹³ for |x| < 0.5 (error < 1e-9), else 1 − erfc with Numerical Recipes' erfc
// (fractional error < 1.2e-7); |x| ≥ 4 is ±1 in float32.
inline float FastErf(float x) {
  const float z = std::min(std::fabs(x), 4.f);
  const float z2 = z * z;
  float s = 1.f / 9360.f;
  s = s * z2 - 1.f / 1320.f;
  s = s * z2 + 1.f / 216.f;
  s = s * z2 - 1.f / 42.f;
  s = s * z2 + 1.f / 10.f;
  s = s * z2 - 1.f / 3.f;
  s = s * z2 + 1.f;
  const float small = 1.12837917f * z * s;
  const float t = 1.f / (1.f + 0.5f * z);
  float q = 0.17087277f;
  q = q * t - 0.82215223f;
  q = q * t + 1.48851587f;
  q = q * t - 1.13520398f;
  q = q * t + 0.27886807f;
  q = q * t - 0.18628806f;
  q = q * t + 0.09678418f;
  q = q * t + 0.37409196f;
  q = q * t + 1.00002368f;
  q = q * t - 1.26551223f;
  const float large = 1.f - t * FastExp(q - z2);
  const float e = z < 0.5f ? small : large;
  const float out = x < 0.f ? -e : e;
  return x != x ? x : out;
}

// The transcendental loops are built twice, for AVX2 and for baseline x86-64, and picked at load time (ifunc);
// -ffp-contract=off keeps both bit-identical (no FMA contraction).
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__)
#define PROS_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define PROS_CLONES
#endif
PROS_CLONES void ExpLoop(const float* x, float* y, int64_t n) { for (int64_t i = 0; i < n; i++) y[i] = FastExp(x[i]); }
PROS_CLONES void ErfLoop(const float* x, float* y, int64_t n) { for (int64_t i = 0; i < n; i++) y[i] = FastErf(x[i]); }
PROS_CLONES void SigmoidLoop(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = 1.f / (1.f + FastExp(-x[i]));
}

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

enum Unary { kExp = 0, kErf, kLog, kNeg, kSqrt, kRsqrt, kSquare, kAbs, kSigmoid };

template <int Op>
void UnaryLoop(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float v = x[i];
    if (Op == kLog) y[i] = std::log(v);
    else if (Op == kNeg) y[i] = -v;
    else if (Op == kSqrt) y[i] = std::sqrt(v);
    else if (Op == kRsqrt) y[i] = 1.f / std::sqrt(v);
    else if (Op == kSquare) y[i] = v * v;
    else y[i] = std::fabs(v);
  }
}

// unary(heap, op, xOffset, outOffset, n)
Napi::Value UnaryOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t heapBytes;
  uint8_t* heap = HeapOf(info[0], &heapBytes);
  const int op = info[1].As<Napi::Number>().Int32Value();
  const int64_t xOff = I64(info, 2), outOff = I64(info, 3), n = I64(info, 4);
  if (n < 0 || !Inside(xOff, n * 4, heapBytes) || !Inside(outOff, n * 4, heapBytes)) return Fail(env, "unary: tensor lies outside the heap");
  const float* x = reinterpret_cast<const float*>(heap + xOff);
  float* y = reinterpret_cast<float*>(heap + outOff);
  void (*loop)(const float*, float*, int64_t);
  switch (op) {
    case kExp: loop = ExpLoop; break;
    case kErf: loop = ErfLoop; break;
    case kLog: loop = UnaryLoop<kLog>; break;
    case kNeg: loop = UnaryLoop<kNeg>; break;
    case kSqrt: loop = UnaryLoop<kSqrt>; break;
    case kRsqrt: loop = UnaryLoop<kRsqrt>; break;
    case kSquare: loop = UnaryLoop<kSquare>; break;
    case kAbs: loop = UnaryLoop<kAbs>; break;
    case kSigmoid: loop = SigmoidLoop; break;
    default: return Fail(env, "unary: unknown op");
  }
  // Transcendental ops cost ~10× a load; let them split earlier.
  const int64_t work = (op == kExp || op == kErf || op == kLog || op == kSigmoid) ? n * 8 : n;
  pros::Pool::Get().ParallelFor(n, ThreadsFor(work), [&](int64_t b, int64_t e) { loop(x + b, y + b, e - b); });
  return env.Undefined();
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

// ───────────── binary with broadcasting ─────────────
enum Binary { kAdd = 0, kSub, kMul, kDiv, kMax, kMin, kSqDiff };

template <int Op>
inline float Bin(float a, float b) {
  if (Op == kAdd) return a + b;
  if (Op == kSub) return a - b;
  if (Op == kMul) return a * b;
  if (Op == kDiv) return a / b;
  if (Op == kMax) return a > b || std::isnan(a) ? a : b;
  if (Op == kMin) return a < b || std::isnan(a) ? a : b;
  const float d = a - b;
  return d * d;
}

// One run of the innermost (merged) axis, with each operand's stride 0 or 1 there.
template <int Op>
void BinRow(const float* a, int64_t sa, const float* b, int64_t sb, float* y, int64_t n) {
  if (sa && sb) for (int64_t i = 0; i < n; i++) y[i] = Bin<Op>(a[i], b[i]);
  else if (sa) { const float bv = *b; for (int64_t i = 0; i < n; i++) y[i] = Bin<Op>(a[i], bv); }
  else if (sb) { const float av = *a; for (int64_t i = 0; i < n; i++) y[i] = Bin<Op>(av, b[i]); }
  else { const float v = Bin<Op>(*a, *b); for (int64_t i = 0; i < n; i++) y[i] = v; }
}

constexpr int kMaxRank = 12;

template <int Op>
void BinaryRun(const float* a, const float* b, float* y, int r, const int64_t* dim, const int64_t* sa, const int64_t* sb, int64_t rows) {
  const int64_t inner = dim[r - 1];
  pros::Pool::Get().ParallelFor(rows, ThreadsFor(rows * inner), [&](int64_t begin, int64_t end) {
    // Odometer over the outer axes, started at row `begin`.
    int64_t idx[kMaxRank] = {0};
    int64_t oa = 0, ob = 0;
    int64_t rem = begin;
    for (int d = r - 2; d >= 0; d--) {
      idx[d] = rem % dim[d];
      rem /= dim[d];
      oa += idx[d] * sa[d];
      ob += idx[d] * sb[d];
    }
    for (int64_t row = begin; row < end; row++) {
      BinRow<Op>(a + oa, sa[r - 1], b + ob, sb[r - 1], y + row * inner, inner);
      for (int d = r - 2; d >= 0; d--) {
        oa += sa[d];
        ob += sb[d];
        if (++idx[d] < dim[d]) break;
        oa -= sa[d] * dim[d];
        ob -= sb[d] * dim[d];
        idx[d] = 0;
      }
    }
  });
}

// binary(heap, op, aOffset, aShape: Int32Array, bOffset, bShape: Int32Array, outOffset)
// numpy broadcasting; the output is dense in the broadcast shape.
Napi::Value BinaryOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t heapBytes;
  uint8_t* heap = HeapOf(info[0], &heapBytes);
  const int op = info[1].As<Napi::Number>().Int32Value();
  const int64_t aOff = I64(info, 2);
  Napi::Int32Array aShape = info[3].As<Napi::Int32Array>();
  const int64_t bOff = I64(info, 4);
  Napi::Int32Array bShape = info[5].As<Napi::Int32Array>();
  const int64_t outOff = I64(info, 6);
  const int ra = int(aShape.ElementLength()), rb = int(bShape.ElementLength());
  const int rank = std::max(ra, rb);
  if (rank > kMaxRank) return Fail(env, "binary: rank above 12");
  int64_t da[kMaxRank], db[kMaxRank], dout[kMaxRank];
  int64_t na = 1, nb = 1, nout = 1;
  for (int i = 0; i < rank; i++) {
    const int ia = i - (rank - ra), ib = i - (rank - rb);
    da[i] = ia >= 0 ? aShape[ia] : 1;
    db[i] = ib >= 0 ? bShape[ib] : 1;
    if (da[i] != db[i] && da[i] != 1 && db[i] != 1) return Fail(env, "binary: shapes do not broadcast");
    dout[i] = da[i] == 1 ? db[i] : da[i];
    na *= da[i];
    nb *= db[i];
    nout *= dout[i];
  }
  if (!Inside(aOff, na * 4, heapBytes) || !Inside(bOff, nb * 4, heapBytes) || !Inside(outOff, nout * 4, heapBytes)) {
    return Fail(env, "binary: tensor lies outside the heap");
  }
  if (nout == 0) return env.Undefined();
  // Strides (0 where broadcast), then drop size-1 output axes and merge neighbours with the same broadcast pattern.
  int64_t stA[kMaxRank], stB[kMaxRank];
  {
    int64_t accA = 1, accB = 1;
    for (int i = rank - 1; i >= 0; i--) {
      stA[i] = da[i] == 1 ? 0 : accA;
      stB[i] = db[i] == 1 ? 0 : accB;
      accA *= da[i];
      accB *= db[i];
    }
  }
  int64_t dim[kMaxRank], sa[kMaxRank], sb[kMaxRank];
  int r = 0;
  for (int i = 0; i < rank; i++) {
    if (dout[i] == 1) continue;
    // Axis i continues the previous merged axis when each operand is either broadcast on both or contiguous across.
    if (r > 0 && ((sa[r - 1] == 0) == (stA[i] == 0)) && ((sb[r - 1] == 0) == (stB[i] == 0)) &&
        (sa[r - 1] == 0 || sa[r - 1] == stA[i] * dout[i]) && (sb[r - 1] == 0 || sb[r - 1] == stB[i] * dout[i])) {
      dim[r - 1] *= dout[i];
      sa[r - 1] = stA[i];
      sb[r - 1] = stB[i];
    } else {
      dim[r] = dout[i];
      sa[r] = stA[i];
      sb[r] = stB[i];
      r++;
    }
  }
  if (r == 0) { dim[0] = 1; sa[0] = sb[0] = 0; r = 1; }
  // The innermost run must have unit or zero stride for BinRow; any other case (cannot arise from the merge above,
  // which keeps the last axis's own stride, 0 or 1) is refused rather than computed wrongly.
  if ((sa[r - 1] != 0 && sa[r - 1] != 1) || (sb[r - 1] != 0 && sb[r - 1] != 1)) return Fail(env, "binary: internal stride error");
  const int64_t rows = nout / dim[r - 1];
  const float* a = reinterpret_cast<const float*>(heap + aOff);
  const float* b = reinterpret_cast<const float*>(heap + bOff);
  float* y = reinterpret_cast<float*>(heap + outOff);
  switch (op) {
    case kAdd: BinaryRun<kAdd>(a, b, y, r, dim, sa, sb, rows); break;
    case kSub: BinaryRun<kSub>(a, b, y, r, dim, sa, sb, rows); break;
    case kMul: BinaryRun<kMul>(a, b, y, r, dim, sa, sb, rows); break;
    case kDiv: BinaryRun<kDiv>(a, b, y, r, dim, sa, sb, rows); break;
    case kMax: BinaryRun<kMax>(a, b, y, r, dim, sa, sb, rows); break;
    case kMin: BinaryRun<kMin>(a, b, y, r, dim, sa, sb, rows); break;
    case kSqDiff: BinaryRun<kSqDiff>(a, b, y, r, dim, sa, sb, rows); break;
    default: return Fail(env, "binary: unknown op");
  }
  return env.Undefined();
}

// ───────────── reductions ─────────────
enum Reduce { kSum = 0, kMean, kRMax, kRMin };

// reduce(heap, op, xOffset, outOffset, outer, reduced, inner): out[o, i] = op over r of x[o, r, i].
Napi::Value ReduceOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t heapBytes;
  uint8_t* heap = HeapOf(info[0], &heapBytes);
  const int op = info[1].As<Napi::Number>().Int32Value();
  const int64_t xOff = I64(info, 2), outOff = I64(info, 3), outer = I64(info, 4), red = I64(info, 5), inner = I64(info, 6);
  if (outer < 0 || red < 1 || inner < 0 || op < kSum || op > kRMin) return Fail(env, "reduce: bad arguments");
  if (!Inside(xOff, outer * red * inner * 4, heapBytes) || !Inside(outOff, outer * inner * 4, heapBytes)) {
    return Fail(env, "reduce: tensor lies outside the heap");
  }
  const float* x = reinterpret_cast<const float*>(heap + xOff);
  float* y = reinterpret_cast<float*>(heap + outOff);
  const bool isMax = op == kRMax, isMin = op == kRMin;
  const float count = float(red);  // Mean divides, as the stock kernel does
  if (inner == 1 && (isMax || isMin)) {
    pros::Pool::Get().ParallelFor(outer, ThreadsFor(outer * red), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; o++) {
        const float* row = x + o * red;
        float s = row[0];
        for (int64_t j = 1; j < red; j++) {
          const float v = row[j];
          s = isMax ? (v > s || std::isnan(v) ? v : s) : (v < s || std::isnan(v) ? v : s);
        }
        y[o] = s;
      }
    });
  } else if (inner == 1) {
    // Sequential float sums, in the stock kernel's order: a different order (partial sums) is more accurate but
    // moves a whole step's gradient norm by ~4e-5 relative, and the native path is meant to change no result.
    pros::Pool::Get().ParallelFor(outer, ThreadsFor(outer * red), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; o++) {
        const float* row = x + o * red;
        float s = 0.f;
        for (int64_t j = 0; j < red; j++) s += row[j];
        y[o] = op == kMean ? s / count : s;
      }
    });
  } else {
    // Columns: accumulate whole rows of `inner` into the output.
    pros::Pool::Get().ParallelFor(outer * inner, ThreadsFor(outer * red * inner), [&](int64_t b, int64_t e) {
      // Split over the flattened (outer, inner) output; each piece walks r for its own slice of columns.
      int64_t p = b;
      while (p < e) {
        const int64_t o = p / inner, i0 = p % inner;
        const int64_t i1 = std::min(inner, i0 + (e - p));
        float* out = y + o * inner;
        const float* base = x + o * red * inner;
        for (int64_t i = i0; i < i1; i++) out[i] = base[i];
        for (int64_t r = 1; r < red; r++) {
          const float* row = base + r * inner;
          if (isMax) for (int64_t i = i0; i < i1; i++) out[i] = row[i] > out[i] || std::isnan(row[i]) ? row[i] : out[i];
          else if (isMin) for (int64_t i = i0; i < i1; i++) out[i] = row[i] < out[i] || std::isnan(row[i]) ? row[i] : out[i];
          else for (int64_t i = i0; i < i1; i++) out[i] += row[i];
        }
        if (op == kMean) for (int64_t i = i0; i < i1; i++) out[i] /= count;
        p += i1 - i0;
      }
    });
  }
  return env.Undefined();
}

// ───────────── unpack ─────────────
// unpack(heap, xOffset, outOffsets: Uint32Array, outer, inner): out_k[o, :] = x[o, k, :] for 4-byte elements,
// k < outOffsets.length.
Napi::Value UnpackOp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t heapBytes;
  uint8_t* heap = HeapOf(info[0], &heapBytes);
  const int64_t xOff = I64(info, 1);
  Napi::Uint32Array outs = info[2].As<Napi::Uint32Array>();
  const int64_t outer = I64(info, 3), inner = I64(info, 4);
  const int64_t num = int64_t(outs.ElementLength());
  if (outer < 0 || inner < 0 || !Inside(xOff, outer * num * inner * 4, heapBytes)) return Fail(env, "unpack: tensor lies outside the heap");
  for (int64_t k = 0; k < num; k++) if (!Inside(outs[k], outer * inner * 4, heapBytes)) return Fail(env, "unpack: output lies outside the heap");
  const uint8_t* x = heap + xOff;
  const size_t run = size_t(inner) * 4;
  for (int64_t k = 0; k < num; k++) {
    uint8_t* dst = heap + outs[k];
    for (int64_t o = 0; o < outer; o++) std::memcpy(dst + o * run, x + (o * num + k) * run, run);
  }
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

Napi::Value SetOpThreads(const Napi::CallbackInfo& info) {
  const int n = info[0].As<Napi::Number>().Int32Value();
  if (n > 0) opThreads = std::min(n, 64);
  return Napi::Number::New(info.Env(), opThreads);
}

}  // namespace

namespace pros {
void RegisterOps(Napi::Env env, Napi::Object exports) {
  exports.Set("unary", Napi::Function::New(env, UnaryOp));
  exports.Set("binary", Napi::Function::New(env, BinaryOp));
  exports.Set("reduce", Napi::Function::New(env, ReduceOp));
  exports.Set("unpack", Napi::Function::New(env, UnpackOp));
  exports.Set("gelu", Napi::Function::New(env, GeluOp));
  exports.Set("layerNorm", Napi::Function::New(env, LayerNormOp));
  exports.Set("layerNormGrad", Napi::Function::New(env, LayerNormGradOp));
  exports.Set("geluGrad", Napi::Function::New(env, GeluOp));
  exports.Set("adamw", Napi::Function::New(env, AdamWOp));
  exports.Set("ema", Napi::Function::New(env, EmaOp));
  exports.Set("sumSquares", Napi::Function::New(env, SumSquaresOp));
  exports.Set("setOpThreads", Napi::Function::New(env, SetOpThreads));
}
}  // namespace pros
