// The non-matmul kernels of a training step on tfjs-backend-wasm's heap: float32 unary and broadcasting binary
// elementwise ops, reductions over a contiguous block of axes, and Unpack (the fused ops: fused.cc). Same heap
// contract as gemm.cc: byte offsets into the view
// the caller passes, every operand bounds-checked, nothing allocated in the wasm heap. Each op splits its work over
// the pool's threads (pool.h) when the tensor is large enough to pay for it.
#include <napi.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>
#include "ops-common.h"
#include "pool.h"

namespace {

using namespace pros;
PROS_CLONES void ExpLoop(const float* x, float* y, int64_t n) { for (int64_t i = 0; i < n; i++) y[i] = FastExp(x[i]); }
PROS_CLONES void ErfLoop(const float* x, float* y, int64_t n) { for (int64_t i = 0; i < n; i++) y[i] = FastErf(x[i]); }
PROS_CLONES void SigmoidLoop(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) y[i] = 1.f / (1.f + FastExp(-x[i]));
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

Napi::Value SetOpThreads(const Napi::CallbackInfo& info) {
  const int n = info[0].As<Napi::Number>().Int32Value();
  if (n > 0) opThreads = std::min(n, 64);
  return Napi::Number::New(info.Env(), opThreads);
}

}  // namespace

namespace pros {
void RegisterFused(Napi::Env env, Napi::Object exports);  // fused.cc

void RegisterOps(Napi::Env env, Napi::Object exports) {
  RegisterFused(env, exports);
  exports.Set("unary", Napi::Function::New(env, UnaryOp));
  exports.Set("binary", Napi::Function::New(env, BinaryOp));
  exports.Set("reduce", Napi::Function::New(env, ReduceOp));
  exports.Set("unpack", Napi::Function::New(env, UnpackOp));
  exports.Set("setOpThreads", Napi::Function::New(env, SetOpThreads));
}
}  // namespace pros
