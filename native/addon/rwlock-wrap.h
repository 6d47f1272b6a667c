// JS class `RwLock` (native side of src/rwlock/rw-lock.ts). JS thread only.
//
// JS: new RwLock(segmentName, openMode, perm, lifetime, label: Buffer)
//   .request(mode, flags) -> status | slot << 8      (mode 0 shared, 1 exclusive; flags rw-lock.h)
//   .poll(slot) / .withdraw(slot) / .release(slot) -> status
//   .wait(slot, timeoutMs) -> status                   (blocking; ends early on terminate/exit)
//   .watch(slot) -> [status, seqWatchId, deadmanWatchId]: status WouldBlock (10) when parked;
//       completions arrive through setGrantHandler like the Mutex's grants
//   .watchEntry(slot) -> parker id completing when the entry's state changes (steal), or 0;
//       not counted as parked: it does not keep the event loop alive (onParkedUnref)
//   .cancel(id) -> -1 | status;  .snapshot() -> entries;  .label() -> Buffer;  .info() -> object
//   .created, .close(), .lease(ms), .consumeHandoff(), .attached
// The facade has validated arguments; statuses (native/core/status.h) are returned, not thrown.
#pragma once

#include <napi.h>

#include <memory>

#include "attachment.h"

#include "../core/rw-lock-layout.h"
#include "../core/shm-region.h"

namespace shmsync {

class Context;

class RwLockWrap : public Napi::ObjectWrap<RwLockWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit RwLockWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value JS_request(const Napi::CallbackInfo& info);
  Napi::Value JS_poll(const Napi::CallbackInfo& info);
  Napi::Value JS_wait(const Napi::CallbackInfo& info);
  Napi::Value JS_withdraw(const Napi::CallbackInfo& info);
  Napi::Value JS_release(const Napi::CallbackInfo& info);
  Napi::Value JS_watch(const Napi::CallbackInfo& info);
  Napi::Value JS_watchEntry(const Napi::CallbackInfo& info);
  Napi::Value JS_cancel(const Napi::CallbackInfo& info);
  Napi::Value JS_snapshot(const Napi::CallbackInfo& info);
  Napi::Value JS_label(const Napi::CallbackInfo& info);
  Napi::Value JS_info(const Napi::CallbackInfo& info);
  Napi::Value JS_created(const Napi::CallbackInfo& info);
  Napi::Value JS_close(const Napi::CallbackInfo& info);
  Napi::Value JS_lease(const Napi::CallbackInfo& info);
  Napi::Value JS_consumeHandoff(const Napi::CallbackInfo& info);
  Napi::Value JS_attached(const Napi::CallbackInfo& info);

  bool CheckOpen(Napi::Env env);
  // The slot argument, or kRwEntries (never valid) when missing or out of range.
  static uint32_t SlotArg(const Napi::CallbackInfo& info);
  RwLockState* state() const { return reinterpret_cast<RwLockState*>(region_->payload()); }

  std::shared_ptr<ShmRegion> region_;
  std::unique_ptr<Attachment> attachment_;
  Context* context_ = nullptr;
  bool created_ = false;
};

}  // namespace shmsync
