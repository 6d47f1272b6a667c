// Addon entry point: registers the wrap classes and functions, nothing else.
// Runs once per JS context (main thread and each worker) that loads the addon.
#include <napi.h>

#include "addon-data.h"
#include "region-wrap.h"

namespace shmsync {

namespace {

// setErrorFactory(fn): fn(code, message, errno, syscall) returns a library error instance.
Napi::Value SetErrorFactory(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction()) {
    Napi::TypeError::New(info.Env(), "setErrorFactory(fn)").ThrowAsJavaScriptException();
    return Napi::Value();
  }
  GetAddonData(info.Env())->create_error = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// A no-op used by the benchmarks to measure the N-API call floor through this binding.
Napi::Value Noop(const Napi::CallbackInfo& info) { return info.Env().Undefined(); }

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData(data);
  // Classes: Region (SharedMemory). Functions: setErrorFactory, noop.
  Napi::Function region = RegionWrap::Define(env);
  data->region_ctor = Napi::Persistent(region);
  exports.Set("Region", region);
  exports.Set("setErrorFactory", Napi::Function::New<SetErrorFactory>(env, "setErrorFactory"));
  exports.Set("noop", Napi::Function::New<Noop>(env, "noop"));
  return exports;
}

}  // namespace

}  // namespace shmsync

static Napi::Object InitShmsync(Napi::Env env, Napi::Object exports) {
  return shmsync::Init(env, exports);
}

NODE_API_MODULE(shmsync, InitShmsync)
