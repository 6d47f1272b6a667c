// The attachment a JS handle (Region, Mutex, Queue wrap) holds on an attached-lifetime segment
// (native/core/attach.h). Released exactly once: by the handle's close(), by its finalizer
// (garbage collection), by its JS context's teardown (worker exit) or by process exit
// (std::atexit), whichever comes first. A handle on a persistent segment holds nothing.
//
// Thread-safety: Release() may race between a JS thread and the exit hook; an atomic flag makes
// the first caller the only one. The registry of live attachments is guarded by a mutex (it is
// touched only when a handle of an attached segment is opened or released - never on a lock,
// put or get path).
#pragma once

#include <napi.h>

#include <atomic>
#include <cstdint>
#include <memory>

#include "../core/shm-region.h"

namespace shmsync {

class Attachment {
 public:
  // Takes over the attachment AcquireWithLifetime made on `region` (if it is attached).
  static std::unique_ptr<Attachment> Hold(napi_env env, std::shared_ptr<ShmRegion> region);
  ~Attachment();
  Attachment(const Attachment&) = delete;
  Attachment& operator=(const Attachment&) = delete;

  // Drops the attachment (JS thread of the handle, or an exit hook: then `from_js` is false and
  // the external-memory report is abandoned with the env). Returns -1 if this unlinked the name,
  // else the milliseconds the segment lingers for a hand-off nobody opened yet (0: other handles
  // remain or persistent).
  int64_t Release(bool from_js = false);
  // Records a hand-off of this handle's reference (attach.h Lease).
  bool Lease(uint64_t lease_ms);
  // A hand-off received through this attachment (attach.h ConsumeHandoff).
  bool ConsumeHandoff();
  bool attached() const { return attached_; }

  // Module functions: reapSegment(segmentName, ino, unmapped, wordBefore?: bigint) -> 1 | 0 | -1.
  static Napi::Value JS_reap(const Napi::CallbackInfo& info);

 private:
  Attachment(napi_env env, std::shared_ptr<ShmRegion> region, bool attached);
  static void ReleaseEnv(void* env);
  static void ReleaseAll();

  napi_env env_;
  std::shared_ptr<ShmRegion> region_;
  bool attached_;
  std::atomic<bool> released_{false};
  // Bytes reported to V8 as external memory while attached (JS thread only): a segment costs
  // kernel memory V8 cannot see; reporting it makes collections - and with them the release
  // of dropped handles - keep pace with a loop that creates anonymous objects.
  int64_t external_ = 0;
  void Unreport(napi_env env);
};

// The JS values of a wrap's close() and lease() (shared by the three wraps).
Napi::Value CloseResult(Napi::Env env, std::unique_ptr<Attachment>* attachment);
Napi::Value LeaseResult(const Napi::CallbackInfo& info, Attachment* attachment);

}  // namespace shmsync
