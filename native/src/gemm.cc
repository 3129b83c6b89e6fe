// sgemm over tensors that live in tfjs-backend-wasm's heap, through OpenBLAS loaded at run time with dlopen:
// the addon builds without BLAS headers or libraries and reports, instead of failing, when OpenBLAS is absent.
// Offsets are byte offsets into the heap view the caller passes; the caller re-reads that view after every
// allocation (memory growth replaces the buffer), and nothing here allocates in the wasm heap.
#include <napi.h>
#include <dlfcn.h>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include "ops-common.h"

namespace {

enum CblasOrder { CblasRowMajor = 101 };
enum CblasTranspose { CblasNoTrans = 111, CblasTrans = 112 };
typedef void (*SgemmFn)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*, int);
typedef void (*SetThreadsFn)(int);
typedef int (*GetThreadsFn)(void);
typedef char* (*GetConfigFn)(void);

SgemmFn sgemm = nullptr;
SetThreadsFn setThreads = nullptr;
GetThreadsFn getThreads = nullptr;
GetConfigFn getConfig = nullptr;
std::string loadedFrom;

// Activation codes match tfjs-backend-wasm's FusableActivation (prelu is handled by the caller falling back).
enum Act { Linear = 0, Relu = 1, Relu6 = 2, LeakyRelu = 4, Sigmoid = 5, Elu = 6 };

Napi::Value Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  std::string names[3] = {"libopenblas.so.0", "libopenblas.so", ""};
  if (info.Length() > 0 && info[0].IsString()) {
    names[0] = info[0].As<Napi::String>().Utf8Value();
    names[1] = "";
  }
  // Always dlopen again (cheap when already loaded): a caller naming a library that is absent must hear so.
  std::string errors;
  bool found = false;
  for (const std::string& name : names) {
    if (name.empty()) break;
    void* h = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* e = dlerror();
      errors += (errors.empty() ? "" : "; ") + std::string(e ? e : name.c_str());
      continue;
    }
    auto fn = reinterpret_cast<SgemmFn>(dlsym(h, "cblas_sgemm"));
    if (!fn) {
      errors += "; " + name + " has no cblas_sgemm";
      dlclose(h);
      continue;
    }
    sgemm = fn;
    setThreads = reinterpret_cast<SetThreadsFn>(dlsym(h, "openblas_set_num_threads"));
    getThreads = reinterpret_cast<GetThreadsFn>(dlsym(h, "openblas_get_num_threads"));
    getConfig = reinterpret_cast<GetConfigFn>(dlsym(h, "openblas_get_config"));
    loadedFrom = name;
    found = true;
    break;
  }
  out.Set("ok", found);
  if (found) {
    out.Set("library", loadedFrom);
    out.Set("config", getConfig ? std::string(getConfig()) : std::string());
  } else {
    out.Set("reason", errors);
  }
  return out;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  int n = info[0].As<Napi::Number>().Int32Value();
  if (setThreads && n > 0) setThreads(n);
  return Napi::Number::New(info.Env(), getThreads ? getThreads() : -1);
}

inline float Apply(float x, int act, float alpha) {
  switch (act) {
    case Relu: return x > 0.f ? x : 0.f;
    case Relu6: return x < 0.f ? 0.f : (x > 6.f ? 6.f : x);
    case LeakyRelu: return x < 0.f ? alpha * x : x;
    case Sigmoid: return 1.f / (1.f + std::exp(-x));
    case Elu: return x > 0.f ? x : std::expm1(x);
    default: return x;
  }
}

