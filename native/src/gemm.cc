// sgemm over tensors that live in tfjs-backend-wasm's heap, through OpenBLAS loaded at run time with dlopen:
// the addon builds without BLAS headers or libraries and reports, instead of failing, when OpenBLAS is absent.
// Offsets are byte offsets into the heap view the caller passes; the caller re-reads that view after every
// allocation (memory growth replaces the buffer), and nothing here allocates in the wasm heap.
#include <napi.h>
#include <dlfcn.h>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

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

// Pointer to the bytes of a typed array (works for heaps backed by ArrayBuffer or SharedArrayBuffer).
uint8_t* BytesOf(const Napi::Value& v, size_t* length) {
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
  uint8_t* heap = BytesOf(info[0], &heapBytes);
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
  for (size_t i = 0; i < batches; i++) {
    float* c = reinterpret_cast<float*>(heap + cOff + cBytes * i);
    if (K == 0) {
      std::memset(c, 0, cBytes);
    } else {
      const float* a = reinterpret_cast<const float*>(heap + aOffs[i]);
      const float* b = reinterpret_cast<const float*>(heap + bOffs[i]);
      sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(M), int(N), int(K),
            1.f, a, lda, b, ldb, 0.f, c, int(N));
    }
    if (biasOff >= 0 || act != Linear) {
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

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("load", Napi::Function::New(env, Load));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("gemm", Napi::Function::New(env, Gemm));
  return exports;
}

}  // namespace

NODE_API_MODULE(pros_native, Init)
