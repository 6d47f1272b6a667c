// JS class `Queue` (native side of src/queue/queue.ts). JS thread only.
//
// JS: new Queue(segmentName, openMode, perm, capacity, maxMessage)
//   .setBuffers(outbox: Uint8Array, inbox: Uint8Array) -- staging memory, attached once (and
//     again whenever the facade grows it) so the hot calls below pass only numbers. Only the
//     references are kept: every call takes the arrays' current data pointer and length again,
//     so a buffer detached meanwhile (transferred, or its ArrayBuffer freed) is seen as empty
//     and refused, never written.
//   .put(count, bytes, offset) -> written >= 0 | -status (framed records from outbox+offset)
//   .get(maxCount) -> count >= 0 | -status (framed records copied into inbox)
//   .getInto(target: Uint8Array, maxCount) -> as get, into `target` (the drain batch memory)
//   .detach(ab: ArrayBuffer) -> detaches a batch buffer (drainSync: its views become unusable)
//   .state() -> ArrayBuffer over the ring's first three lines (positions, counters, config),
//     for JS polling with Atomics (read only; undefined where external buffers are forbidden)
//   .waitData(timeoutMs) / .waitSpace(bytes, timeoutMs) -> status (blocking)
//   .watchData() / .watchSpace(bytes) -> parker request id, or 0 when ready/closed already
//   .cancel(id) -> -1 | status, .close(), .closeHandle(), .info(), .capacity, .maxMessage
// The facade frames records and validates arguments; native re-validates framing and treats
// the ring as untrusted (ring.cc).
#pragma once

#include <napi.h>

#include <memory>

#include "attachment.h"
#include "external-buffer.h"

#include "../core/ring.h"
#include "../core/shm-region.h"

namespace shmsync {

class Context;

class QueueWrap : public Napi::ObjectWrap<QueueWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit QueueWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value JS_setBuffers(const Napi::CallbackInfo& info);
  Napi::Value JS_put(const Napi::CallbackInfo& info);
  Napi::Value JS_get(const Napi::CallbackInfo& info);
  Napi::Value JS_getInto(const Napi::CallbackInfo& info);
  Napi::Value JS_detach(const Napi::CallbackInfo& info);
  Napi::Value JS_state(const Napi::CallbackInfo& info);
  Napi::Value JS_waitData(const Napi::CallbackInfo& info);
  Napi::Value JS_waitSpace(const Napi::CallbackInfo& info);
  Napi::Value JS_watchData(const Napi::CallbackInfo& info);
  Napi::Value JS_watchSpace(const Napi::CallbackInfo& info);
  Napi::Value JS_cancel(const Napi::CallbackInfo& info);
  Napi::Value JS_close(const Napi::CallbackInfo& info);
  Napi::Value JS_lease(const Napi::CallbackInfo& info);  // lifetime: attachment.h
  Napi::Value JS_attached(const Napi::CallbackInfo& info);
  Napi::Value JS_closeHandle(const Napi::CallbackInfo& info);
  Napi::Value JS_info(const Napi::CallbackInfo& info);
  Napi::Value JS_capacity(const Napi::CallbackInfo& info);
  Napi::Value JS_maxMessage(const Napi::CallbackInfo& info);

  bool CheckOpen(Napi::Env env);
  RingState* ring() const { return reinterpret_cast<RingState*>(region_->payload()); }
  // The attached array's memory as of now (null/0 when none is attached or it was detached).
  static void Staging(const Napi::Reference<Napi::Uint8Array>& ref, uint8_t** data,
                      uint64_t* length);

  std::shared_ptr<ShmRegion> region_;
  Napi::Value Take(Napi::Env env, uint8_t* out, uint64_t out_len, uint32_t max_count);

  std::unique_ptr<Attachment> attachment_;  // attached lifetime (null after close)
  Context* context_ = nullptr;
  Napi::Reference<Napi::Uint8Array> outbox_ref_;
  Napi::Reference<Napi::Uint8Array> inbox_ref_;
  ExternalView state_view_;  // JS's view of the ring lines, released on closeHandle()
  // Spin budgets of this handle's blocking waits (JS thread only): ring.h SpinBudget.
  SpinBudget data_budget_;
  SpinBudget space_budget_;
  // Read once from the ring at open and validated (OpenRing); the shared copy is never used
  // as a bound again.
  RingConfig config_{0, 0};
};

}  // namespace shmsync
