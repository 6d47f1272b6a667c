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

// init({ threadId, createError, dispatch }): the one handshake, once per JS context, when
// src/addon/binding.ts loads the addon (before anything can park or throw a library error).
//   threadId     Node's worker threadId: recorded with this context's OwnerId when it is claimed
//   createError  (code, message, errno, syscall) => Error: builds library errors
//   dispatch     (requestId, status) => void: parker completions, on this JS thread
//   wake         optional: this context's process.env.SHMSYNC_WAKE ('parker': no direct watches).
//                From JS, not getenv: a worker's environment (new Worker(f, { env })) is its own.
Napi::Value InitContext(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o =
      info.Length() > 0 && info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object();
  Napi::Value thread_id = o.IsEmpty() ? Napi::Value() : o.Get("threadId");
  Napi::Value create_error = o.IsEmpty() ? Napi::Value() : o.Get("createError");
  Napi::Value dispatch = o.IsEmpty() ? Napi::Value() : o.Get("dispatch");
  if (o.IsEmpty() || !thread_id.IsNumber() || !create_error.IsFunction() ||
      !dispatch.IsFunction()) {
    Napi::TypeError::New(env, "init({ threadId, createError, dispatch })")
        .ThrowAsJavaScriptException();
    return Napi::Value();
  }
  Napi::Value wake = o.Get("wake");
  const bool parker_only = wake.IsString() && wake.As<Napi::String>().Utf8Value() == "parker";
  GetAddonData(env)->create_error = Napi::Persistent(create_error.As<Napi::Function>());
  if (!Context::Get(env)->Init(env, thread_id.As<Napi::Number>().Uint32Value(),
                               dispatch.As<Napi::Function>(), parker_only))
    return Napi::Value();
  return env.Undefined();
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

// waitStats(): this context's outstanding parked requests and whether queue watches sleep on
// its own io_uring (tests and diagnostics).
Napi::Value WaitStats(const Napi::CallbackInfo& info) {
  Context* ctx = Context::Get(info.Env());
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("outstanding", Napi::Number::New(info.Env(), ctx->outstanding()));
  o.Set("directWatches", Napi::Boolean::New(info.Env(), ctx->direct_watches()));
  return o;
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
  // Functions: init, ownerId, waitStats, reapSegment, shutdownWaits, noop.
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
  exports.Set("init", Napi::Function::New<InitContext>(env, "init"));
  exports.Set("ownerId", Napi::Function::New<OwnerIdOf>(env, "ownerId"));
  exports.Set("waitStats", Napi::Function::New<WaitStats>(env, "waitStats"));
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
