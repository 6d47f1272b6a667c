// JS class `Mutex` (native side of src/lock/mutex.ts). JS thread only.
//
// JS: new Mutex(segmentName, openMode, perm, policy)
//   .state() -> ArrayBuffer over MutexState (the facade's Atomics fast path)
//   .lock(timeoutMs) / .tryLock() / .unlock() / .markConsistent() -> status number
//   .park() -> request id; grants arrive through setGrantHandler; .cancel(id) -> -1 | status
//   .info() -> object, .policy, .created, .close()
// The facade has validated arguments; statuses (native/core/status.h) are returned, not thrown.
#pragma once

#include <napi.h>

#include <memory>

#include "attachment.h"
#include "external-buffer.h"

#include "../core/mutex-layout.h"
#include "../core/shm-region.h"

namespace shmsync {

class Context;

class MutexWrap : public Napi::ObjectWrap<MutexWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit MutexWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value JS_state(const Napi::CallbackInfo& info);
  Napi::Value JS_lock(const Napi::CallbackInfo& info);
  Napi::Value JS_tryLock(const Napi::CallbackInfo& info);
  Napi::Value JS_unlock(const Napi::CallbackInfo& info);
  Napi::Value JS_adopt(const Napi::CallbackInfo& info);
  Napi::Value JS_markConsistent(const Napi::CallbackInfo& info);
  Napi::Value JS_park(const Napi::CallbackInfo& info);
  Napi::Value JS_cancel(const Napi::CallbackInfo& info);
  Napi::Value JS_info(const Napi::CallbackInfo& info);
  Napi::Value JS_policy(const Napi::CallbackInfo& info);
  Napi::Value JS_created(const Napi::CallbackInfo& info);
  Napi::Value JS_close(const Napi::CallbackInfo& info);
  Napi::Value JS_lease(const Napi::CallbackInfo& info);  // lifetime: attachment.h
  Napi::Value JS_consumeHandoff(const Napi::CallbackInfo& info);
  Napi::Value JS_attached(const Napi::CallbackInfo& info);

  bool CheckOpen(Napi::Env env);
  MutexState* state() const { return reinterpret_cast<MutexState*>(region_->payload()); }

  std::shared_ptr<ShmRegion> region_;
  std::unique_ptr<Attachment> attachment_;  // attached lifetime (null after close)
  ExternalView buffer_;                     // JS's view of the state, released on close()
  Context* context_ = nullptr;
  bool created_ = false;
};

}  // namespace shmsync
