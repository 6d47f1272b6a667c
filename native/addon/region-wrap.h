// JS class `Region` behind SharedMemory (src/shared-memory/shared-memory.ts). JS thread only.
//
// JS: new Region(segmentName, kind, payloadSize, openMode, perm)
//     .size, .created, .buffer() -> ArrayBuffer | undefined, .read(offset, u8), .write(offset, u8),
//     .close(), Region.unlink(segmentName)
// Arguments are validated by the TypeScript facade; this layer only re-checks types so a
// direct caller cannot crash the process.
#pragma once

#include <napi.h>

#include <memory>

#include "attachment.h"
#include "external-buffer.h"

#include "../core/shm-region.h"

namespace shmsync {

class RegionWrap : public Napi::ObjectWrap<RegionWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit RegionWrap(const Napi::CallbackInfo& info);

 private:
  Napi::Value JS_size(const Napi::CallbackInfo& info);
  Napi::Value JS_created(const Napi::CallbackInfo& info);
  Napi::Value JS_buffer(const Napi::CallbackInfo& info);
  Napi::Value JS_read(const Napi::CallbackInfo& info);
  Napi::Value JS_write(const Napi::CallbackInfo& info);
  Napi::Value JS_close(const Napi::CallbackInfo& info);
  Napi::Value JS_lease(const Napi::CallbackInfo& info);  // lifetime: attachment.h
  Napi::Value JS_attached(const Napi::CallbackInfo& info);
  static Napi::Value JS_unlink(const Napi::CallbackInfo& info);

  bool CheckOpen(Napi::Env env);
  bool CopyArgs(const Napi::CallbackInfo& info, uint64_t* offset, Napi::Uint8Array* view);

  std::shared_ptr<ShmRegion> region_;
  std::unique_ptr<Attachment>
      attachment_;       // attached lifetime (null after close)  // null after close()
  ExternalView buffer_;  // the external buffer JS sees, released on close()
  bool created_ = false;
};

}  // namespace shmsync
