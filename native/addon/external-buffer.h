// External ArrayBuffers over a mapping (JS thread only).
#pragma once

#include <napi.h>

#include <memory>

#include "../core/shm-region.h"

namespace shmsync {

// Returns an ArrayBuffer over [offset, offset+length) of the region's payload without
// copying. The buffer owns a reference to the region, so the mapping outlives every view.
// Returns an empty value (with no pending exception) when the runtime forbids external
// buffers (V8 sandbox); callers then fall back to copying reads/writes. `keep_out`, if given,
// receives the buffer's reference (owned by the buffer's finalizer; see ExternalView).
Napi::Value NewExternalArrayBuffer(Napi::Env env, const std::shared_ptr<ShmRegion>& region,
                                   uint64_t offset, uint64_t length,
                                   std::shared_ptr<ShmRegion>** keep_out = nullptr);

// The one external ArrayBuffer a wrap hands to JS (created on first Get). Release() detaches it
// and drops its reference to the mapping at once: a closed handle unmaps now, not when the
// garbage collector gets to the buffer (a loop of create/use/close otherwise piled up mappings
// until vm.max_map_count and V8 ran out of memory). JS thread only.
class ExternalView {
 public:
  // The buffer, created on first use; empty when external buffers are forbidden.
  Napi::Value Get(Napi::Env env, const std::shared_ptr<ShmRegion>& region, uint64_t offset,
                  uint64_t length);
  void Release();
  bool empty() const { return ref_.IsEmpty(); }

 private:
  Napi::Reference<Napi::ArrayBuffer> ref_;
  // Valid while ref_ holds the buffer (its finalizer, which deletes it, cannot run before).
  std::shared_ptr<ShmRegion>* keep_ = nullptr;
};

}  // namespace shmsync
