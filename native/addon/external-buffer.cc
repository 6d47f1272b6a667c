#include "external-buffer.h"

namespace shmsync {

Napi::Value NewExternalArrayBuffer(Napi::Env env, const std::shared_ptr<ShmRegion>& region,
                                   uint64_t offset, uint64_t length) {
  auto* keep = new std::shared_ptr<ShmRegion>(region);
  napi_value ab = nullptr;
  napi_status st = napi_create_external_arraybuffer(
      env, region->payload() + offset, static_cast<size_t>(length),
      [](napi_env, void*, void* hint) { delete static_cast<std::shared_ptr<ShmRegion>*>(hint); },
      keep, &ab);
  if (st != napi_ok) {
    delete keep;
    // napi_no_external_buffers_allowed (or any failure): clear and let the caller fall back.
    if (env.IsExceptionPending()) env.GetAndClearPendingException();
    return Napi::Value();
  }
  return Napi::Value(env, ab);
}

}  // namespace shmsync
