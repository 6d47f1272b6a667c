// Addon entry point: registers the wrap classes and functions, nothing else.
// Runs once per JS context (main thread and each worker) that loads the addon.
#include <napi.h>

#include "addon-data.h"
#include "attachment.h"
#include "context.h"
#include "mutex-wrap.h"
#include "queue-wrap.h"
#include "region-wrap.h"
#include "rwlock-wrap.h"

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

// setGrantHandler(fn): fn(requestId, status) receives parker completions on this JS thread.
Napi::Value SetGrantHandler(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction()) {
    Napi::TypeError::New(info.Env(), "setGrantHandler(fn)").ThrowAsJavaScriptException();
    return Napi::Value();
  }
  Context::Get(info.Env())->SetGrantHandler(info.Env(), info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// ownerId(threadId): this context's OwnerId (claimed on first use, recording Node's threadId);
// the facade's fast path CASes it into lock words.
Napi::Value OwnerIdOf(const Napi::CallbackInfo& info) {
  Context* ctx = Context::Get(info.Env());
  const uint32_t js_thread_id =
      info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 0;
  if (!ctx->EnsureOwner(info.Env(), js_thread_id)) return Napi::Value();
  return Napi::Number::New(info.Env(), ctx->owner());
}

// unparked(): the facade finished with one parked request (keeps the loop ref count right).
Napi::Value Unparked(const Napi::CallbackInfo& info) {
  Context::Get(info.Env())->Unparked();
  return info.Env().Undefined();
}

// shutdownWaits(): the process is exiting (main thread, process 'exit'): every blocking wait
// of every thread ends now (kClosed), so Node can join workers blocked in acquireSync/getSync.
Napi::Value ShutdownWaits(const Napi::CallbackInfo& info) {
  ShutdownAllWaits();
  return info.Env().Undefined();
}

// A no-op used by the benchmarks to measure the N-API call floor through this binding.
Napi::Value Noop(const Napi::CallbackInfo& info) { return info.Env().Undefined(); }

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData(data);
  // Classes: Region (SharedMemory), Mutex, Queue (ShmQueue).
  // Functions: setErrorFactory, setGrantHandler, ownerId, unparked, shutdownWaits, noop.
  Napi::Function region = RegionWrap::Define(env);
  data->region_ctor = Napi::Persistent(region);
  exports.Set("Region", region);
  Napi::Function mutex = MutexWrap::Define(env);
  data->mutex_ctor = Napi::Persistent(mutex);
  exports.Set("Mutex", mutex);
  Napi::Function queue = QueueWrap::Define(env);
  data->queue_ctor = Napi::Persistent(queue);
  exports.Set("Queue", queue);
  exports.Set("RwLock", RwLockWrap::Define(env));  // issue 13: reader/writer lock
  exports.Set("setGrantHandler", Napi::Function::New<SetGrantHandler>(env, "setGrantHandler"));
  exports.Set("ownerId", Napi::Function::New<OwnerIdOf>(env, "ownerId"));
  exports.Set("unparked", Napi::Function::New<Unparked>(env, "unparked"));
  exports.Set("setErrorFactory", Napi::Function::New<SetErrorFactory>(env, "setErrorFactory"));
  exports.Set("reapSegment", Napi::Function::New<Attachment::JS_reap>(env, "reapSegment"));
  exports.Set("shutdownWaits", Napi::Function::New<ShutdownWaits>(env, "shutdownWaits"));
  exports.Set("noop", Napi::Function::New<Noop>(env, "noop"));
  return exports;
}

}  // namespace

}  // namespace shmsync

static Napi::Object InitShmsync(Napi::Env env, Napi::Object exports) {
  return shmsync::Init(env, exports);
}

NODE_API_MODULE(shmsync, InitShmsync)
