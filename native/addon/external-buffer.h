// External ArrayBuffers over a mapping (JS thread only).
#pragma once

#include <napi.h>

#include <memory>

#include "../core/shm-region.h"

namespace shmsync {

// Returns an ArrayBuffer over [offset, offset+length) of the region's payload without
// copying. The buffer owns a reference to the region, so the mapping outlives every view.
// Returns an empty value (with no pending exception) when the runtime forbids external
// buffers (V8 sandbox); callers then fall back to copying reads/writes.
Napi::Value NewExternalArrayBuffer(Napi::Env env, const std::shared_ptr<ShmRegion>& region,
                                   uint64_t offset, uint64_t length);

}  // namespace shmsync