// gemm(heap, transA, transB, M, N, K, aOffsets: Uint32Array, bOffsets: Uint32Array, cOffset,
//      biasOffset (-1: none), biasLength (1 or N), activation, alpha)
// C[i] = act(op(A[i]) · op(B[i]) + bias) for each batch i, row-major; C's batches are contiguous.
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!sgemm) {
    Napi::Error::New(env, "OpenBLAS is not loaded").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  size_t heapBytes = 0;
  uint8_t* heap = pros::HeapOf(info[0], &heapBytes);
  const bool ta = info[1].As<Napi::Boolean>().Value();
  const bool tb = info[2].As<Napi::Boolean>().Value();
  const int64_t M = info[3].As<Napi::Number>().Int64Value();
  const int64_t N = info[4].As<Napi::Number>().Int64Value();
  const int64_t K = info[5].As<Napi::Number>().Int64Value();
  Napi::Uint32Array aOffs = info[6].As<Napi::Uint32Array>();
  Napi::Uint32Array bOffs = info[7].As<Napi::Uint32Array>();
  const int64_t cOff = info[8].As<Napi::Number>().Int64Value();
  const int64_t biasOff = info[9].As<Napi::Number>().Int64Value();
  const int64_t biasLen = info[10].As<Napi::Number>().Int64Value();
  const int act = info[11].As<Napi::Number>().Int32Value();
  const float alpha = info[12].As<Napi::Number>().FloatValue();
  const size_t batches = aOffs.ElementLength();
  if (bOffs.ElementLength() != batches) {
    Napi::RangeError::New(env, "aOffsets and bOffsets differ in length").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  const uint64_t aBytes = uint64_t(M) * K * 4, bBytes = uint64_t(K) * N * 4, cBytes = uint64_t(M) * N * 4;
  // Bounds: a wrong offset must throw, not scribble over the heap.
  if (uint64_t(cOff) + cBytes * batches > heapBytes) {
    Napi::RangeError::New(env, "output lies outside the heap").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  for (size_t i = 0; i < batches; i++) {
    if (uint64_t(aOffs[i]) + aBytes > heapBytes || uint64_t(bOffs[i]) + bBytes > heapBytes) {
      Napi::RangeError::New(env, "operand lies outside the heap").ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  if (biasOff >= 0 && uint64_t(biasOff) + uint64_t(biasLen) * 4 > heapBytes) {
    Napi::RangeError::New(env, "bias lies outside the heap").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (M == 0 || N == 0) return env.Undefined();
  const int lda = int(ta ? (M > 0 ? M : 1) : (K > 0 ? K : 1));
  const int ldb = int(tb ? (K > 0 ? K : 1) : (N > 0 ? N : 1));
  // A bias alone goes into C before the product (sgemm with beta = 1): no second pass over the output.
  const bool biasFirst = biasOff >= 0 && act == Linear && K > 0;
  for (size_t i = 0; i < batches; i++) {
    float* c = reinterpret_cast<float*>(heap + cOff + cBytes * i);
    if (K == 0) {
      std::memset(c, 0, cBytes);
    } else {
      const float* a = reinterpret_cast<const float*>(heap + aOffs[i]);
      const float* b = reinterpret_cast<const float*>(heap + bOffs[i]);
      if (biasFirst) {
        const float* bias = reinterpret_cast<const float*>(heap + biasOff);
        for (int64_t r = 0; r < M; r++) {
          float* row = c + r * N;
          if (biasLen == 1) std::fill(row, row + N, bias[0]);
          else std::memcpy(row, bias, size_t(N) * 4);
        }
      }
      sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(M), int(N), int(K),
            1.f, a, lda, b, ldb, biasFirst ? 1.f : 0.f, c, int(N));
    }
    if (!biasFirst && (biasOff >= 0 || act != Linear)) {
      const float* bias = biasOff >= 0 ? reinterpret_cast<const float*>(heap + biasOff) : nullptr;
      for (int64_t r = 0; r < M; r++) {
        float* row = c + r * N;
        for (int64_t j = 0; j < N; j++) {
          float x = row[j];
          if (bias) x += bias[biasLen == 1 ? 0 : j];
          row[j] = Apply(x, act, alpha);
        }
      }
    }
  }
  return env.Undefined();
}

// transpose(heap, xOffset, outOffset, shape: Int32Array, perm: Int32Array): a 4-byte-element tensor permuted.
// Size-1 axes are dropped and axes that stay adjacent are merged, so the innermost loop is as long as it can be
// (a memcpy when the last output axis is contiguous in the input). tfjs-backend-wasm's own kernel handles rank ≥ 5
// element by element at ~6 M elements/s; the ViT's qkv split is rank 5.
Napi::Value Transpose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  size_t heapBytes = 0;
  uint8_t* heap = pros::HeapOf(info[0], &heapBytes);
  const int64_t xOff = info[1].As<Napi::Number>().Int64Value();
  const int64_t outOff = info[2].As<Napi::Number>().Int64Value();
  Napi::Int32Array shapeArr = info[3].As<Napi::Int32Array>();
  Napi::Int32Array permArr = info[4].As<Napi::Int32Array>();
  const int rank = int(shapeArr.ElementLength());
  if (rank > 16 || int(permArr.ElementLength()) != rank) {
    Napi::RangeError::New(env, "transpose: rank above 16 or perm of another length").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int64_t size = 1;
  for (int i = 0; i < rank; i++) size *= shapeArr[i];
  if (uint64_t(xOff) + uint64_t(size) * 4 > heapBytes || uint64_t(outOff) + uint64_t(size) * 4 > heapBytes) {
    Napi::RangeError::New(env, "transpose: tensor lies outside the heap").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (size == 0) return env.Undefined();
  // Input strides, then the output's axes (as input axes) without size-1 axes, merging adjacent runs.
  int64_t inStride[16];
  {
    int64_t acc = 1;
    for (int i = rank - 1; i >= 0; i--) { inStride[i] = acc; acc *= shapeArr[i]; }
  }
  int64_t dim[16], stride[16];
  int r = 0;
  int prevAxis = -2;
  for (int i = 0; i < rank; i++) {
    const int axis = permArr[i];
    if (axis < 0 || axis >= rank) {
      Napi::RangeError::New(env, "transpose: perm out of range").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (shapeArr[axis] == 1) continue;
    if (r > 0 && axis == prevAxis + 1) {
      dim[r - 1] *= shapeArr[axis];
      stride[r - 1] = inStride[axis];
    } else {
      dim[r] = shapeArr[axis];
      stride[r] = inStride[axis];
      r++;
    }
    prevAxis = axis;
  }
  const uint32_t* x = reinterpret_cast<const uint32_t*>(heap + xOff);
  uint32_t* out = reinterpret_cast<uint32_t*>(heap + outOff);
  if (r == 0) { out[0] = x[0]; return env.Undefined(); }
  const int64_t inner = dim[r - 1];
  const int64_t innerStride = stride[r - 1];
  const int64_t outer = size / inner;
  int64_t idx[16] = {0};
  int64_t base = 0;
  for (int64_t o = 0; o < outer; o++) {
    uint32_t* dst = out + o * inner;
    if (innerStride == 1) {
      std::memcpy(dst, x + base, size_t(inner) * 4);
    } else {
      const uint32_t* src = x + base;
      for (int64_t j = 0; j < inner; j++) dst[j] = src[j * innerStride];
    }
    for (int d = r - 2; d >= 0; d--) {
      if (++idx[d] < dim[d]) { base += stride[d]; break; }
      base -= stride[d] * (dim[d] - 1);
      idx[d] = 0;
    }
  }
  return env.Undefined();
}

}  // namespace

namespace pros {
void RegisterOps(Napi::Env env, Napi::Object exports);   // ops.cc
void RegisterConv(Napi::Env env, Napi::Object exports);  // conv.cc

// C = A · B (row-major, no transposes, beta 0) for conv.cc; false when OpenBLAS is not loaded.
bool SgemmRowMajor(int M, int N, int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
  if (!sgemm) return false;
  sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.f, A, lda, B, ldb, 0.f, C, ldc);
  return true;
}
}

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  pros::RegisterOps(env, exports);
  pros::RegisterConv(env, exports);
  exports.Set("transpose", Napi::Function::New(env, Transpose));
  exports.Set("load", Napi::Function::New(env, Load));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("gemm", Napi::Function::New(env, Gemm));
  return exports;
}

}  // namespace

NODE_API_MODULE(pros_native, Init)
