// What the native op files share (ops.cc: elementwise, reductions, Unpack; fused.cc: GELU, layer norm, softmax,
// AdamW/EMA/norms): heap access with bounds checks, the op thread count, and the branch-free exp and erf.
#pragma once
#include <napi.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace pros {

inline int opThreads = 1;  // set by setOpThreads (ops.cc)
// Below this many elements per thread a job runs on the calling thread alone (waking a thread costs ~10 µs).
constexpr int64_t kGrain = 1 << 15;

inline int ThreadsFor(int64_t work) {
  const int64_t t = work / kGrain;
  return int(std::max<int64_t>(1, std::min<int64_t>(opThreads, t)));
}

// Pointer to the bytes of a typed array (works for heaps backed by ArrayBuffer or SharedArrayBuffer).
inline uint8_t* HeapOf(const Napi::Value& v, size_t* length) {
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

inline bool Inside(uint64_t off, uint64_t bytes, size_t heapBytes) { return off + bytes <= heapBytes; }

inline Napi::Value Fail(Napi::Env env, const char* what) {
  Napi::RangeError::New(env, what).ThrowAsJavaScriptException();
  return env.Undefined();
}

inline int64_t I64(const Napi::CallbackInfo& info, int i) { return info[i].As<Napi::Number>().Int64Value(); }

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

}  // namespace pros
